package dhcp4

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// BenchmarkDORA is one relayed DISCOVER/OFFER and REQUEST/ACK from a new
// client, bytes in and reply out, as perfdhcp drives the daemon: the
// engine's share of a lease's CPU and allocations.
func BenchmarkDORA(b *testing.B) {
	valid := Lifetime{Default: 3600, Min: 3600, Max: 3600}
	n := &Network{Subnets: []*Subnet{{
		ID: 1, Prefix: netip.MustParsePrefix("198.18.0.0/15"), Relay: []netip.Addr{netip.MustParseAddr("198.18.0.1")},
		Pools:   []*Pool{{First: netip.MustParseAddr("198.18.1.0"), Last: netip.MustParseAddr("198.19.255.254")}},
		Options: []Option{opt(optRouters, ip("198.18.0.1")...), opt(optDNS, ip("198.18.0.53")...)},
		Valid:   valid, MatchClientID: true,
	}}}
	e, err := NewEngine(n, Deps{Store: lease.NewStore()})
	if err != nil {
		b.Fatal(err)
	}
	giaddr := net.IPv4(198, 18, 0, 1).To4()
	req := Request{Iface: "eth0", IfaceAddrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24")},
		ServerAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.2")},
		Src:         netip.MustParseAddrPort("198.18.0.1:67"), SrcMAC: net.HardwareAddr{2, 9, 9, 9, 9, 9},
		Dst: netip.MustParseAddr("192.0.2.2")}
	b.ReportAllocs()
	for i := range b.N {
		mac := net.HardwareAddr{0, 0x0c, 1, byte(i >> 16), byte(i >> 8), byte(i)}
		d := pkt(dhcpv4.MessageTypeDiscover, mac, withPRL(optRouters, optDNS))
		d.GatewayIPAddr, d.HopCount = giaddr, 1
		res := e.HandleBytes(d.ToBytes(), req)
		if res.Reply == nil {
			b.Fatalf("no OFFER: %s", res.Reason)
		}
		r := pkt(dhcpv4.MessageTypeRequest, mac, withPRL(optRouters, optDNS),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 0, 2, 2))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(res.Reply.YourIPAddr)))
		r.GatewayIPAddr, r.HopCount = giaddr, 1
		e.Recycle(res.Reply) // sent, as pkg/server does
		res = e.HandleBytes(r.ToBytes(), req)
		if res.Reply == nil || MessageType(res.Reply) != dhcpv4.MessageTypeAck {
			b.Fatalf("no ACK: %s", res.Reason)
		}
		e.Recycle(res.Reply)
	}
	_ = time.Second
}
