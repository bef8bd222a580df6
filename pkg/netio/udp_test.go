package netio

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

// udpLab is a lab with link tl0 (10.200.1.1/24) and a UDPConn on it.
func udpLab(t testing.TB) (*lab, *UDPConn, *station) {
	l := newLab(t)
	l.link("tl0", "10.200.1.1/24")
	ifc := iface(t, l.sns, "tl0")
	var c *UDPConn
	var err error
	in(t, l.sns, func() {
		c, err = ListenUDP(ifc, []netip.Prefix{netip.MustParsePrefix("10.200.1.1/24")}, DefaultPorts)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return l, c, l.station("tl0c")
}

// TestUDPRead reads a broadcast from a client with no address and a
// unicast from a configured one; IP_PKTINFO tells them apart.
func TestUDPRead(t *testing.T) {
	_, c, st := udpLab(t)
	st.send(broadcastMAC, udpPacket("0.0.0.0:68", "255.255.255.255:67", []byte("discover")))
	p := Packet{Buf: make([]byte, 1500), SrcMAC: net.HardwareAddr{1, 2, 3}}
	if err := c.Read(&p); err != nil {
		t.Fatal(err)
	}
	if string(p.Buf[:p.N]) != "discover" || p.Src != netip.MustParseAddrPort("0.0.0.0:68") ||
		p.Dst != netip.MustParseAddr("255.255.255.255") || p.Iface != "tl0" || len(p.SrcMAC) != 0 {
		t.Errorf("read %q from %s to %s on %s mac %s", p.Buf[:p.N], p.Src, p.Dst, p.Iface, p.SrcMAC)
	}

	serverMAC := c.iface.HardwareAddr
	st.send(serverMAC, udpPacket("10.200.1.9:68", "10.200.1.1:67", []byte("renew")))
	if err := c.Read(&p); err != nil {
		t.Fatal(err)
	}
	if string(p.Buf[:p.N]) != "renew" || p.Src != netip.MustParseAddrPort("10.200.1.9:68") || p.Dst != netip.MustParseAddr("10.200.1.1") {
		t.Errorf("read %q from %s to %s", p.Buf[:p.N], p.Src, p.Dst)
	}
}

// TestUDPSendToClientBroadcasts checks that a reply for an unconfigured
// client is broadcast in UDP mode, from the interface address.
func TestUDPSendToClientBroadcasts(t *testing.T) {
	_, c, st := udpLab(t)
	payload := []byte("offer")
	err := c.Send(&Reply{Payload: payload, Dst: netip.MustParseAddrPort("10.200.1.77:68"),
		DstMAC: st.ifc.HardwareAddr, ToClient: true, Src: netip.MustParseAddr("10.200.1.1")})
	if err != nil {
		t.Fatal(err)
	}
	checkFrame(t, st.recvUDP(68), false, broadcastMAC, c.iface.HardwareAddr, "10.200.1.1:67", "255.255.255.255:68", payload)
}

// TestUDPSendSource checks that a reply leaves from the address the
// engine chose when the interface has several.
func TestUDPSendSource(t *testing.T) {
	l, c, st := udpLab(t)
	l.ip("-n", l.server, "addr", "add", "10.200.1.200/24", "dev", "tl0")
	c.SetAddrs([]netip.Prefix{netip.MustParsePrefix("10.200.1.1/24"), netip.MustParsePrefix("10.200.1.200/24")})
	err := c.Send(&Reply{Payload: []byte("nak"), Dst: netip.MustParseAddrPort("255.255.255.255:68"),
		Src: netip.MustParseAddr("10.200.1.200")})
	if err != nil {
		t.Fatal(err)
	}
	checkFrame(t, st.recvUDP(68), false, broadcastMAC, c.iface.HardwareAddr, "10.200.1.200:67", "255.255.255.255:68", []byte("nak"))
}

// TestUDPReadAllocs checks that the UDP read path allocates nothing.
func TestUDPReadAllocs(t *testing.T) {
	_, c, st := udpLab(t)
	const runs = 20
	for range runs + 1 {
		st.send(broadcastMAC, udpPacket("0.0.0.0:68", "255.255.255.255:67", make([]byte, 300)))
	}
	p := Packet{Buf: make([]byte, 1500)}
	allocs := testing.AllocsPerRun(runs, func() {
		if err := c.Read(&p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Read allocates %.1f times per packet", allocs)
	}
}

func TestPktinfoDst(t *testing.T) {
	good := pktinfoOOB(netip.MustParseAddr("192.0.2.1"))
	// pktinfoOOB fills spec_dst; a received message carries the header
	// destination in the addr field after it.
	recv := append([]byte{}, good...)
	copy(recv[cmsgHdrLen+8:], []byte{10, 0, 0, 7})
	tests := []struct {
		name string
		oob  []byte
		want netip.Addr
		ok   bool
	}{
		{"pktinfo", recv, netip.MustParseAddr("10.0.0.7"), true},
		{"empty", nil, netip.Addr{}, false},
		{"short", recv[:cmsgHdrLen-1], netip.Addr{}, false},
		{"truncated data", recv[:cmsgHdrLen+4], netip.Addr{}, false},
	}
	for _, tt := range tests {
		got, ok := pktinfoDst(tt.oob)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %s %v, want %s %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzPktinfoDst(f *testing.F) {
	f.Add(pktinfoOOB(netip.MustParseAddr("192.0.2.1")))
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, ok := pktinfoDst(b); ok != a.IsValid() {
			t.Fatalf("ok %v with address %s", ok, a)
		}
	})
}
