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

// RawConn is Kea's "raw" socket type on Linux, two sockets on one
// interface:
//
//   - an AF_PACKET SOCK_DGRAM socket with a BPF filter, which hears
//     queries from clients that have no address yet, tells us the frame's
//     source MAC, and sends replies as Kea's LPF filter does: broadcasts,
//     and unicasts (to a yiaddr the client has not configured yet, a
//     relay's giaddr, a renewing client's ciaddr) to the query's source
//     MAC (the kernel builds the Ethernet header from the MAC we name; we
//     build IPv4 and UDP);
//   - a UDP socket bound to 0.0.0.0:port on the interface, which keeps the
//     kernel from answering queries with ICMP port-unreachable and sends
//     the unicast replies whose Ethernet destination is unknown (a
//     loopback interface). It discards what it receives.
//
// Reads are not allocation-free with github.com/mdlayher/packet (its
// ReadFrom returns a fresh address per frame), hence x/sys/unix here.
type RawConn struct {
	iface *net.Interface
	ports Ports
	addrs atomic.Pointer[[]netip.Prefix]
	pkt   *os.File // the packet socket, non-blocking, in Go's poller
	pktRC syscall.RawConn
	udp   *net.UDPConn
	udpRC syscall.RawConn
	// closed tells Read's error after Close apart: the poller reports a
	// closed *os.File with an error os does not export.
	closed atomic.Bool

	// One Read at a time; ring is read under readMu, and wait, the poller
	// callback, is a method value made once, not a closure per packet.
	readMu sync.Mutex
	ring   *rxRing
	wait   func(fd uintptr) bool // parks while the ring is empty
	idle   func()                // ReadIdle's, called when the ring is empty

	// One Send at a time; the frame it sends and the sendmsg arguments
	// live here, and the poller callback is a method value made once.
	sendMu  sync.Mutex
	sendBuf []byte
	sendSA  unix.RawSockaddrLinklayer
	sendMsg unix.Msghdr
	sendIov unix.Iovec
	sendErr unix.Errno
	write   func(fd uintptr) bool
}

// ListenRaw opens the sockets on iface serving addrs; ports.Server is the
// port queries arrive on and replies leave from.
func ListenRaw(iface *net.Interface, addrs []netip.Prefix, ports Ports) (*RawConn, error) {
	f, ring, err := listenPacket(iface, ports.Server)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*RawConn, error) {
		f.Close()
		ring.close()
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fail(fmt.Errorf("netio: raw socket on %s: %w", iface.Name, err))
	}
	udp, err := listenUDP(iface.Name, ports.Server, true)
	if err != nil {
		return fail(err)
	}
	urc, err := udp.SyscallConn()
	if err != nil {
		udp.Close()
		return fail(fmt.Errorf("netio: UDP socket on %s: %w", iface.Name, err))
	}
	c := &RawConn{iface: iface, ports: ports, pkt: f, pktRC: rc, ring: ring, udp: udp, udpRC: urc, sendBuf: make([]byte, 1600)}
	c.wait = c.waitOnce
	c.write = c.writeOnce
	c.SetAddrs(addrs)
	return c, nil
}

// listenPacket opens the filtered packet socket and its receive ring. It
// is created listening to no protocol and bound to ETH_P_IP on iface only
// once the filter and the ring are in place, so no unfiltered frame from
// any interface is ever queued.
func listenPacket(iface *net.Interface, port uint16) (*os.File, *rxRing, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("netio: raw socket on %s: %w (needs CAP_NET_RAW)", iface.Name, err)
	}
	if err := attachFilter(fd, serverFilter(port)); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("netio: filter on %s: %w", iface.Name, err)
	}
	ring, err := setupRing(fd)
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("netio: raw socket on %s: %w", iface.Name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: iface.Index}); err != nil {
		unix.Close(fd)
		ring.close()
		return nil, nil, fmt.Errorf("netio: binding raw socket to %s: %w", iface.Name, err)
	}
	return os.NewFile(uintptr(fd), "packet:"+iface.Name), ring, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// listenUDP binds 0.0.0.0:port on one interface (SO_BINDTODEVICE), with
