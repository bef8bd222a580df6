package netio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawLab is a lab with one link, tl0 (10.200.1.1/24) in the server
// namespace and tl0c in the client namespace, and a RawConn on tl0.
func rawLab(t testing.TB, ports Ports) (*lab, *RawConn, *station) {
	l := newLab(t)
	l.link("tl0", "10.200.1.1/24")
	ifc := iface(t, l.sns, "tl0")
	var c *RawConn
	var err error
	in(t, l.sns, func() {
		c, err = ListenRaw(ifc, []netip.Prefix{netip.MustParsePrefix("10.200.1.1/24")}, ports)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return l, c, l.station("tl0c")
}

// TestRawReadDiscover sends a DHCPDISCOVER-shaped broadcast from a client
// with no address, after traffic the filter must keep out; the first
// thing read must be the query, with its frame's metadata.
func TestRawReadDiscover(t *testing.T) {
	_, c, st := rawLab(t, DefaultPorts)
	query := bytes.Repeat([]byte{0xd1}, 300)
	st.send(broadcastMAC, udpPacket("0.0.0.0:68", "255.255.255.255:53", []byte("dns")))
	st.send(broadcastMAC, udpPacket("0.0.0.0:67", "255.255.255.255:68", []byte("to the client port")))
	tcp := udpPacket("0.0.0.0:68", "255.255.255.255:67", []byte("tcp"))
	tcp[9] = unix.IPPROTO_TCP
	st.send(broadcastMAC, tcp)
	st.send(broadcastMAC, udpPacket("0.0.0.0:68", "255.255.255.255:67", query))

	p := Packet{Buf: make([]byte, 1500)}
	if err := c.Read(&p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Buf[:p.N], query) {
		t.Fatalf("read %d bytes %x..., want the query", p.N, p.Buf[:min(p.N, 8)])
	}
	want := Packet{Iface: "tl0", IfIndex: c.iface.Index, Src: netip.MustParseAddrPort("0.0.0.0:68"),
		Dst: netip.MustParseAddr("255.255.255.255"), SrcMAC: st.ifc.HardwareAddr}
	if p.Iface != want.Iface || p.IfIndex != want.IfIndex || p.Src != want.Src || p.Dst != want.Dst || !bytes.Equal(p.SrcMAC, want.SrcMAC) {
		t.Errorf("metadata: iface %s/%d src %s dst %s mac %s; want %s/%d %s %s %s",
			p.Iface, p.IfIndex, p.Src, p.Dst, p.SrcMAC, want.Iface, want.IfIndex, want.Src, want.Dst, want.SrcMAC)
	}
	if len(p.IfaceAddrs) != 1 || p.IfaceAddrs[0] != netip.MustParsePrefix("10.200.1.1/24") {
		t.Errorf("interface addresses %v", p.IfaceAddrs)
	}
}

// TestRawServerPort checks -p: with server port 1067 a query to 67 is
// ignored and one to 1067 read.
func TestRawServerPort(t *testing.T) {
	_, c, st := rawLab(t, Ports{Server: 1067, Client: 1068})
	st.send(broadcastMAC, udpPacket("0.0.0.0:68", "255.255.255.255:67", []byte("to 67")))
	st.send(broadcastMAC, udpPacket("0.0.0.0:1068", "255.255.255.255:1067", []byte("to 1067")))
	p := Packet{Buf: make([]byte, 1500)}
	if err := c.Read(&p); err != nil {
		t.Fatal(err)
	}
	if got := string(p.Buf[:p.N]); got != "to 1067" || p.Src.Port() != 1068 {
		t.Errorf("read %q from %s, want \"to 1067\" from port 1068", got, p.Src)
	}
}

// checkFrame verifies a captured reply's headers and checksums. The UDP
// checksum is checked only on frames we built (raw): on a veth the kernel
// leaves its own datagrams' checksums to an offload that never happens.
func checkFrame(t *testing.T, f frame, raw bool, dstMAC, srcMAC net.HardwareAddr, src, dst string, payload []byte) {
	t.Helper()
	if !bytes.Equal(f.dstMAC, dstMAC) || !bytes.Equal(f.srcMAC, srcMAC) {
		t.Errorf("Ethernet %s -> %s, want %s -> %s", f.srcMAC, f.dstMAC, srcMAC, dstMAC)
	}
	if f.src != netip.MustParseAddrPort(src) || f.dst != netip.MustParseAddrPort(dst) {
		t.Errorf("IP %s -> %s, want %s -> %s", f.src, f.dst, src, dst)
	}
	if !bytes.Equal(f.payload, payload) {
		t.Errorf("payload %q, want %q", f.payload, payload)
	}
	if checksum(f.ipHeader, 0) != 0 {
		t.Errorf("IPv4 header checksum does not verify: %x", f.ipHeader)
	}
	if !raw {
		return
	}
	var pseudo uint32
	for i := 12; i < 20; i += 2 {
		pseudo += uint32(f.ipHeader[i])<<8 | uint32(f.ipHeader[i+1])
	}
	pseudo += protoUDP + uint32(len(f.udp))
	if checksum(f.udp, pseudo) != 0 {
		t.Errorf("UDP checksum does not verify")
	}
}

// TestRawSendToClient sends an OFFER-shaped reply unicast to an address
// the client does not have: it must reach the client's MAC as a frame to
// that address.
func TestRawSendToClient(t *testing.T) {
	_, c, st := rawLab(t, DefaultPorts)
	payload := []byte("offer for 10.200.1.77")
	err := c.Send(&Reply{Payload: payload, Dst: netip.MustParseAddrPort("10.200.1.77:68"),
		DstMAC: st.ifc.HardwareAddr, ToClient: true, Src: netip.MustParseAddr("10.200.1.1")})
	if err != nil {
		t.Fatal(err)
	}
	checkFrame(t, st.recvUDP(68), true, st.ifc.HardwareAddr, c.iface.HardwareAddr, "10.200.1.1:67", "10.200.1.77:68", payload)
}

// TestRawSendBroadcast sends a reply to a client that set the broadcast
// flag: ff:ff:ff:ff:ff:ff and 255.255.255.255.
func TestRawSendBroadcast(t *testing.T) {
	_, c, st := rawLab(t, DefaultPorts)
	payload := []byte("broadcast offer")
	err := c.Send(&Reply{Payload: payload, Dst: netip.MustParseAddrPort("255.255.255.255:68"), Broadcast: true})
	if err != nil {
		t.Fatal(err)
	}
	checkFrame(t, st.recvUDP(68), true, broadcastMAC, c.iface.HardwareAddr, "10.200.1.1:67", "255.255.255.255:68", payload)
}

// TestRawSendRouted sends a reply to a client's configured address
// (ciaddr): it goes through the UDP socket, the kernel resolving the MAC.
func TestRawSendRouted(t *testing.T) {
	l, c, _ := rawLab(t, DefaultPorts)
	l.ip("-n", l.client, "addr", "add", "10.200.1.2/24", "dev", "tl0c")
	var cc *net.UDPConn
	var err error
	in(t, l.cns, func() { cc, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 68}) })
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.SetReadDeadline(time.Now().Add(10 * time.Second)) // only so a lost reply fails instead of hanging
	if err := c.Send(&Reply{Payload: []byte("ack"), Dst: netip.MustParseAddrPort("10.200.1.2:68")}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, from, err := cc.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "ack" || from != netip.MustParseAddrPort("10.200.1.1:67") {
		t.Errorf("client got %q from %s, want \"ack\" from 10.200.1.1:67", buf[:n], from)
	}
}

// TestRawClose checks that Close wakes a blocked Read with net.ErrClosed.
func TestRawClose(t *testing.T) {
	_, c, _ := rawLab(t, DefaultPorts)
	errc := make(chan error, 1)
	go func() { errc <- c.Read(&Packet{Buf: make([]byte, 1500)}) }()
	c.Close()
	if err := recvWithin(t, errc, "return from Read after Close"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v, want net.ErrClosed", err)
	}
}

// TestRawReadAllocs checks that the read path allocates nothing.
func TestRawReadAllocs(t *testing.T) {
	_, c, st := rawLab(t, DefaultPorts)
	const runs = 20
	pkt := udpPacket("0.0.0.0:68", "255.255.255.255:67", make([]byte, 300))
	for range runs + 1 {
		st.send(broadcastMAC, pkt)
	}
	p := Packet{Buf: make([]byte, 1500), SrcMAC: make(net.HardwareAddr, 0, 16)}
	allocs := testing.AllocsPerRun(runs, func() {
		if err := c.Read(&p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Read allocates %.1f times per packet", allocs)
	}
}

// TestRawSendAllocs checks that sending a reply frame allocates
// nothing: a raw Send runs for every reply.
func TestRawSendAllocs(t *testing.T) {
	_, c, st := rawLab(t, DefaultPorts)
	r := &Reply{Payload: make([]byte, 300), Dst: netip.MustParseAddrPort("10.200.1.77:68"),
		DstMAC: st.ifc.HardwareAddr, ToClient: true, Src: netip.MustParseAddr("10.200.1.1")}
	allocs := testing.AllocsPerRun(20, func() {
		if err := c.Send(r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Send allocates %.1f times per reply", allocs)
	}
}

// TestRawNoPortUnreachable checks the UDP socket beside the packet
// socket: a unicast query to the server port draws no ICMP
// port-unreachable. A datagram to a closed port, sent next, does; the
// first ICMP error the client sees must be about that one.
func TestRawNoPortUnreachable(t *testing.T) {
	l, c, st := rawLab(t, DefaultPorts)
	l.ip("-n", l.client, "addr", "add", "10.200.1.2/24", "dev", "tl0c")
	st.send(c.iface.HardwareAddr, udpPacket("10.200.1.2:68", "10.200.1.1:67", []byte("renew")))
	st.send(c.iface.HardwareAddr, udpPacket("10.200.1.2:68", "10.200.1.1:99", []byte("closed port")))
	p := Packet{Buf: make([]byte, 1500)}
	if err := c.Read(&p); err != nil || string(p.Buf[:p.N]) != "renew" {
		t.Fatalf("server read %q, %v; want the renew", p.Buf[:p.N], err)
	}
	if port := st.recvPortUnreachable(); port != 99 {
		t.Errorf("first port-unreachable is about port %d, want 99", port)
	}
}

// TestRawOtherHost: a unicast frame to another MAC, seen because the
// interface is promiscuous, is not a query for us.
func TestRawOtherHost(t *testing.T) {
	l, c, st := rawLab(t, DefaultPorts)
	l.ip("-n", l.server, "link", "set", "tl0", "promisc", "on")
	st.send(net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}, udpPacket("10.200.1.2:68", "10.200.1.99:67", []byte("for another server")))
	st.send(broadcastMAC, udpPacket("0.0.0.0:68", "255.255.255.255:67", []byte("discover")))
	p := Packet{Buf: make([]byte, 1500)}
	if err := c.Read(&p); err != nil || string(p.Buf[:p.N]) != "discover" {
		t.Errorf("read %q, %v; want the discover", p.Buf[:p.N], err)
	}
}

// TestRawSendRelayed sends a reply to a relay whose giaddr is a subnet
// away, behind a router on the link. With the query's Ethernet source
// known it goes out raw to that MAC, as Kea sends it; without one the UDP
// socket routes it. Either way the relay hears it from the server port.
func TestRawSendRelayed(t *testing.T) {
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("source MAC known %v", known), func(t *testing.T) {
			l, c, st := rawLab(t, DefaultPorts)
			l.ip("-n", l.client, "addr", "add", "10.200.1.2/24", "dev", "tl0c")
			l.ip("-n", l.client, "addr", "add", "10.200.9.1/24", "dev", "lo")
			if !known {
				l.ip("-n", l.server, "route", "add", "10.200.9.0/24", "via", "10.200.1.2")
			}
			var relay *net.UDPConn
			var err error
			in(t, l.cns, func() { relay, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 67}) })
			if err != nil {
				t.Fatal(err)
			}
			defer relay.Close()
			relay.SetReadDeadline(time.Now().Add(10 * time.Second)) // only so a lost reply fails instead of hanging
			r := &Reply{Payload: []byte("relayed offer"), Dst: netip.MustParseAddrPort("10.200.9.1:67")}
			if known {
				// No route to 10.200.9.0/24 in the server namespace:
				// only a frame to the router's MAC can arrive.
				r.DstMAC = st.ifc.HardwareAddr
			}
			if err := c.Send(r); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			n, from, err := relay.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if string(buf[:n]) != "relayed offer" || from != netip.MustParseAddrPort("10.200.1.1:67") {
				t.Errorf("relay got %q from %s, want \"relayed offer\" from 10.200.1.1:67", buf[:n], from)
			}
		})
	}
}

// TestRawReadBurst reads bursts of queries, each filling several of the
// receive ring's blocks, until the ring has wrapped around twice: every
// query must arrive once and in order.
func TestRawReadBurst(t *testing.T) {
	_, c, st := rawLab(t, DefaultPorts)
	const burst = 200 // within the kernel's per-CPU backlog of 1,000
	total := 2 * ringBlocks * ringBlockSize / 400
	p := Packet{Buf: make([]byte, 1500)}
	payload := make([]byte, 300)
	for sent := 0; sent < total; sent += burst {
		for i := range burst {
			binary.BigEndian.PutUint32(payload, uint32(sent+i))
			st.send(broadcastMAC, udpPacket("0.0.0.0:68", "255.255.255.255:67", payload))
		}
		for i := range burst {
			if err := c.Read(&p); err != nil {
				t.Fatal(err)
			}
			if got := binary.BigEndian.Uint32(p.Buf); p.N != len(payload) || got != uint32(sent+i) {
				t.Fatalf("read query %d (%d bytes), want %d", got, p.N, sent+i)
			}
		}
	}
}
