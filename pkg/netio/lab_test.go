package netio

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// A lab is two network namespaces, "server" and "client", which the test
// creates and removes; links between them are veth pairs.
type lab struct {
	t              testing.TB
	server, client string // namespace names
	sns, cns       netns.NsHandle
}

// newLab creates the namespaces, or skips the test when not root.
func newLab(t testing.TB) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and packet sockets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("needs iproute2's ip: %v", err)
	}
	id := make([]byte, 4)
	rand.Read(id)
	l := &lab{t: t, server: "tl-netio-" + hex.EncodeToString(id) + "-s", client: "tl-netio-" + hex.EncodeToString(id) + "-c"}
	for _, ns := range []string{l.server, l.client} {
		l.ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		l.ip("-n", ns, "link", "set", "lo", "up")
	}
	var err error
	if l.sns, err = netns.GetFromName(l.server); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.sns.Close() })
	if l.cns, err = netns.GetFromName(l.client); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.cns.Close() })
	return l
}

// ip runs ip(8) with args, failing the test on error.
func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// link creates a veth pair, name in the server namespace and name+"c" in
// the client namespace, both up; addr (if any) goes on the server end.
func (l *lab) link(name, addr string) {
	l.t.Helper()
	l.ip("-n", l.server, "link", "add", name, "type", "veth", "peer", "name", name+"c", "netns", l.client)
	if addr != "" {
		l.ip("-n", l.server, "addr", "add", addr, "dev", name)
	}
	l.ip("-n", l.server, "link", "set", name, "up")
	l.ip("-n", l.client, "link", "set", name+"c", "up")
}

// in runs f on a thread in namespace ns and waits for it. The thread is
// never unlocked, so Go discards it afterwards instead of reusing it.
func in(t testing.TB, ns netns.NsHandle, f func()) {
	t.Helper()
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err = netns.Set(ns); err != nil {
			return
		}
		f()
	}()
	<-done
	if err != nil {
		t.Fatalf("entering namespace: %v", err)
	}
}

// goIn starts f on a thread in namespace ns without waiting.
func goIn(ns netns.NsHandle, f func()) {
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			panic(err)
		}
		f()
	}()
}

// iface looks an interface up inside ns.
func iface(t testing.TB, ns netns.NsHandle, name string) *net.Interface {
	t.Helper()
	var ifc *net.Interface
	var err error
	in(t, ns, func() { ifc, err = net.InterfaceByName(name) })
	if err != nil {
		t.Fatal(err)
	}
	return ifc
}

// station is a packet socket on the client end of a link: it sends
// hand-made IPv4 frames and captures whole Ethernet frames.
type station struct {
	t   testing.TB
	fd  int
	ifc *net.Interface
}

func (l *lab) station(name string) *station {
	t := l.t
	t.Helper()
	s := &station{t: t, ifc: iface(t, l.cns, name)}
	var err error
	in(t, l.cns, func() {
		s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
		if err != nil {
			return
		}
		err = unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: s.ifc.Index})
	})
	if err != nil {
		t.Fatalf("station socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	// A receive timeout only turns a lost frame into a failure instead
	// of a hang; no result depends on it.
	tv := unix.Timeval{Sec: 10}
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return s
}

// send transmits an IPv4 packet in an Ethernet frame to dstMAC.
func (s *station) send(dstMAC net.HardwareAddr, ipPacket []byte) {
	s.t.Helper()
	frame := append(append(append([]byte{}, dstMAC...), s.ifc.HardwareAddr...), 0x08, 0x00)
	frame = append(frame, ipPacket...)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: s.ifc.Index, Halen: 6}
	copy(to.Addr[:], dstMAC)
	if err := unix.Sendto(s.fd, frame, 0, to); err != nil {
		s.t.Fatalf("station send: %v", err)
	}
}

// frame is a captured UDP datagram and its Ethernet addresses.
type frame struct {
	dstMAC, srcMAC net.HardwareAddr
	src, dst       netip.AddrPort
	payload        []byte
	ipHeader, udp  []byte
}

// recvUDP returns the next incoming IPv4/UDP frame to port.
func (s *station) recvUDP(port uint16) frame {
	s.t.Helper()
	buf := make([]byte, 2048)
	for {
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			s.t.Fatalf("station receive: %v", err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n < 14 || binary.BigEndian.Uint16(buf[12:14]) != unix.ETH_P_IP {
			continue
		}
		b := append([]byte{}, buf[14:n]...)
		payload, src, dst, err := parseDatagram(b, port)
		if err != nil {
			continue
		}
		ihl := int(b[0]&0x0f) * 4
		return frame{dstMAC: append(net.HardwareAddr{}, buf[0:6]...), srcMAC: append(net.HardwareAddr{}, buf[6:12]...),
			src: src, dst: dst, payload: payload, ipHeader: b[:ihl], udp: b[ihl:]}
	}
}

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// udpPacket is an IPv4/UDP packet as a client would send it.
func udpPacket(src, dst string, payload []byte) []byte {
	return buildDatagram(make([]byte, 28+len(payload)), netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst), payload)
}

// recvWithin fails the test if ch yields nothing in a long while; it
// only keeps a broken test from hanging.
func recvWithin[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// eventually reports whether cond holds within 20 s, looking every 10 ms:
// for state the kernel's events settle in some order.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// recvPortUnreachable returns the destination port of the datagram the
// next incoming ICMP port-unreachable complains about.
func (s *station) recvPortUnreachable() uint16 {
	s.t.Helper()
	buf := make([]byte, 2048)
	for {
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			s.t.Fatalf("station receive: %v", err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		b := buf[14:n]
		if n < 14+ipv4HeaderLen || b[9] != unix.IPPROTO_ICMP {
			continue
		}
		icmp := b[int(b[0]&0x0f)*4:]
		// type 3 code 3, then the offending IPv4 header and UDP ports.
		if len(icmp) < 8+ipv4HeaderLen+4 || icmp[0] != 3 || icmp[1] != 3 {
			continue
		}
		orig := icmp[8:]
		udp := orig[int(orig[0]&0x0f)*4:]
		return binary.BigEndian.Uint16(udp[2:4])
	}
}
