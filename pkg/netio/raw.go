package netio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// RawConn is Kea's "raw" socket type on Linux: an AF_PACKET socket that
// hears broadcast queries from clients with no address, plus a UDP socket
// on the server port that keeps the kernel from answering those queries
// with ICMP port-unreachable and sends replies to addresses the kernel can
// route (relays, clients renewing from their own address).
type RawConn struct {
	iface   *net.Interface
	ports   Ports
	addrs   atomic.Pointer[[]netip.Prefix]
	pkt     *os.File // AF_PACKET, SOCK_DGRAM, non-blocking, in Go's poller
	pktRaw  syscall.RawConn
	udp     *net.UDPConn
	sendMu  sync.Mutex
	sendBuf []byte
}

// ListenRaw opens the sockets on iface serving addrs.
func ListenRaw(iface *net.Interface, addrs []netip.Prefix, ports Ports) (*RawConn, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return nil, fmt.Errorf("netio: raw socket on %s: %w (needs CAP_NET_RAW)", iface.Name, err)
	}
	if err := attachFilter(fd, ports.Server); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netio: filter on %s: %w", iface.Name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: iface.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netio: binding raw socket to %s: %w", iface.Name, err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+iface.Name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	udp, err := listenUDP(iface.Name, ports.Server, true)
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &RawConn{iface: iface, ports: ports, pkt: f, pktRaw: rc, udp: udp, sendBuf: make([]byte, 1600)}
	c.SetAddrs(addrs)
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// attachFilter installs a classic BPF program that keeps only unfragmented
// IPv4 UDP datagrams to the server port; the packet starts at the IPv4
// header on a SOCK_DGRAM packet socket.
func attachFilter(fd int, port uint16) error {
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 9},                      // A = ip protocol
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 6, K: 17},      // UDP?
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 6},                      // A = flags+fragment offset
		{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 4, Jf: 0, K: 0x1fff}, // a fragment? drop
		{Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 0},                     // X = IP header length
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 2},                      // A = UDP destination port
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: uint32(port)},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff}, // accept
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},      // drop
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
}

// dropAll is a filter that discards every datagram: the UDP socket of a
// raw conn exists for its port binding and for sending, and must not fill
// its buffer with copies of what the packet socket already reads.
func dropAll(fd int) error {
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: 1, Filter: &prog[0]})
}

// listenUDP binds 0.0.0.0:port on one interface, with SO_BROADCAST.
func listenUDP(iface string, port uint16, discard bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1); serr != nil {
				return
			}
			if discard {
				serr = dropAll(int(fd))
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		return nil, fmt.Errorf("netio: UDP socket on %s port %d: %w", iface, port, err)
	}
	return pc.(*net.UDPConn), nil
}

// Iface is the interface name.
func (c *RawConn) Iface() string { return c.iface.Name }

// SetAddrs updates the interface addresses the conn reports, when netlink
// says they changed.
func (c *RawConn) SetAddrs(addrs []netip.Prefix) {
	a := append([]netip.Prefix(nil), addrs...)
	c.addrs.Store(&a)
}

// Read waits for the next query.
func (c *RawConn) Read(p *Packet) error {
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		err := c.pktRaw.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), p.Buf, 0)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return net.ErrClosed
			}
			return err
		}
		if rerr != nil {
			return fmt.Errorf("netio: reading on %s: %w", c.iface.Name, rerr)
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		payload, src, dst, err := parseDatagram(p.Buf[:n], c.ports.Server)
		if err != nil {
			continue // the filter keeps these out; a short read is dropped
		}
		// Move the DHCP payload to the front of the caller's buffer.
		p.N = copy(p.Buf, payload)
		p.Iface, p.IfIndex = c.iface.Name, c.iface.Index
		p.IfaceAddrs = *c.addrs.Load()
		p.Src, p.Dst = src, dst.Addr()
		p.SrcMAC = append(p.SrcMAC[:0], ll.Addr[:ll.Halen]...)
		return nil
	}
}

// Send transmits r: raw to a MAC address when the client has no address
// yet or the reply is broadcast, through the UDP socket otherwise.
func (c *RawConn) Send(r *Reply) error {
	src := r.Src
	if !src.IsValid() {
		if a := *c.addrs.Load(); len(a) > 0 {
			src = a[0].Addr()
		} else {
			src = netip.IPv4Unspecified()
		}
	}
	if !r.Broadcast && !r.ToClient {
		_, err := c.udp.WriteToUDPAddrPort(r.Payload, r.Dst)
		if err != nil {
			return fmt.Errorf("netio: sending to %s on %s: %w", r.Dst, c.iface.Name, err)
		}
		return nil
	}
	mac := r.DstMAC
	dst := r.Dst
	if r.Broadcast {
		mac = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	if len(mac) != 6 {
		return fmt.Errorf("netio: no Ethernet destination for %s on %s", dst, c.iface.Name)
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if need := len(r.Payload) + ipv4HeaderLen + udpHeaderLen; need > len(c.sendBuf) {
		c.sendBuf = make([]byte, need)
	}
	frame := buildDatagram(c.sendBuf, netip.AddrPortFrom(src, c.ports.Server), dst, r.Payload)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: c.iface.Index, Halen: 6}
	copy(to.Addr[:], mac)
	var serr error
	err := c.pktRaw.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), frame, 0, to)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("netio: sending raw to %s (%s) on %s: %w", dst, mac, c.iface.Name, err)
	}
	return nil
}

// Close releases both sockets.
func (c *RawConn) Close() error {
	err := c.pkt.Close()
	if uerr := c.udp.Close(); err == nil {
		err = uerr
	}
	return err
}
