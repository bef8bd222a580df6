package netio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// UDPConn is Kea's "udp" socket type: one UDP socket per interface
// (SO_BINDTODEVICE, SO_BROADCAST, IP_PKTINFO). It cannot see a client's
// MAC or reach a client that has no address yet, so such replies are
// broadcast, as Kea does.
type UDPConn struct {
	iface  *net.Interface
	ports  Ports
	addrs  atomic.Pointer[[]netip.Prefix]
	c      *net.UDPConn
	rc     syscall.RawConn
	readMu sync.Mutex
	oob    []byte
}

// ListenUDP opens the socket on iface serving addrs.
func ListenUDP(iface *net.Interface, addrs []netip.Prefix, ports Ports) (*UDPConn, error) {
	c, err := listenUDP(iface.Name, ports.Server, false)
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("netio: UDP socket on %s: %w", iface.Name, err)
	}
	u := &UDPConn{iface: iface, ports: ports, c: c, rc: rc, oob: make([]byte, 128)}
	u.SetAddrs(addrs)
	return u, nil
}

// Iface is the interface name.
func (u *UDPConn) Iface() string { return u.iface.Name }

// SetAddrs updates the interface addresses the conn reports.
func (u *UDPConn) SetAddrs(addrs []netip.Prefix) {
	a := append([]netip.Prefix(nil), addrs...)
	u.addrs.Store(&a)
}

// Addrs is the interface addresses the conn serves; callers must not
// modify the slice.
func (u *UDPConn) Addrs() []netip.Prefix { return *u.addrs.Load() }

// Read waits for the next query; the destination address comes from
// IP_PKTINFO, so a broadcast is told from a unicast. p.SrcMAC is emptied:
// a UDP socket does not see it.
func (u *UDPConn) Read(p *Packet) error {
	u.readMu.Lock()
	defer u.readMu.Unlock()
	n, oobn, _, src, err := u.c.ReadMsgUDPAddrPort(p.Buf, u.oob)
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return net.ErrClosed
		}
		return fmt.Errorf("netio: reading on %s: %w", u.iface.Name, err)
	}
	p.N = n
	p.Iface, p.IfIndex = u.iface.Name, u.iface.Index
	p.IfaceAddrs = *u.addrs.Load()
	p.Src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	p.SrcMAC = p.SrcMAC[:0]
	p.Dst = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	if dst, ok := pktinfoDst(u.oob[:oobn]); ok {
		p.Dst = dst
	}
	return nil
}

// cmsg layout on Linux: a header of {size_t len; int level; int type},
// then the data, each message padded to the alignment of size_t.
const (
	cmsgHdrLen = unix.SizeofCmsghdr
	cmsgAlign  = cmsgHdrLen - 8 // sizeof(size_t)
)

// pktinfoDst finds the header destination address in an IP_PKTINFO
// control message. It parses the bytes itself, allocation-free, where
// unix.ParseSocketControlMessage would allocate a slice per packet.
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	for len(oob) >= cmsgHdrLen {
		var l int
		if cmsgAlign == 8 {
			l = int(min(binary.NativeEndian.Uint64(oob), uint64(len(oob))))
		} else {
			l = int(binary.NativeEndian.Uint32(oob))
		}
		level := int32(binary.NativeEndian.Uint32(oob[cmsgAlign:]))
		typ := int32(binary.NativeEndian.Uint32(oob[cmsgAlign+4:]))
		if l < cmsgHdrLen || l > len(oob) {
			return netip.Addr{}, false
		}
		data := oob[cmsgHdrLen:l]
		if level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo {
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
			return netip.AddrFrom4([4]byte(data[8:12])), true
		}
		next := (l + cmsgAlign - 1) &^ (cmsgAlign - 1)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return netip.Addr{}, false
}

// pktinfoOOB is an IP_PKTINFO control message choosing src as the source
// address of a sent datagram.
func pktinfoOOB(src netip.Addr) []byte {
	b := make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
	l := unix.CmsgLen(unix.SizeofInet4Pktinfo)
	if cmsgAlign == 8 {
		binary.NativeEndian.PutUint64(b, uint64(l))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(l))
	}
	binary.NativeEndian.PutUint32(b[cmsgAlign:], unix.IPPROTO_IP)
	binary.NativeEndian.PutUint32(b[cmsgAlign+4:], unix.IP_PKTINFO)
	a := src.As4()
	copy(b[cmsgHdrLen+4:], a[:]) // ipi_spec_dst
	return b
}

// Send transmits r through the socket, from r.Src when the interface has
// it. A reply meant for a client without an address (ToClient) is
// broadcast, since a UDP socket cannot name a MAC; r.Broadcast needs
// nothing more, as the kernel sends to 255.255.255.255 at ff:ff:ff:ff:ff:ff.
func (u *UDPConn) Send(r *Reply) error {
	dst := r.Dst
	if r.ToClient {
		dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), dst.Port())
	}
	return sendUDP(u.rc, u.iface.Name, r.Payload, dst, sourceAddr(r.Src, *u.addrs.Load()))
}

// Close releases the socket and wakes a blocked Read.
func (u *UDPConn) Close() error { return u.c.Close() }
