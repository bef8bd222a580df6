package dhcp4

import (
	"bytes"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandle feeds arbitrary bytes through the packet parser and the
// engine, as received on a direct and on a relayed path: malformed input
// must give a drop with a reason, never a panic.
func FuzzHandle(f *testing.F) {
	seeds := []*dhcpv4.DHCPv4{
		pkt(dhcpv4.MessageTypeDiscover, macA, withPRL(1, 3, 6, 15, 51, 54)),
		pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optServerID, srvIP.AsSlice()), withOpt(optRequestedIP, ip("192.0.2.100"))),
		pkt(dhcpv4.MessageTypeRequest, macB, withOpt(optRequestedIP, ip("192.0.2.100"))),
		pkt(dhcpv4.MessageTypeRelease, macA),
		pkt(dhcpv4.MessageTypeDecline, macA, withOpt(optRequestedIP, ip("192.0.2.100"))),
		pkt(dhcpv4.MessageTypeInform, macA, withOpt(optAgentInfo, []byte{1, 1, 'x', 19, 0, 5, 4, 10, 0, 0, 0})),
		pkt(dhcpv4.MessageTypeDiscover, macA, withOpt(optClientID, []byte{0xff, 0, 0, 0, 1, 0, 1}), withOpt(optSubnetSelect, ip("172.16.1.0"))),
		pkt(dhcpv4.MessageTypeDiscover, macA, withOpt(optAgentInfo, []byte{5, 9})), // truncated sub-option
		pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optServerID, []byte{1, 2})),   // short server-id
	}
	for _, p := range seeds {
		f.Add(p.ToBytes(), false)
		f.Add(p.ToBytes(), true)
	}
	f.Add([]byte{}, false)
	f.Add([]byte{1, 1, 6, 0}, true)
	f.Fuzz(func(t *testing.T, b []byte, viaRelay bool) {
		h := newHarness(t, testNetwork())
		req := Request{
			Iface: "eth0", IfaceAddrs: eth0, Src: netip.MustParseAddrPort("0.0.0.0:68"),
			SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Dst: bcast,
		}
		if viaRelay {
			req.Src, req.Dst = netip.MustParseAddrPort("10.0.0.1:67"), srvIP
		}
		// Twice, so the second pass meets whatever lease the first made.
		for range 2 {
			res := h.e.HandleBytes(b, req)
			if res.Reply == nil && res.Reason == "" {
				t.Fatal("no reply and no reason")
			}
			if res.Reply != nil {
				if _, err := dhcpv4.FromBytes(Marshal(res.Reply)); err != nil {
					t.Fatalf("reply does not parse back: %v", err)
				}
			}
		}
	})
}

// FuzzCodec checks Parse and Marshal against the library they stand in
// for: the same messages accepted, the same fields and options decoded,
// the same bytes encoded (into a fresh or a reused buffer), and a decoded
// message that does not change when the input buffer is reused.
func FuzzCodec(f *testing.F) {
	for _, b := range codecSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := dhcpv4.FromBytes(b)
		got, err := Parse(b)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("Parse error %v, library's %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse\n%v\nlibrary\n%v", got, want)
		}
		clear(b) // the server reuses its receive buffer
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse's message changed with its input buffer")
		}
		m, w := Marshal(got), want.ToBytes()
		if !bytes.Equal(m, w) {
			t.Fatalf("Marshal\n%x\nlibrary\n%x", m, w)
		}
		// A reused buffer holding an earlier, longer reply must not show
		// through.
		dirty := bytes.Repeat([]byte{0xa5}, 2*len(m))
		if a := AppendMarshal(dirty, got); !bytes.Equal(a, m) {
			t.Fatalf("AppendMarshal into a used buffer\n%x\nMarshal\n%x", a, m)
		}
	})
}

// codecSeeds are messages of every shape the codec meets: queries and
// replies, relay agent information, long and empty options, repeats,
// server and file names, and broken ones.
func codecSeeds() [][]byte {
	long := bytes.Repeat([]byte{'x'}, 300)
	msgs := []*dhcpv4.DHCPv4{
		pkt(dhcpv4.MessageTypeDiscover, macA, withPRL(1, 3, 6, 15, 51, 54)),
		pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optServerID, srvIP.AsSlice()), withOpt(optRequestedIP, ip("192.0.2.100"))),
		pkt(dhcpv4.MessageTypeInform, macA, withOpt(optAgentInfo, []byte{1, 1, 'x', 19, 0, 5, 4, 10, 0, 0, 0}), withOpt(optHostname, []byte("h"))),
		pkt(dhcpv4.MessageTypeOffer, macB, withOpt(optDomainName, long), withOpt(250, nil)),
	}
	named := pkt(dhcpv4.MessageTypeAck, macA)
	named.ServerHostName, named.BootFileName = "tftp.example", "pxelinux.0"
	named.GatewayIPAddr, named.HopCount = net.IPv4(10, 0, 0, 1), 1
	msgs = append(msgs, named)
	var out [][]byte
	for _, m := range msgs {
		out = append(out, m.ToBytes())
	}
	// A repeated option (concatenated), Pad between options, no End,
	// a truncated option, a bad cookie, a short header, a long chaddr.
	base := pkt(dhcpv4.MessageTypeDiscover, macA).ToBytes()[:headerLen+cookieLen]
	out = append(out,
		append(slices.Clone(base), 12, 2, 'a', 'b', 0, 0, 12, 1, 'c', 53, 1, 1, 255),
		append(slices.Clone(base), 53, 1, 1),
		append(slices.Clone(base), 53, 5, 1),
		append(slices.Clone(base), 53),
		append(append(slices.Clone(base[:headerLen]), 1, 2, 3, 4), 255),
		base[:100],
	)
	wide := slices.Clone(out[0])
	wide[2] = 40
	return append(out, wide)
}
