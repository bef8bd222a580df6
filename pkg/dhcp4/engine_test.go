package dhcp4

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/twinleaf/twinleaf/pkg/alloc"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

func TestDiscoverOffer(t *testing.T) {
	h := newHarness(t, testNetwork())
	res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA, withPRL(optRouters), withOpt(optClientID, cidA))))
	r := res.Reply
	if r == nil {
		t.Fatalf("no OFFER: %s", res.Reason)
	}
	yi := addr4(r.YourIPAddr)
	if got, want := msgType(res), "OFFER"; got != want {
		t.Fatalf("type %s, want %s", got, want)
	}
	if yi.String() != "192.0.2.100" {
		t.Errorf("yiaddr %s, want 192.0.2.100 (first address, iterative)", yi)
	}
	checks := map[uint8][]byte{
		optSubnetMask:  {255, 255, 255, 0},
		optLeaseTime:   u32(3600),
		optServerID:    srvIP.AsSlice(),
		optRouters:     ip("192.0.2.1"),
		optDNS:         ip("192.0.2.53"), // basic option: sent though not requested
		optDomainName:  []byte("example.org"),
		optClientID:    cidA, // echo-client-id
		optMessageType: {byte(dhcpv4.MessageTypeOffer)},
	}
	for code, want := range checks {
		if got := r.Options[code]; !bytes.Equal(got, want) {
			t.Errorf("option %d = %v, want %v", code, got, want)
		}
	}
	if _, stored := h.store.Get(yi); len(res.Changes) != 0 || stored {
		t.Errorf("an OFFER stored a lease: %v", res.Changes)
	}
	if res.Dst != netip.AddrPortFrom(yi, 68) || res.Src != srvIP || !bytes.Equal(res.DstMAC, macA) {
		t.Errorf("addressed to %s %s from %s, want %s:68 %s from %s", res.Dst, res.DstMAC, res.Src, yi, macA, srvIP)
	}
	for _, name := range []string{"pkt4-received", "pkt4-discover-received", "pkt4-offer-sent", "pkt4-sent"} {
		if h.stats.get(name) != 1 {
			t.Errorf("%s = %d, want 1", name, h.stats.get(name))
		}
	}
	// A second client is not offered the address held for the first.
	res2 := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macB)))
	if addr4(res2.Reply.YourIPAddr) == yi {
		t.Errorf("two concurrent DISCOVERs were offered %s", yi)
	}
}

func TestSelectingRequest(t *testing.T) {
	h := newHarness(t, testNetwork())
	yi := h.lease(macA, withOpt(optClientID, cidA))
	l, ok := h.store.Get(yi)
	if !ok {
		t.Fatalf("no lease stored for %s", yi)
	}
	want := lease.Lease{Addr: yi, HWAddr: macA, ClientID: cidA, ValidLft: 3600, CLTT: t0, SubnetID: 1}
	if l.Addr != want.Addr || !bytes.Equal(l.HWAddr, want.HWAddr) || !bytes.Equal(l.ClientID, want.ClientID) ||
		l.ValidLft != want.ValidLft || !l.CLTT.Equal(want.CLTT) || l.SubnetID != 1 || l.State != lease.StateDefault {
		t.Errorf("lease = %+v, want %+v", l, want)
	}
	for name, want := range map[string]int64{
		"subnet[1].assigned-addresses":            1,
		"subnet[1].cumulative-assigned-addresses": 1,
		"cumulative-assigned-addresses":           1,
		"subnet[1].pool[0].assigned-addresses":    1,
		"pkt4-ack-sent":                           1,
		"pkt4-request-received":                   1,
	} {
		if got := h.stats.get(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	// The same client discovering again gets its lease back.
	res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA, withOpt(optClientID, cidA))))
	if addr4(res.Reply.YourIPAddr) != yi {
		t.Errorf("returning client offered %s, want %s", addr4(res.Reply.YourIPAddr), yi)
	}
}

// TestRequestStates covers INIT-REBOOT, RENEWING, REBINDING and the NAK and
// drop decisions of Kea 3.x.
func TestRequestStates(t *testing.T) {
	wrongNet := []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")}
	tests := []struct {
		name          string
		authoritative bool
		leased        bool // macA holds 192.0.2.100 first
		req           func() *Request
		want          string
		wantDst       string
	}{
		{
			name: "init-reboot known client", leased: true,
			req: func() *Request {
				return direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optRequestedIP, ip("192.0.2.100"))))
			},
			want: "ACK", wantDst: "192.0.2.100:68",
		},
		{
			name: "init-reboot known client, wrong address", leased: true,
			req: func() *Request {
				return direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optRequestedIP, ip("192.0.2.150"))))
			},
			want: "NAK", wantDst: "255.255.255.255:68",
		},
		{
			name: "init-reboot unknown client, not authoritative",
			req: func() *Request {
				return direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optRequestedIP, ip("192.0.2.150"))))
			},
			want: "drop",
		},
		{
			name: "init-reboot unknown client, authoritative", authoritative: true,
			req: func() *Request {
				return direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optRequestedIP, ip("192.0.2.150"))))
			},
			want: "NAK", wantDst: "255.255.255.255:68",
		},
		{
			name: "init-reboot on a wrong network, not authoritative",
			req: func() *Request {
				r := direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optRequestedIP, ip("192.0.2.100"))))
				r.Iface, r.IfaceAddrs, r.Dst = "eth9", wrongNet, netip.MustParseAddr("198.51.100.1")
				return r
			},
			want: "drop",
		},
		{
			name: "init-reboot on a wrong network, authoritative", authoritative: true,
			req: func() *Request {
				r := direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optRequestedIP, ip("192.0.2.100"))))
				r.Iface, r.IfaceAddrs, r.Dst = "eth9", wrongNet, netip.MustParseAddr("198.51.100.1")
				return r
			},
			want: "NAK", wantDst: "255.255.255.255:68",
		},
		{
			name: "renewing, unicast", leased: true,
			req:  func() *Request { return unicast(pkt(dhcpv4.MessageTypeRequest, macA), "192.0.2.100") },
			want: "ACK", wantDst: "192.0.2.100:68",
		},
		{
			name: "rebinding, broadcast", leased: true,
			req: func() *Request {
				r := unicast(pkt(dhcpv4.MessageTypeRequest, macA), "192.0.2.100")
				r.Dst = bcast
				return r
			},
			want: "ACK", wantDst: "192.0.2.100:68",
		},
		{
			name: "rebinding on an unknown network",
			req: func() *Request {
				r := unicast(pkt(dhcpv4.MessageTypeRequest, macA), "198.51.100.7")
				r.Dst, r.Iface, r.IfaceAddrs = bcast, "eth9", wrongNet
				return r
			},
			want: "drop",
		},
		{
			name: "renewing another client's lease", leased: true,
			req:  func() *Request { return unicast(pkt(dhcpv4.MessageTypeRequest, macB), "192.0.2.100") },
			want: "NAK", wantDst: "192.0.2.100:68",
		},
		{
			name: "selecting an address outside every pool",
			req: func() *Request {
				return direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optServerID, srvIP.AsSlice()),
					withOpt(optRequestedIP, ip("192.0.2.20"))))
			},
			want: "drop",
		},
		{
			name: "selecting with another server's identifier",
			req: func() *Request {
				return direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optServerID, ip("192.0.2.2")),
					withOpt(optRequestedIP, ip("192.0.2.100"))))
			},
			want: "drop",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNetwork()
			n.Authoritative = tt.authoritative
			for _, s := range n.Subnets {
				s.Authoritative = tt.authoritative
			}
			h := newHarness(t, n)
			if tt.leased {
				if got := h.lease(macA); got.String() != "192.0.2.100" {
					t.Fatalf("setup lease %s", got)
				}
				h.now = h.now.Add(time.Minute)
			}
			res := h.e.Handle(tt.req())
			if got := msgType(res); got != tt.want {
				t.Fatalf("got %s (%s), want %s", got, res.Reason, tt.want)
			}
			if tt.wantDst != "" && res.Dst.String() != tt.wantDst {
				t.Errorf("sent to %s, want %s", res.Dst, tt.wantDst)
			}
			if tt.want == "NAK" && !addr4(res.Reply.YourIPAddr).IsUnspecified() {
				t.Errorf("NAK with yiaddr %s", addr4(res.Reply.YourIPAddr))
			}
			if tt.want == "ACK" {
				l, _ := h.store.Get(addr4(res.Reply.YourIPAddr))
				if l == nil || !l.CLTT.Equal(h.now) || len(res.Changes) != 1 {
					t.Errorf("ACK without an extended lease: %+v, changes %d", l, len(res.Changes))
				}
			}
		})
	}
}

