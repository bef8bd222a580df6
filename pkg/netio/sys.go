package netio

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The packet path's system calls on sockets go through unix.RawSyscall6.
// The sockets are non-blocking, so these calls never wait, and a raw call
// does not announce itself to the Go scheduler. An announced one
// (entersyscall) wakes the runtime's sysmon thread whenever the process
// had gone idle, and sysmon then polls every 20µs for a millisecond or
// more: with queries arriving a few hundred microseconds apart that
// polling cost more CPU than answering them.

// sendmsg sends one datagram on a non-blocking socket through rc,
// waiting in the poller only if the send buffer is full.
func sendmsg(rc syscall.RawConn, payload, oob []byte, name unsafe.Pointer, namelen uint32) error {
	var msg unix.Msghdr
	iov := unix.Iovec{Base: unsafe.SliceData(payload)}
	iov.SetLen(len(payload))
	msg.Name, msg.Namelen = (*byte)(name), namelen
	msg.Iov = &iov
	msg.SetIovlen(1)
	if len(oob) > 0 {
		msg.Control = unsafe.SliceData(oob)
		msg.SetControllen(len(oob))
	}
	var errno unix.Errno
	err := rc.Write(func(fd uintptr) bool {
		_, _, errno = unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
		return errno != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// sendmsgInet4 sends payload to dst with oob as control data.
func sendmsgInet4(rc syscall.RawConn, payload, oob []byte, dst netip.AddrPort) error {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Port: htons(dst.Port()), Addr: dst.Addr().Unmap().As4()}
	return sendmsg(rc, payload, oob, unsafe.Pointer(&sa), unix.SizeofSockaddrInet4)
}

// sendFrame sends an IP packet as a frame to mac out of c's interface,
// with the arguments kept in c so that nothing is allocated per reply.
// The caller holds sendMu.
func (c *RawConn) sendFrame(pkt []byte, mac net.HardwareAddr) error {
	c.sendSA = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(unix.ETH_P_IP),
		Ifindex: int32(c.iface.Index), Halen: 6}
	copy(c.sendSA.Addr[:], mac)
	c.sendIov = unix.Iovec{Base: unsafe.SliceData(pkt)}
	c.sendIov.SetLen(len(pkt))
	c.sendMsg = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&c.sendSA)), Namelen: unix.SizeofSockaddrLinklayer, Iov: &c.sendIov}
	c.sendMsg.SetIovlen(1)
	c.sendErr = 0
	err := c.pktRC.Write(c.write)
	c.sendIov.Base = nil // keep no reference to the frame
	if err != nil {
		return err
	}
	if c.sendErr != 0 {
		return c.sendErr
	}
	return nil
}

// writeOnce is sendFrame's poller callback: false (wait for room) only
// when the send buffer is full.
func (c *RawConn) writeOnce(fd uintptr) bool {
	_, _, c.sendErr = unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&c.sendMsg)), 0)
	return c.sendErr != unix.EAGAIN
}
