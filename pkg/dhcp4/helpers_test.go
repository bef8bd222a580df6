package dhcp4

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// memStore is an in-memory Store for tests. CompareAndPut compares by
// identity with what Get returned, as the real store does.
type memStore struct {
	mu sync.Mutex
	m  map[netip.Addr]*lease.Lease
}

func newMemStore() *memStore { return &memStore{m: make(map[netip.Addr]*lease.Lease)} }

func (s *memStore) Get(a netip.Addr) (*lease.Lease, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[a]
	return l, ok
}

func (s *memStore) ByClientID(id uint32, cid []byte) []*lease.Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*lease.Lease
	for _, l := range s.m {
		if l.SubnetID == id && len(l.ClientID) > 0 && bytes.Equal(l.ClientID, cid) {
			out = append(out, l)
		}
	}
	return out
}

func (s *memStore) ByHWAddr(id uint32, hw net.HardwareAddr) []*lease.Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*lease.Lease
	for _, l := range s.m {
		if l.SubnetID == id && len(l.HWAddr) > 0 && bytes.Equal(l.HWAddr, hw) {
			out = append(out, l)
		}
	}
	return out
}

func (s *memStore) CompareAndPut(old, nl *lease.Lease) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.m[nl.Addr]
	if cur != old {
		return false
	}
	s.m[nl.Addr] = nl
	return true
}

func (s *memStore) CompareAndDelete(cur *lease.Lease) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[cur.Addr] != cur {
		return false
	}
	delete(s.m, cur.Addr)
	return true
}

// counters records statistics.
type counters struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counters) Add(name string, d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[name] += d
}

func (c *counters) get(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

var (
	t0     = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	srvIP  = netip.MustParseAddr("192.0.2.1")
	eth0   = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}
	macA   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa}
	macB   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xb}
	cidA   = []byte{1, 0x02, 0, 0, 0, 0, 0xa}
	relay1 = netip.MustParseAddr("10.0.0.1")
)

func opt(code uint8, data ...byte) Option { return Option{Code: code, Data: data} }