func TestRelease(t *testing.T) {
	for _, affinity := range []bool{true, false} {
		t.Run(fmt.Sprintf("affinity=%v", affinity), func(t *testing.T) {
			n := testNetwork()
			n.Affinity = affinity
			h := newHarness(t, n)
			yi := h.lease(macA)
			// Another client's RELEASE changes nothing.
			if res := h.e.Handle(unicast(pkt(dhcpv4.MessageTypeRelease, macB), yi.String())); len(res.Changes) != 0 {
				t.Fatalf("foreign RELEASE changed %v", res.Changes)
			}
			res := h.e.Handle(unicast(pkt(dhcpv4.MessageTypeRelease, macA), yi.String()))
			if res.Reply != nil || len(res.Changes) != 1 {
				t.Fatalf("RELEASE: reply %v, changes %v (%s)", res.Reply, res.Changes, res.Reason)
			}
			l, ok := h.store.Get(yi)
			if affinity {
				if !ok || l.State != lease.StateReleased || l.ValidLft != 0 || !bytes.Equal(l.HWAddr, macA) {
					t.Fatalf("released lease = %+v, want state 3, valid 0, hwaddr kept", l)
				}
			} else if ok {
				t.Fatalf("lease kept without affinity: %+v", l)
			}
			if got := h.stats.get("subnet[1].assigned-addresses"); got != 0 {
				t.Errorf("assigned-addresses = %d after release, want 0", got)
			}
			// With affinity the client comes back to the same address.
			if affinity {
				h.now = h.now.Add(time.Hour)
				if again := h.lease(macA); again != yi {
					t.Errorf("returning client got %s, want %s", again, yi)
				}
				if got := h.stats.get("subnet[1].assigned-addresses"); got != 1 {
					t.Errorf("assigned-addresses = %d after return, want 1", got)
				}
			}
		})
	}
}

func TestDecline(t *testing.T) {
	h := newHarness(t, testNetwork())
	yi := h.lease(macA, withOpt(optClientID, cidA))
	// Without option 50 the DECLINE is an RFC violation.
	if res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDecline, macA, withOpt(optClientID, cidA)))); len(res.Changes) != 0 {
		t.Fatalf("DECLINE without option 50 changed %v", res.Changes)
	}
	res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDecline, macA, withOpt(optClientID, cidA), withOpt(optRequestedIP, yi.AsSlice()))))
	if res.Reply != nil || len(res.Changes) != 1 {
		t.Fatalf("DECLINE: reply %v changes %v (%s)", res.Reply, res.Changes, res.Reason)
	}
	l, _ := h.store.Get(yi)
	if l.State != lease.StateDeclined || len(l.HWAddr) != 0 || l.ClientID != nil || l.ValidLft != 86400 {
		t.Fatalf("declined lease = %+v", l)
	}
	if h.stats.get("declined-addresses") != 1 || h.stats.get("subnet[1].declined-addresses") != 1 {
		t.Errorf("declined-addresses not counted: %v", h.stats.m)
	}
	// Nobody, not even the decliner, is offered the address in probation.
	for _, mac := range []net.HardwareAddr{macA, macB} {
		off := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, mac, withOpt(optRequestedIP, yi.AsSlice()))))
		if addr4(off.Reply.YourIPAddr) == yi {
			t.Errorf("%s offered the declined %s", mac, yi)
		}
	}
	// After probation the address is reused and the counters move back.
	h.now = h.now.Add(86401 * time.Second)
	if got := h.lease(macB, withOpt(optRequestedIP, yi.AsSlice())); got != yi {
		t.Errorf("after probation got %s, want %s", got, yi)
	}
	if h.stats.get("declined-addresses") != 0 || h.stats.get("reclaimed-declined-addresses") != 1 {
		t.Errorf("declined counters after reuse: %v", h.stats.m)
	}
}