// SO_BROADCAST and IP_PKTINFO. A discarding socket drops all it receives.
func listenUDP(iface string, port uint16, discard bool) (*net.UDPConn, error) {
	setopts := func(fd int) error {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface); err != nil {
			return fmt.Errorf("SO_BINDTODEVICE: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("SO_REUSEADDR: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
			return fmt.Errorf("SO_BROADCAST: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
			return fmt.Errorf("IP_PKTINFO: %w", err)
		}
		if discard {
			return attachFilter(fd, dropFilter())
		}
		return nil
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = setopts(int(fd)) }); err != nil {
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

// Addrs is the interface addresses the conn serves; callers must not
// modify the slice.
func (c *RawConn) Addrs() []netip.Prefix { return *c.addrs.Load() }

// waitOnce is the poller callback: true once the ring holds a frame. When
// it is empty it calls c.idle, the caller's, before the poller parks.
func (c *RawConn) waitOnce(uintptr) bool {
	if c.ring.ready() {
		return true
	}
	if c.idle != nil {
		c.idle()
	}
	return c.ring.ready()
}

// Read waits for the next query and fills p; p.Buf is reused and the
// DHCP payload moved to its front. It does not allocate once p.SrcMAC has
// room for a MAC.
func (c *RawConn) Read(p *Packet) error {
	return c.ReadIdle(p, nil)
}

// ReadIdle is Read calling idle whenever the socket is empty, before it
// waits (IdleReader).
func (c *RawConn) ReadIdle(p *Packet, idle func()) error {
	if len(p.Buf) == 0 {
		return errors.New("netio: Read needs a buffer")
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	c.idle = idle
	defer func() { c.idle = nil }()
	for {
		if c.closed.Load() {
			return net.ErrClosed
		}
		sa, frame, ok := c.ring.next()
		if !ok {
			if err := c.pktRC.Read(c.wait); err != nil {
				if c.closed.Load() || errors.Is(err, os.ErrClosed) {
					return net.ErrClosed
				}
				return fmt.Errorf("netio: reading on %s: %w", c.iface.Name, err)
			}
			continue
		}
		ok = c.query(p, sa, frame)
		c.ring.done()
		if ok {
			return nil
		}
	}
}

// query fills p from a frame read from the ring, and reports whether the
// frame is a query to serve: not one of our own replies, not another
// host's unicast seen in promiscuous mode, not too big for p.Buf, and a
// well-formed datagram (the filter keeps most others out).
func (c *RawConn) query(p *Packet, sa *unix.RawSockaddrLinklayer, frame []byte) bool {
	if sa.Pkttype == unix.PACKET_OUTGOING || sa.Pkttype == unix.PACKET_OTHERHOST {
		return false
	}
	payload, src, dst, err := parseDatagram(frame, c.ports.Server)
	if err != nil || len(payload) > len(p.Buf) {
		return false
	}
	p.N = copy(p.Buf, payload)
	p.Iface, p.IfIndex = c.iface.Name, c.iface.Index
	p.IfaceAddrs = *c.addrs.Load()
	p.Src, p.Dst = src, dst.Addr()
	halen := min(int(sa.Halen), len(sa.Addr))
	p.SrcMAC = append(p.SrcMAC[:0], sa.Addr[:halen]...)
	return true
}

// Send transmits r out of the packet socket as a frame to r.Dst at DstMAC
// (ff:ff:ff:ff:ff:ff for a broadcast), from the interface address and the
// server port. A unicast reply with no usable DstMAC (see frameTo) goes
// through the UDP socket instead, which lets the kernel resolve the next
// hop; one to an address the client does not have yet (ToClient) cannot.
func (c *RawConn) Send(r *Reply) error {
	src := sourceAddr(r.Src, *c.addrs.Load())
	// The engine's Dst is the IP destination even for a broadcast frame
	// (a client with a ciaddr that set the broadcast flag gets ciaddr).
	mac, dst := r.DstMAC, r.Dst
	if r.Broadcast {
		mac = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	if !r.Broadcast && !r.ToClient && !c.frameTo(mac) {
		return sendUDP(c.udpRC, c.iface.Name, r.Payload, r.Dst, src)
	}
	if len(mac) != 6 {
		return fmt.Errorf("netio: no Ethernet destination for %s on %s", dst, c.iface.Name)
	}
	if !src.IsValid() {
		return fmt.Errorf("netio: no IPv4 address on %s to send from", c.iface.Name)
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if need := len(r.Payload) + ipv4HeaderLen + udpHeaderLen; need > len(c.sendBuf) {
		c.sendBuf = make([]byte, need)
	}
	pkt := buildDatagram(c.sendBuf, netip.AddrPortFrom(src, c.ports.Server), dst, r.Payload)
	if err := c.sendFrame(pkt, mac); err != nil {
		return fmt.Errorf("netio: sending raw to %s (%s) on %s: %w", dst, mac, c.iface.Name, err)
	}
	return nil
}

// frameTo reports whether a unicast reply (to a relay's giaddr, or to a
// renewing client's ciaddr) can go out raw to mac, the query's Ethernet
// source, as Kea's LPF filter sends every reply. That skips the kernel's
// UDP and routing path and its ARP lookup. A loopback interface, or a
// query whose source MAC is unknown, is answered through the UDP socket.
func (c *RawConn) frameTo(mac net.HardwareAddr) bool {
	if len(mac) != 6 || c.iface.Flags&net.FlagLoopback != 0 {
		return false
	}
	for _, b := range mac {
		if b != 0 {
			return true
		}
	}
	return false
}

// sourceAddr is the address a reply leaves from: want if the interface
// has it, else the interface's first address, else invalid.
func sourceAddr(want netip.Addr, addrs []netip.Prefix) netip.Addr {
	for _, p := range addrs {
		if p.Addr() == want {
			return want
		}
	}
	if len(addrs) > 0 {
		return addrs[0].Addr()
	}
	return netip.Addr{}
}

// sendUDP sends payload to dst through c, from src when valid (through
// IP_PKTINFO, so an interface with several addresses answers from the
// one the engine chose).
func sendUDP(rc syscall.RawConn, iface string, payload []byte, dst netip.AddrPort, src netip.Addr) error {
	var oob []byte
	if src.IsValid() {
		oob = pktinfoOOB(src)
	}
	if err := sendmsgInet4(rc, payload, oob, dst); err != nil {
		return fmt.Errorf("netio: sending to %s from %s on %s: %w", dst, src, iface, err)
	}
	return nil
}

// Close releases both sockets and the ring, after waking a blocked Read
// and waiting for it to return.
func (c *RawConn) Close() error {
	c.closed.Store(true)
	err := c.pkt.Close()
	if uerr := c.udp.Close(); err == nil {
		err = uerr
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.ring.mem != nil {
		if rerr := c.ring.close(); err == nil {
			err = rerr
		}
	}
	return err
}