func ip(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

// testNetwork is a small site: subnet 1 on eth0, subnet 2 behind a relay,
// and a shared network of subnets 3 and 4 behind another relay.
func testNetwork() *Network {
	valid := Lifetime{Default: 3600, Min: 1800, Max: 7200}
	s1 := &Subnet{
		ID: 1, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Interface: "eth0",
		Pools: []*Pool{{First: netip.MustParseAddr("192.0.2.100"), Last: netip.MustParseAddr("192.0.2.199"), ID: 0}},
		Options: []Option{
			opt(optRouters, ip("192.0.2.1")...),
			opt(optDNS, ip("192.0.2.53")...),
			opt(optDomainName, []byte("example.org")...),
		},
		Valid: valid, MatchClientID: true, ReservationsInSubnet: true,
	}
	s2 := &Subnet{
		ID: 2, Prefix: netip.MustParsePrefix("10.0.0.0/24"), Relay: []netip.Addr{relay1},
		Pools: []*Pool{{First: netip.MustParseAddr("10.0.0.10"), Last: netip.MustParseAddr("10.0.0.20")}},
		Valid: valid, MatchClientID: true, ReservationsInSubnet: true,
	}
	sn := &SharedNetwork{Name: "lab", Relay: []netip.Addr{netip.MustParseAddr("172.16.0.1")}}
	s3 := &Subnet{
		ID: 3, Prefix: netip.MustParsePrefix("172.16.0.0/24"), Network: sn,
		Pools: []*Pool{{First: netip.MustParseAddr("172.16.0.10"), Last: netip.MustParseAddr("172.16.0.10")}},
		Valid: valid, MatchClientID: true, ReservationsInSubnet: true,
	}
	s4 := &Subnet{
		ID: 4, Prefix: netip.MustParsePrefix("172.16.1.0/24"), Network: sn,
		Pools: []*Pool{{First: netip.MustParseAddr("172.16.1.10"), Last: netip.MustParseAddr("172.16.1.11")}},
		Valid: valid, MatchClientID: true, ReservationsInSubnet: true,
	}
	sn.Subnets = []*Subnet{s3, s4}
	return &Network{
		Subnets:          []*Subnet{s1, s2, s3, s4},
		SharedNetworks:   []*SharedNetwork{sn},
		DeclineProbation: 86400 * time.Second,
		Affinity:         true,
		EchoClientID:     true,
		DirectResponse:   true,
	}
}

type harness struct {
	t     *testing.T
	e     *Engine
	store Store
	stats *counters
	now   time.Time
}

func newHarness(t *testing.T, n *Network) *harness {
	t.Helper()
	return newHarnessWith(t, n, lease.NewStore())
}

func newHarnessWith(t *testing.T, n *Network, st Store) *harness {
	t.Helper()
	h := &harness{t: t, store: st, stats: &counters{m: make(map[string]int64)}, now: t0}
	e, err := NewEngine(n, Deps{Store: h.store, Stats: h.stats, Now: func() time.Time { return h.now }, Rand: rand.NewPCG(1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	return h
}

// direct is a broadcast query received on eth0 from an unconfigured client.
func direct(p *dhcpv4.DHCPv4) *Request {
	return &Request{
		Packet: p, Iface: "eth0", IfaceAddrs: eth0,
		Src: netip.MustParseAddrPort("0.0.0.0:68"), SrcMAC: p.ClientHWAddr, Dst: bcast,
	}
}

// relayed is a query forwarded by the relay at giaddr.
func relayed(p *dhcpv4.DHCPv4, giaddr string) *Request {
	p.GatewayIPAddr = net.ParseIP(giaddr).To4()
	p.HopCount = 1
	return &Request{
		Packet: p, Iface: "eth0", IfaceAddrs: eth0,
		Src: netip.AddrPortFrom(netip.MustParseAddr(giaddr), 67), SrcMAC: net.HardwareAddr{2, 9, 9, 9, 9, 9}, Dst: srvIP,
	}
}

// unicast is a query from a configured client at ciaddr sent to the server.
func unicast(p *dhcpv4.DHCPv4, ciaddr string) *Request {
	p.ClientIPAddr = net.ParseIP(ciaddr).To4()
	return &Request{
		Packet: p, Iface: "eth0", IfaceAddrs: eth0,
		Src: netip.AddrPortFrom(netip.MustParseAddr(ciaddr), 68), SrcMAC: p.ClientHWAddr, Dst: srvIP,
	}
}

func pkt(t dhcpv4.MessageType, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	p, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithMessageType(t), dhcpv4.WithHwAddr(mac)}, mods...)...)
	if err != nil {
		panic(err)
	}
	return p
}

func withOpt(code uint8, data []byte) dhcpv4.Modifier {
	return func(d *dhcpv4.DHCPv4) { d.Options[code] = data }
}

func withPRL(codes ...uint8) dhcpv4.Modifier { return withOpt(optPRL, codes) }

// lease makes the client at mac hold addr by DISCOVER and REQUEST.
func (h *harness) lease(mac net.HardwareAddr, mods ...dhcpv4.Modifier) netip.Addr {
	h.t.Helper()
	off := h.e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, mac, mods...)))
	if off.Reply == nil {
		h.t.Fatalf("DISCOVER from %s: no OFFER: %s", mac, off.Reason)
	}
	yi := addr4(off.Reply.YourIPAddr)
	ack := h.e.Handle(direct(pkt(dhcpv4.MessageTypeRequest, mac, append(mods,
		withOpt(optServerID, srvIP.AsSlice()), withOpt(optRequestedIP, yi.AsSlice()))...)))
	if ack.Reply == nil || ack.Reply.MessageType() != dhcpv4.MessageTypeAck {
		h.t.Fatalf("REQUEST from %s for %s: %v %s", mac, yi, ack.Reply, ack.Reason)
	}
	return yi
}

func msgType(r Result) string {
	if r.Reply == nil {
		return "drop"
	}
	return r.Reply.MessageType().String()
}