func TestInform(t *testing.T) {
	tests := []struct {
		name      string
		req       func() *Request
		want      string
		wantDst   string
		wantBcast bool // broadcast flag in the reply
		wantRelay bool // giaddr and option 82 kept
	}{
		{
			name:    "direct with ciaddr",
			req:     func() *Request { return unicast(pkt(dhcpv4.MessageTypeInform, macA, withPRL(optDNS)), "192.0.2.5") },
			want:    "ACK",
			wantDst: "192.0.2.5:68",
		},
		{
			name: "relayed without ciaddr",
			req: func() *Request {
				return relayed(pkt(dhcpv4.MessageTypeInform, macA, withOpt(optAgentInfo, []byte{1, 2, 'c', '1'})), "10.0.0.1")
			},
			want: "ACK", wantDst: "10.0.0.1:67", wantBcast: true, wantRelay: true,
		},
		{
			name: "relayed with ciaddr goes straight to the client",
			req: func() *Request {
				r := relayed(pkt(dhcpv4.MessageTypeInform, macA, withOpt(optAgentInfo, []byte{1, 2, 'c', '1'})), "10.0.0.1")
				r.Packet.ClientIPAddr = net.IPv4(10, 0, 0, 50).To4()
				return r
			},
			want: "ACK", wantDst: "10.0.0.50:68",
		},
		{
			name: "direct with no address at all",
			req:  func() *Request { return direct(pkt(dhcpv4.MessageTypeInform, macA)) },
			want: "drop",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testNetwork())
			req := tt.req()
			res := h.e.Handle(req)
			if got := msgType(res); got != tt.want {
				t.Fatalf("got %s (%s), want %s", got, res.Reason, tt.want)
			}
			if res.Reply == nil {
				return
			}
			r := res.Reply
			if res.Dst.String() != tt.wantDst {
				t.Errorf("sent to %s, want %s", res.Dst, tt.wantDst)
			}
			if r.IsBroadcast() != tt.wantBcast {
				t.Errorf("broadcast flag %v, want %v", r.IsBroadcast(), tt.wantBcast)
			}
			if !addr4(r.YourIPAddr).IsUnspecified() || r.Options[optLeaseTime] != nil {
				t.Errorf("INFORM reply carries a lease: yiaddr %s", addr4(r.YourIPAddr))
			}
			if addr4(r.ClientIPAddr) != addr4(req.Packet.ClientIPAddr) {
				t.Errorf("ciaddr %s, want it copied (%s)", addr4(r.ClientIPAddr), addr4(req.Packet.ClientIPAddr))
			}
			if _, has82 := r.Options[optAgentInfo]; has82 != tt.wantRelay || addr4(r.GatewayIPAddr).IsUnspecified() == tt.wantRelay {
				t.Errorf("relay data kept = %v/%s, want %v", has82, addr4(r.GatewayIPAddr), tt.wantRelay)
			}
			if len(res.Changes) != 0 {
				t.Errorf("INFORM changed leases: %v", res.Changes)
			}
		})
	}
}

func TestReservations(t *testing.T) {
	duid := []byte{0, 1, 0, 1, 0xde, 0xad}
	duidCID := append([]byte{0xff, 0, 0, 0, 1}, duid...)
	circuit := []byte("port7")
	tests := []struct {
		name string
		res  Reservation
		mods []dhcpv4.Modifier
		req  func(*dhcpv4.DHCPv4) *Request
	}{
		{name: "hw-address", res: Reservation{HWAddr: macA}},
		{name: "duid", res: Reservation{DUID: duid}, mods: []dhcpv4.Modifier{withOpt(optClientID, duidCID)}},
		{name: "client-id", res: Reservation{ClientID: cidA}, mods: []dhcpv4.Modifier{withOpt(optClientID, cidA)}},
		{
			name: "circuit-id", res: Reservation{CircuitID: circuit},
			mods: []dhcpv4.Modifier{withOpt(optAgentInfo, append([]byte{1, byte(len(circuit))}, circuit...))},
		},
		{
			name: "flex-id", res: Reservation{FlexID: []byte("flex")},
			req: func(p *dhcpv4.DHCPv4) *Request {
				r := direct(p)
				r.FlexID = []byte("flex")
				return r
			},
		},
	}
	for _, inPool := range []bool{true, false} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/in-pool=%v", tt.name, inPool), func(t *testing.T) {
				n := testNetwork()
				n.HostIdentifiers = []Identifier{HWAddress, DUID, CircuitID, ClientID, FlexID}
				r := tt.res
				r.Addr = netip.MustParseAddr("192.0.2.150")
				if !inPool {
					r.Addr = netip.MustParseAddr("192.0.2.20")
				}
				r.Hostname = "Printer"
				r.Options = []Option{opt(42, ip("192.0.2.123")...)}
				n.Subnets[0].Reservations = []*Reservation{&r}
				h := newHarness(t, n)
				mac := macA
				if tt.name != "hw-address" {
					mac = macB
				}
				p := pkt(dhcpv4.MessageTypeDiscover, mac, append(tt.mods, withPRL(42))...)
				req := direct(p)
				if tt.req != nil {
					req = tt.req(p)
				}
				res := h.e.Handle(req)
				if res.Reply == nil || addr4(res.Reply.YourIPAddr) != r.Addr {
					t.Fatalf("offer %v (%s), want %s", res.Reply, res.Reason, r.Addr)
				}
				if got := string(res.Reply.Options[optHostname]); got != "printer" {
					t.Errorf("hostname %q, want printer", got)
				}
				if got := res.Reply.Options[42]; !bytes.Equal(got, ip("192.0.2.123")) {
					t.Errorf("reservation option 42 = %v", got)
				}
				// Another client never gets the reserved address, even asking.
				other := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, net.HardwareAddr{2, 0, 0, 0, 0, 0xc},
					withOpt(optRequestedIP, r.Addr.AsSlice()))))
				if addr4(other.Reply.YourIPAddr) == r.Addr {
					t.Errorf("reserved %s offered to another client", r.Addr)
				}
			})
		}
	}
}

func TestGlobalReservation(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		n := testNetwork()
		n.Reservations = []*Reservation{{HWAddr: macA, Addr: netip.MustParseAddr("192.0.2.160")}}
		n.Subnets[0].ReservationsGlobal = enabled
		h := newHarness(t, n)
		res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA)))
		got := addr4(res.Reply.YourIPAddr).String() == "192.0.2.160"
		if got != enabled {
			t.Errorf("reservations-global=%v: offered %s", enabled, addr4(res.Reply.YourIPAddr))
		}
	}
}

func TestOptions(t *testing.T) {
	n := testNetwork()
	s := n.Subnets[0]
	n.Options = []Option{opt(40, 'g'), opt(41, 'g'), opt(42, 'g'), opt(43, 'g'), opt(44, 'g'),
		{Code: 45, Data: []byte("always"), AlwaysSend: true}, opt(46, 'g')}
	n.SharedNetworks[0].Options = nil
	s.Options = append(s.Options, opt(41, 's'), opt(42, 's'), opt(43, 's'), Option{Code: 46, NeverSend: true})
	s.Pools[0].Options = []Option{opt(42, 'p'), opt(43, 'p')}
	s.Reservations = []*Reservation{{HWAddr: macA, Addr: netip.MustParseAddr("192.0.2.110"), Options: []Option{opt(43, 'r')}}}
	h := newHarness(t, n)
	res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA, withPRL(40, 41, 42, 43, 46))))
	want := map[uint8]string{40: "g", 41: "s", 42: "p", 43: "r", 44: "", 45: "always", 46: ""}
	for code, w := range want {
		if got := string(res.Reply.Options[uint8(code)]); got != w {
			t.Errorf("option %d = %q, want %q", code, got, w)
		}
	}
	// A client that asks for nothing gets no optional options but the
	// basic ones and always-send.
	res = h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macB, withPRL())))
	for code := range 256 {
		_, got := res.Reply.Options[uint8(code)]
		wanted := map[int]bool{optSubnetMask: true, optRouters: true, optDNS: true, optDomainName: true,
			optServerID: true, optLeaseTime: true, optMessageType: true, 45: true, optPRL: false}[code]
		if got != wanted {
			t.Errorf("option %d present=%v, want %v", code, got, wanted)
		}
	}
}

