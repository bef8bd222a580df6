package netio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDPConn is Kea's "udp" socket type: one UDP socket per interface. It
// cannot see a client's MAC or reach a client that has no address yet, so
// the engine broadcasts such replies (Network.DirectResponse false).
type UDPConn struct {
	iface *net.Interface
	ports Ports
	addrs atomic.Pointer[[]netip.Prefix]
	c     *net.UDPConn
	oob   []byte
}

// ListenUDP opens the socket on iface serving addrs.
func ListenUDP(iface *net.Interface, addrs []netip.Prefix, ports Ports) (*UDPConn, error) {
	c, err := listenUDP(iface.Name, ports.Server, false)
	if err != nil {
		return nil, err
	}
	u := &UDPConn{iface: iface, ports: ports, c: c, oob: make([]byte, 128)}
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

// Read waits for the next query; the destination address comes from
// IP_PKTINFO, so a broadcast is told from a unicast.
func (u *UDPConn) Read(p *Packet) error {
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
	p.Dst = pktinfoDst(u.oob[:oobn])
	return nil
}

// pktinfoDst reads the header destination address from an IP_PKTINFO
// control message; unknown means broadcast, the common case for a query.
func pktinfoDst(oob []byte) netip.Addr {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo {
				info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&m.Data[0]))
				return netip.AddrFrom4(info.Addr)
			}
		}
	}
	return netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// Send transmits r through the socket; a reply meant for a client without
// an address is broadcast, since a UDP socket cannot name a MAC.
func (u *UDPConn) Send(r *Reply) error {
	dst := r.Dst
	if r.Broadcast || r.ToClient {
		dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), dst.Port())
	}
	if _, err := u.c.WriteToUDPAddrPort(r.Payload, dst); err != nil {
		return fmt.Errorf("netio: sending to %s on %s: %w", dst, u.iface.Name, err)
	}
	return nil
}

// Close releases the socket.
func (u *UDPConn) Close() error { return u.c.Close() }
