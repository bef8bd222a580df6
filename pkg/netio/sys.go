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

// sendFrame sends an IP packet as a frame to mac out of ifindex on a
// SOCK_DGRAM packet socket.
func sendFrame(rc syscall.RawConn, pkt []byte, ifindex int, mac net.HardwareAddr) error {
	sa := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(unix.ETH_P_IP), Ifindex: int32(ifindex), Halen: 6}
	copy(sa.Addr[:], mac)
	return sendmsg(rc, pkt, nil, unsafe.Pointer(&sa), unix.SizeofSockaddrLinklayer)
}