func TestTimers(t *testing.T) {
	tests := []struct {
		name     string
		t1, t2   Timer
		calc     bool
		valid    uint32
		want1    uint32 // 0: absent
		want2    uint32
		leaseReq uint32
	}{
		{name: "none configured", valid: 3600},
		{name: "both configured", t1: Timer{true, 1000}, t2: Timer{true, 2000}, valid: 3600, want1: 1000, want2: 2000},
		{name: "calculated", calc: true, valid: 4000, want1: 2000, want2: 3500},
		{name: "t2 not below valid", t1: Timer{true, 1000}, t2: Timer{true, 3600}, valid: 3600, want1: 1000},
		{name: "t1 not below t2", t1: Timer{true, 2500}, t2: Timer{true, 2000}, valid: 3600, want2: 2000},
		{name: "configured beats calculated", t1: Timer{true, 100}, calc: true, valid: 4000, want1: 100, want2: 3500},
		{name: "client lease time clamped to max", valid: 3600, leaseReq: 99999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNetwork()
			s := n.Subnets[0]
			s.T1, s.T2, s.CalculateTee, s.T1Percent, s.T2Percent = tt.t1, tt.t2, tt.calc, 0.5, 0.875
			s.Valid = Lifetime{Default: tt.valid, Min: tt.valid / 2, Max: tt.valid * 2}
			h := newHarness(t, n)
			var mods []dhcpv4.Modifier
			wantLft := tt.valid
			if tt.leaseReq != 0 {
				mods = append(mods, withOpt(optLeaseTime, u32(tt.leaseReq)))
				wantLft = tt.valid * 2
			}
			r := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA, mods...))).Reply
			check := func(code uint8, want uint32) {
				got, ok := r.Options[code]
				if want == 0 && ok || want != 0 && !bytes.Equal(got, u32(want)) {
					t.Errorf("option %d = %v, want %d", code, got, want)
				}
			}
			check(optRenewalT1, tt.want1)
			check(optRebindingT2, tt.want2)
			check(optLeaseTime, wantLft)
		})
	}
}

func TestSubnetSelection(t *testing.T) {
	tests := []struct {
		name string
		req  func() *Request
		want string // prefix of the offered address, or "drop"
	}{
		{"receiving interface", func() *Request { return direct(pkt(dhcpv4.MessageTypeDiscover, macA)) }, "192.0.2."},
		{"relay address list", func() *Request { return relayed(pkt(dhcpv4.MessageTypeDiscover, macA), "10.0.0.1") }, "10.0.0."},
		{"giaddr inside a subnet", func() *Request { return relayed(pkt(dhcpv4.MessageTypeDiscover, macA), "10.0.0.254") }, "10.0.0."},
		{"shared network relay", func() *Request { return relayed(pkt(dhcpv4.MessageTypeDiscover, macA), "172.16.0.1") }, "172.16.0."},
		{"unknown relay", func() *Request { return relayed(pkt(dhcpv4.MessageTypeDiscover, macA), "203.0.113.1") }, "drop"},
		{"subnet-selection option", func() *Request {
			return direct(pkt(dhcpv4.MessageTypeDiscover, macA, withOpt(optSubnetSelect, ip("10.0.0.1"))))
		}, "10.0.0."},
		{"link-selection sub-option", func() *Request {
			return relayed(pkt(dhcpv4.MessageTypeDiscover, macA, withOpt(optAgentInfo, append([]byte{5, 4}, ip("172.16.1.0")...))), "10.0.0.1")
		}, "172.16.1."},
		{"interface with no subnet", func() *Request {
			r := direct(pkt(dhcpv4.MessageTypeDiscover, macA))
			r.Iface, r.IfaceAddrs = "eth9", []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")}
			return r
		}, "drop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testNetwork())
			res := h.e.Handle(tt.req())
			got := "drop"
			if res.Reply != nil {
				got = addr4(res.Reply.YourIPAddr).String()
			}
			if tt.want == "drop" && got != "drop" || tt.want != "drop" && (len(got) < len(tt.want) || got[:len(tt.want)] != tt.want) {
				t.Errorf("got %s (%s), want %s", got, res.Reason, tt.want)
			}
		})
	}
}

