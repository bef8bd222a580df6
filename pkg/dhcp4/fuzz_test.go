package dhcp4

import (
	"net"
	"net/netip"
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
				if _, err := dhcpv4.FromBytes(res.Reply.ToBytes()); err != nil {
					t.Fatalf("reply does not parse back: %v", err)
				}
			}
		}
	})
}