// When one subnet of a shared network is full, the next one serves.
func TestSharedNetworkOverflow(t *testing.T) {
	h := newHarness(t, testNetwork())
	var got []string
	for i := range 4 {
		mac := net.HardwareAddr{2, 1, 1, 1, 1, byte(i)}
		req := relayed(pkt(dhcpv4.MessageTypeDiscover, mac), "172.16.0.1")
		off := h.e.Handle(req)
		if off.Reply == nil {
			got = append(got, "none")
			continue
		}
		yi := addr4(off.Reply.YourIPAddr)
		ack := h.e.Handle(relayed(pkt(dhcpv4.MessageTypeRequest, mac, withOpt(optServerID, srvIP.AsSlice()), withOpt(optRequestedIP, yi.AsSlice())), "172.16.0.1"))
		got = append(got, msgType(ack)+" "+addr4(ack.Reply.YourIPAddr).String())
	}
	want := []string{"ACK 172.16.0.10", "ACK 172.16.1.10", "ACK 172.16.1.11", "none"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if h.stats.get("v4-allocation-fail-shared-network") != 1 || h.stats.get("v4-allocation-fail") != 1 {
		t.Errorf("allocation failure not counted: %v", h.stats.m)
	}
	// The lease in the sibling subnet is found when the client renews via
	// the relay of the network.
	mac := net.HardwareAddr{2, 1, 1, 1, 1, 1}
	ack := h.e.Handle(relayed(pkt(dhcpv4.MessageTypeRequest, mac, withOpt(optRequestedIP, ip("172.16.1.10"))), "172.16.0.1"))
	if msgType(ack) != "ACK" {
		t.Errorf("INIT-REBOOT into the sibling subnet: %s (%s)", msgType(ack), ack.Reason)
	}
}

// TestAddressing is the reply-addressing table of Kea 3.x.
func TestAddressing(t *testing.T) {
	tests := []struct {
		name      string
		direct    bool // DirectResponse
		req       func() *Request
		wantDst   string
		wantL2Bc  bool
		wantFlagB bool
	}{
		{"relayed", true, func() *Request { return relayed(pkt(dhcpv4.MessageTypeDiscover, macA), "10.0.0.1") }, "10.0.0.1:67", false, false},
		{"relayed with relay-port", true, func() *Request {
			r := relayed(pkt(dhcpv4.MessageTypeDiscover, macA, withOpt(optAgentInfo, []byte{19, 0})), "10.0.0.1")
			r.Src = netip.MustParseAddrPort("10.0.0.1:1067")
			return r
		}, "10.0.0.1:1067", false, false},
		{"relayed keeps the broadcast flag", true, func() *Request {
			p := pkt(dhcpv4.MessageTypeDiscover, macA)
			p.SetBroadcast()
			return relayed(p, "10.0.0.1")
		}, "10.0.0.1:67", false, true},
		{"broadcast flag", true, func() *Request {
			p := pkt(dhcpv4.MessageTypeDiscover, macA)
			p.SetBroadcast()
			return direct(p)
		}, "255.255.255.255:68", true, true},
		{"unicast to yiaddr", true, func() *Request { return direct(pkt(dhcpv4.MessageTypeDiscover, macA)) }, "192.0.2.100:68", false, false},
		{"no direct response support", false, func() *Request { return direct(pkt(dhcpv4.MessageTypeDiscover, macA)) }, "255.255.255.255:68", false, false},
		{"NAK broadcast", true, func() *Request {
			return direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optServerID, srvIP.AsSlice()), withOpt(optRequestedIP, ip("192.0.2.150"))))
		}, "255.255.255.255:68", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNetwork()
			n.DirectResponse = tt.direct
			// 192.0.2.150 is reserved for another client: REQUESTing it is NAKed.
			n.Subnets[0].Reservations = []*Reservation{{HWAddr: macB, Addr: netip.MustParseAddr("192.0.2.150")}}
			h := newHarness(t, n)
			req := tt.req()
			res := h.e.Handle(req)
			if res.Reply == nil {
				t.Fatalf("no reply: %s", res.Reason)
			}
			if res.Dst.String() != tt.wantDst || res.Broadcast != tt.wantL2Bc || res.Reply.IsBroadcast() != tt.wantFlagB {
				t.Errorf("dst %s L2-broadcast %v flag %v; want %s %v %v", res.Dst, res.Broadcast, res.Reply.IsBroadcast(), tt.wantDst, tt.wantL2Bc, tt.wantFlagB)
			}
			wantMAC := req.SrcMAC
			if tt.wantL2Bc {
				wantMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			}
			if !bytes.Equal(res.DstMAC, wantMAC) {
				t.Errorf("dst MAC %s, want %s", res.DstMAC, wantMAC)
			}
			if !res.Reply.GatewayIPAddr.Equal(req.Packet.GatewayIPAddr) || res.Reply.HopCount != req.Packet.HopCount {
				t.Errorf("giaddr/hops not copied")
			}
		})
	}
}

func TestDrops(t *testing.T) {
	tests := []struct {
		name string
		req  *Request
	}{
		{"DISCOVER with a server-id", direct(pkt(dhcpv4.MessageTypeDiscover, macA, withOpt(optServerID, srvIP.AsSlice())))},
		{"no identity", direct(pkt(dhcpv4.MessageTypeDiscover, net.HardwareAddr{}))},
		{"OFFER from another server", direct(pkt(dhcpv4.MessageTypeOffer, macA))},
		{"no message type", direct(pkt(dhcpv4.MessageTypeDiscover, macA, func(d *dhcpv4.DHCPv4) { delete(d.Options, optMessageType) }))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testNetwork())
			if res := h.e.Handle(tt.req); res.Reply != nil || res.Reason == "" {
				t.Fatalf("reply %v, reason %q; want a drop with a reason", res.Reply, res.Reason)
			}
			if h.stats.get("pkt4-receive-drop") != 1 {
				t.Errorf("pkt4-receive-drop = %d, want 1", h.stats.get("pkt4-receive-drop"))
			}
		})
	}
}

// Parallel workers on one store never hand one address to two clients,
// whatever the allocator.
func TestParallelWorkers(t *testing.T) {
	for _, kind := range []alloc.Kind{alloc.Iterative, alloc.Random, alloc.FreeList} {
		t.Run(kind.String()+"/test store", func(t *testing.T) { parallelWorkers(t, kind, newMemStore()) })
		t.Run(kind.String()+"/lease.Store", func(t *testing.T) { parallelWorkers(t, kind, lease.NewStore()) })
	}
}

func parallelWorkers(t *testing.T, kind alloc.Kind, st Store) {
	n := testNetwork()
	n.Subnets[0].Allocator = kind
	h := newHarnessWith(t, n, st)
	const workers, perWorker = 4, 20
	var mu sync.Mutex
	owner := make(map[netip.Addr]string)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				mac := net.HardwareAddr{2, 2, 2, 2, byte(w), byte(i)}
				off := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, mac)))
				if off.Reply == nil {
					t.Errorf("%s: no offer: %s", mac, off.Reason)
					return
				}
				yi := addr4(off.Reply.YourIPAddr)
				ack := h.e.Handle(direct(pkt(dhcpv4.MessageTypeRequest, mac, withOpt(optServerID, srvIP.AsSlice()), withOpt(optRequestedIP, yi.AsSlice()))))
				if msgType(ack) != "ACK" {
					t.Errorf("%s: REQUEST %s: %s (%s)", mac, yi, msgType(ack), ack.Reason)
					return
				}
				mu.Lock()
				if prev, dup := owner[yi]; dup {
					t.Errorf("%s given to %s and %s", yi, prev, mac)
				}
				owner[yi] = mac.String()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got := h.stats.get("subnet[1].assigned-addresses"); got != workers*perWorker {
		t.Errorf("assigned-addresses = %d, want %d", got, workers*perWorker)
	}
}

func TestNewEngineErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Network)
	}{
		{"duplicate subnet id", func(n *Network) { n.Subnets[1].ID = 1 }},
		{"pool outside subnet", func(n *Network) { n.Subnets[0].Pools[0].Last = netip.MustParseAddr("192.0.3.5") }},
		{"address reserved twice", func(n *Network) {
			a := netip.MustParseAddr("192.0.2.5")
			n.Subnets[0].Reservations = []*Reservation{{HWAddr: macA, Addr: a}, {HWAddr: macB, Addr: a}}
		}},
		{"reservation without identifier", func(n *Network) {
			n.Subnets[0].Reservations = []*Reservation{{Addr: netip.MustParseAddr("192.0.2.5")}}
		}},
	}
	for _, tt := range tests {
		n := testNetwork()
		tt.mod(n)
		if _, err := NewEngine(n, Deps{Store: newMemStore()}); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestFixedFields(t *testing.T) {
	n := testNetwork()
	s := n.Subnets[0]
	s.NextServer, s.ServerHostname, s.BootFileName = netip.MustParseAddr("192.0.2.9"), "tftp", "pxe.0"
	s.Reservations = []*Reservation{{HWAddr: macB, BootFileName: "special.efi", NextServer: netip.MustParseAddr("192.0.2.10")}}
	h := newHarness(t, n)
	tests := []struct {
		mac                  net.HardwareAddr
		siaddr, sname, bfile string
	}{
		{macA, "192.0.2.9", "tftp", "pxe.0"},
		{macB, "192.0.2.10", "tftp", "special.efi"},
	}
	for _, tt := range tests {
		r := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, tt.mac))).Reply
		if addr4(r.ServerIPAddr).String() != tt.siaddr || r.ServerHostName != tt.sname || r.BootFileName != tt.bfile {
			t.Errorf("%s: siaddr %s sname %q file %q; want %s %q %q", tt.mac, addr4(r.ServerIPAddr), r.ServerHostName, r.BootFileName, tt.siaddr, tt.sname, tt.bfile)
		}
	}
}

// Client identity: the client-id wins over chaddr unless match-client-id
// is off.
func TestClientIdentity(t *testing.T) {
	cidB := []byte{1, 9, 9, 9, 9, 9, 9}
	for _, match := range []bool{true, false} {
		t.Run(fmt.Sprintf("match-client-id=%v", match), func(t *testing.T) {
			n := testNetwork()
			n.Subnets[0].MatchClientID = match
			h := newHarness(t, n)
			first := h.lease(macA, withOpt(optClientID, cidA))
			// Same hardware, another client-id.
			res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA, withOpt(optClientID, cidB))))
			same := addr4(res.Reply.YourIPAddr) == first
			if same == match {
				t.Errorf("offered %s after %s: same client = %v, want %v", addr4(res.Reply.YourIPAddr), first, same, !match)
			}
		})
	}
}

// An expired lease of another client is reused once the pool has nothing
// else.
func TestReuseExpired(t *testing.T) {
	n := testNetwork()
	s := n.Subnets[0]
	s.Pools[0].Last = s.Pools[0].First // one address
	h := newHarness(t, n)
	a := h.lease(macA)
	if res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macB))); res.Reply != nil {
		t.Fatalf("full pool offered %s", addr4(res.Reply.YourIPAddr))
	}
	h.now = h.now.Add(2 * time.Hour)
	if got := h.lease(macB); got != a {
		t.Fatalf("got %s, want the expired %s", got, a)
	}
	l, _ := h.store.Get(a)
	if !bytes.Equal(l.HWAddr, macB) {
		t.Errorf("reused lease belongs to %s", l.HWAddr)
	}
	if h.stats.get("subnet[1].assigned-addresses") != 1 || h.stats.get("reclaimed-leases") != 1 {
		t.Errorf("counters after reuse: %v", h.stats.m)
	}
}

// The free-list allocator learns of leases made elsewhere through Observe.
func TestObserveFreeList(t *testing.T) {
	n := testNetwork()
	s := n.Subnets[0]
	s.Allocator = alloc.FreeList
	s.Pools[0].Last = netip.MustParseAddr("192.0.2.101")
	h := newHarness(t, n)
	// An HA partner leases .100 behind the engine's back.
	other := &lease.Lease{Addr: netip.MustParseAddr("192.0.2.100"), HWAddr: macB, ValidLft: 3600, CLTT: t0, SubnetID: 1}
	h.store.CompareAndPut(nil, other)
	h.e.Observe(lease.Change{New: other})
	if got := h.lease(macA); got.String() != "192.0.2.101" {
		t.Fatalf("got %s, want 192.0.2.101", got)
	}
	// The partner deletes it: it can be handed out again.
	h.store.CompareAndDelete(other)
	h.e.Observe(lease.Change{Old: other})
	if got := h.lease(net.HardwareAddr{2, 0, 0, 0, 0, 0xc}); got != other.Addr {
		t.Fatalf("got %s, want %s", got, other.Addr)
	}
}

func TestReservationFlags(t *testing.T) {
	tests := []struct {
		name           string
		inSubnet, oop  bool
		reserved, want string
	}{
		{"in-subnet, in pool", true, false, "192.0.2.150", "192.0.2.150"},
		{"in-subnet off", false, false, "192.0.2.150", "192.0.2.100"},
		{"out-of-pool ignores an in-pool reservation", true, true, "192.0.2.150", "192.0.2.100"},
		{"out-of-pool honours an out-of-pool reservation", true, true, "192.0.2.20", "192.0.2.20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNetwork()
			s := n.Subnets[0]
			s.ReservationsInSubnet, s.ReservationsOutOfPool = tt.inSubnet, tt.oop
			s.Reservations = []*Reservation{{HWAddr: macA, Addr: netip.MustParseAddr(tt.reserved)}}
			h := newHarness(t, n)
			if got := h.lease(macA); got.String() != tt.want {
				t.Errorf("leased %s, want %s", got, tt.want)
			}
		})
	}
}

// Lease caching (Kea 3.x, cache-threshold): an early renewal reuses the
// stored lease and grants what is left of it, unless the HA partner may
// lack that lease (Deps.Unconfirmed): then it is renewed, so that its
// update is sent again.
func TestLeaseCaching(t *testing.T) {
	tests := []struct {
		name        string
		threshold   float64
		after       time.Duration
		unconfirmed bool
		wantLft     uint32
		wantReuse   bool
	}{
		{"off", 0, 10 * time.Minute, false, 3600, false},
		{"within the threshold", 0.25, 10 * time.Minute, false, 3000, true},
		{"past the threshold", 0.25, 20 * time.Minute, false, 3600, false},
		{"within the threshold, the partner may lack it", 0.25, 10 * time.Minute, true, 3600, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNetwork()
			n.Subnets[0].CacheThreshold = tt.threshold
			h := newHarness(t, n)
			a := h.lease(macA)
			h.e.unconfirmed = func(addr netip.Addr) bool { return tt.unconfirmed && addr == a }
			before, _ := h.store.Get(a)
			h.now = h.now.Add(tt.after)
			res := h.e.Handle(unicast(pkt(dhcpv4.MessageTypeRequest, macA), a.String()))
			if msgType(res) != "ACK" {
				t.Fatalf("renewal: %s (%s)", msgType(res), res.Reason)
			}
			if got := res.Reply.Options[optLeaseTime]; !bytes.Equal(got, u32(tt.wantLft)) {
				t.Errorf("lease time %v, want %d", got, tt.wantLft)
			}
			after, _ := h.store.Get(a)
			if reused := after == before && len(res.Changes) == 0; reused != tt.wantReuse {
				t.Errorf("reused = %v (changes %d), want %v", reused, len(res.Changes), tt.wantReuse)
			}
			if got := h.stats.get("v4-lease-reuses") == 1; got != tt.wantReuse {
				t.Errorf("v4-lease-reuses counted = %v, want %v", got, tt.wantReuse)
			}
		})
	}
}

func TestInitStats(t *testing.T) {
	h := newHarness(t, testNetwork())
	ls := []*lease.Lease{
		{Addr: netip.MustParseAddr("192.0.2.100"), SubnetID: 1, ValidLft: 3600, CLTT: t0},
		{Addr: netip.MustParseAddr("192.0.2.101"), SubnetID: 1, ValidLft: 1, CLTT: t0.Add(-time.Hour)}, // expired, not reclaimed
		{Addr: netip.MustParseAddr("192.0.2.102"), SubnetID: 1, State: lease.StateDeclined, ValidLft: 86400, CLTT: t0},
		{Addr: netip.MustParseAddr("192.0.2.103"), SubnetID: 1, State: lease.StateReclaimed, CLTT: t0},
		{Addr: netip.MustParseAddr("10.9.9.9"), SubnetID: 99, ValidLft: 3600, CLTT: t0}, // subnet gone
	}
	h.e.InitStats(func(yield func(*lease.Lease) bool) {
		for _, l := range ls {
			if !yield(l) {
				return
			}
		}
	})
	for name, want := range map[string]int64{
		"subnet[1].total-addresses":            100,
		"subnet[1].pool[0].total-addresses":    100,
		"subnet[4].total-addresses":            2,
		"subnet[1].assigned-addresses":         2,
		"subnet[1].pool[0].declined-addresses": 1,
		"declined-addresses":                   1,
		"subnet[99].assigned-addresses":        0,
	} {
		if got := h.stats.get(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

// A query outside the HA scope is dropped silently: only pkt4-received.
func TestInScope(t *testing.T) {
	h := &harness{t: t, store: newMemStore(), stats: &counters{m: make(map[string]int64)}, now: t0}
	e, err := NewEngine(testNetwork(), Deps{Store: h.store, Stats: h.stats, Now: func() time.Time { return h.now },
		InScope: func(p *dhcpv4.DHCPv4) (string, bool) { return "HA_server1", !bytes.Equal(p.ClientHWAddr, macB) }})
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	if res := e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macB))); res.Reply != nil {
		t.Fatal("out-of-scope client answered")
	}
	if res := e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA))); res.Reply == nil {
		t.Fatalf("in-scope client not answered: %s", res.Reason)
	}
	for name, want := range map[string]int64{"pkt4-received": 2, "pkt4-discover-received": 1, "pkt4-receive-drop": 0} {
		if got := h.stats.get(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func TestHandleBytesParseFailure(t *testing.T) {
	h := newHarness(t, testNetwork())
	res := h.e.HandleBytes([]byte{1, 1, 6}, Request{Iface: "eth0", IfaceAddrs: eth0, Dst: bcast})
	if res.Reply != nil || res.Reason == "" {
		t.Fatalf("reply %v reason %q", res.Reply, res.Reason)
	}
	for _, name := range []string{"pkt4-received", "pkt4-parse-failed", "pkt4-receive-drop"} {
		if h.stats.get(name) != 1 {
			t.Errorf("%s = %d, want 1", name, h.stats.get(name))
		}
	}
	good := h.e.HandleBytes(pkt(dhcpv4.MessageTypeDiscover, macA).ToBytes(), *direct(pkt(dhcpv4.MessageTypeDiscover, macA)))
	if good.Reply == nil {
		t.Fatalf("valid bytes not answered: %s", good.Reason)
	}
}

// HandleBytes parses each query into storage the next one reuses: the
// replies and lease changes a query leads to must not point into it.
func TestHandleBytesResultOutlivesQuery(t *testing.T) {
	h := newHarness(t, testNetwork())
	handle := func(r *Request) Result { return h.e.HandleBytes(r.Packet.ToBytes(), *r) }
	dora := func(mac net.HardwareAddr, cid []byte, agent, host string) (offer, ack Result) {
		opts := []dhcpv4.Modifier{withOpt(optClientID, cid), withOpt(optAgentInfo, []byte{1, 2, agent[0], agent[1]}),
			withOpt(optHostname, []byte(host)), withOpt(optSubnetSelect, []byte{10, 0, 0, 0})}
		offer = handle(relayed(pkt(dhcpv4.MessageTypeDiscover, mac, opts...), "10.0.0.1"))
		if offer.Reply == nil {
			t.Fatalf("DISCOVER from %s: %s", mac, offer.Reason)
		}
		opts = append(opts, withOpt(optServerID, srvIP.AsSlice()), withOpt(optRequestedIP, offer.Reply.YourIPAddr.To4()))
		ack = handle(relayed(pkt(dhcpv4.MessageTypeRequest, mac, opts...), "10.0.0.1"))
		if ack.Reply == nil || len(ack.Changes) != 1 {
			t.Fatalf("REQUEST from %s: %v %s", mac, ack.Reply, ack.Reason)
		}
		return offer, ack
	}
	offer, ack := dora(macA, cidA, "a1", "host-a")
	wantOffer, wantAck := Marshal(offer.Reply), Marshal(ack.Reply)
	wantLease := *ack.Changes[0].New.Clone()
	dora(macB, []byte{1, 0x02, 0, 0, 0, 0, 0xb}, "b2", "host-b")
	if got := Marshal(offer.Reply); !bytes.Equal(got, wantOffer) {
		t.Errorf("OFFER changed by a later query:\n got %x\nwant %x", got, wantOffer)
	}
	if got := Marshal(ack.Reply); !bytes.Equal(got, wantAck) {
		t.Errorf("ACK changed by a later query:\n got %x\nwant %x", got, wantAck)
	}
	if got := ack.Changes[0].New; !reflect.DeepEqual(*got, wantLease) {
		t.Errorf("lease changed by a later query:\n got %+v\nwant %+v", *got, wantLease)
	}
}

// Pools and options restricted to Kea's built-in classes.
func TestBuiltinClasses(t *testing.T) {
	n := testNetwork()
	s := n.Subnets[0]
	s.Pools = []*Pool{
		{First: netip.MustParseAddr("192.0.2.100"), Last: netip.MustParseAddr("192.0.2.109"), ClientClasses: []string{"KNOWN"}},
		{First: netip.MustParseAddr("192.0.2.110"), Last: netip.MustParseAddr("192.0.2.119"), ID: 1, ClientClasses: []string{"VENDOR_CLASS_phone"}},
		{First: netip.MustParseAddr("192.0.2.120"), Last: netip.MustParseAddr("192.0.2.129"), ID: 2, ClientClasses: []string{"UNKNOWN"}},
	}
	// A reservation without an address still makes its client KNOWN and
	// puts it in its classes.
	s.Reservations = []*Reservation{{HWAddr: macA, ClientClasses: []string{"staff"}}}
	s.Options = append(s.Options, Option{Code: 42, Data: ip("192.0.2.42"), AlwaysSend: true, ClientClasses: []string{"staff"}})
	h := newHarness(t, n)
	tests := []struct {
		name   string
		mac    net.HardwareAddr
		mods   []dhcpv4.Modifier
		prefix string
		opt42  bool
	}{
		{"known", macA, nil, "192.0.2.10", true},
		{"vendor class", macB, []dhcpv4.Modifier{withOpt(optVendorClass, []byte("phone"))}, "192.0.2.11", false},
		{"unknown", net.HardwareAddr{2, 0, 0, 0, 0, 0xc}, nil, "192.0.2.12", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, tt.mac, tt.mods...))).Reply
			if r == nil {
				t.Fatal("no offer")
			}
			if got := addr4(r.YourIPAddr).String(); got[:len(tt.prefix)] != tt.prefix || len(got) != len(tt.prefix)+1 {
				t.Errorf("offered %s, want %sX", got, tt.prefix)
			}
			if _, ok := r.Options[42]; ok != tt.opt42 {
				t.Errorf("option 42 sent = %v, want %v", ok, tt.opt42)
			}
		})
	}
}

// The HA scope class splits a load-balanced pair's pools, as Kea's
// documented configuration does: each client gets an address from the
// pool of the server whose scope it hashes to, whichever server answers.
func TestHAScopeClassPools(t *testing.T) {
	n := testNetwork()
	n.Subnets[0].Pools = []*Pool{
		{First: netip.MustParseAddr("192.0.2.100"), Last: netip.MustParseAddr("192.0.2.109"), ClientClasses: []string{"HA_server1"}},
		{First: netip.MustParseAddr("192.0.2.110"), Last: netip.MustParseAddr("192.0.2.119"), ID: 1, ClientClasses: []string{"HA_server2"}},
	}
	scope := map[string]string{macA.String(): "HA_server1", macB.String(): "HA_server2"}
	h := &harness{t: t, store: newMemStore(), stats: &counters{m: make(map[string]int64)}, now: t0}
	e, err := NewEngine(n, Deps{Store: h.store, Stats: h.stats, Now: func() time.Time { return h.now },
		InScope: func(p *dhcpv4.DHCPv4) (string, bool) { return scope[p.ClientHWAddr.String()], true }})
	if err != nil {
		t.Fatal(err)
	}
	for mac, prefix := range map[string]string{macA.String(): "192.0.2.10", macB.String(): "192.0.2.11"} {
		hw, _ := net.ParseMAC(mac)
		r := e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, hw))).Reply
		if r == nil {
			t.Fatalf("%s (%s): no offer", mac, scope[mac])
		}
		if got := addr4(r.YourIPAddr).String(); !strings.HasPrefix(got, prefix) || len(got) != len(prefix)+1 {
			t.Errorf("%s (%s) offered %s, want %sX", mac, scope[mac], got, prefix)
		}
	}
	// A subnet restricted to one scope's class takes only its clients.
	n = testNetwork()
	n.Subnets[0].ClientClasses = []string{"HA_server2"}
	e, err = NewEngine(n, Deps{Store: newMemStore(), Now: func() time.Time { return t0 },
		InScope: func(p *dhcpv4.DHCPv4) (string, bool) { return scope[p.ClientHWAddr.String()], true }})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA))).Reply; r != nil {
		t.Errorf("HA_server1 client offered %s from an HA_server2 subnet", r.YourIPAddr)
	}
	if r := e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macB))).Reply; r == nil {
		t.Error("HA_server2 client not offered an address from its subnet")
	}
}

// Undo puts the store back as it was before a query.
func TestUndo(t *testing.T) {
	h := newHarness(t, testNetwork())
	a := h.lease(macA)
	before, _ := h.store.Get(a)
	h.now = h.now.Add(time.Hour) // past lease caching
	res := h.e.Handle(unicast(pkt(dhcpv4.MessageTypeRequest, macA), a.String()))
	if len(res.Changes) != 1 {
		t.Fatalf("renewal made %d changes", len(res.Changes))
	}
	h.e.Undo(res.Changes)
	if got, _ := h.store.Get(a); got != before {
		t.Errorf("after undo of a renewal the lease is %+v, want %+v", got, before)
	}
	rel := h.e.Handle(unicast(pkt(dhcpv4.MessageTypeRelease, macA), a.String()))
	h.e.Undo(rel.Changes)
	if got, _ := h.store.Get(a); got != before {
		t.Errorf("after undo of a release the lease is %+v", got)
	}
	fresh := h.lease(net.HardwareAddr{2, 0, 0, 0, 0, 0xd})
	l, _ := h.store.Get(fresh)
	h.e.Undo([]lease.Change{{New: l}})
	if _, ok := h.store.Get(fresh); ok {
		t.Errorf("undo of a new lease left it in the store")
	}
}

// A subnet restricted to a class is selected only for clients in it.
func TestSubnetClientClass(t *testing.T) {
	n := testNetwork()
	n.Subnets[0].ClientClasses = []string{"VENDOR_CLASS_phone"}
	h := newHarness(t, n)
	if res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA))); res.Reply != nil {
		t.Errorf("client outside the class offered %s", addr4(res.Reply.YourIPAddr))
	}
	if res := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macB, withOpt(optVendorClass, []byte("phone"))))); res.Reply == nil {
		t.Errorf("client in the class not served: %s", res.Reason)
	}
}

// A configured dhcp-server-identifier is sent and accepted back.
func TestConfiguredServerID(t *testing.T) {
	n := testNetwork()
	n.Subnets[0].Options = append(n.Subnets[0].Options, opt(optServerID, ip("192.0.2.254")...))
	h := newHarness(t, n)
	off := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA)))
	if got := off.Reply.Options[optServerID]; !bytes.Equal(got, ip("192.0.2.254")) {
		t.Fatalf("server-id %v, want 192.0.2.254", got)
	}
	ack := h.e.Handle(direct(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optServerID, ip("192.0.2.254")),
		withOpt(optRequestedIP, off.Reply.YourIPAddr.To4()))))
	if msgType(ack) != "ACK" {
		t.Errorf("REQUEST to the configured server-id: %s (%s)", msgType(ack), ack.Reason)
	}
}
