package netio

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Sizes of the headers a raw socket sees and writes. Raw sockets here are
// AF_PACKET/SOCK_DGRAM: the kernel adds and strips the Ethernet header, we
// handle IPv4 and UDP.
const (
	ipv4HeaderLen = 20
	udpHeaderLen  = 8
	protoUDP      = 17
)

// errNotForUs is returned for frames the filter should have dropped:
// not IPv4/UDP, fragments, or another port.
var errNotForUs = errors.New("netio: not a UDP datagram for the server port")

// errMalformed is returned for frames whose headers do not add up.
var errMalformed = errors.New("netio: malformed IPv4/UDP datagram")

// parseDatagram finds the UDP payload of an IPv4 packet addressed to
// port, and the addresses and ports around it. b starts at the IPv4 header.
func parseDatagram(b []byte, port uint16) (payload []byte, src, dst netip.AddrPort, err error) {
	if len(b) < ipv4HeaderLen || b[0]>>4 != 4 {
		return nil, src, dst, errMalformed
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < ipv4HeaderLen || total < ihl+udpHeaderLen || total > len(b) {
		return nil, src, dst, errMalformed
	}
	if b[9] != protoUDP || binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 {
		return nil, src, dst, errNotForUs // not UDP, or a fragment
	}
	u := b[ihl:total]
	if binary.BigEndian.Uint16(u[2:4]) != port {
		return nil, src, dst, errNotForUs
	}
	ulen := int(binary.BigEndian.Uint16(u[4:6]))
	if ulen < udpHeaderLen || ulen > len(u) {
		return nil, src, dst, errMalformed
	}
	srcIP := netip.AddrFrom4([4]byte(b[12:16]))
	dstIP := netip.AddrFrom4([4]byte(b[16:20]))
	src = netip.AddrPortFrom(srcIP, binary.BigEndian.Uint16(u[0:2]))
	dst = netip.AddrPortFrom(dstIP, port)
	return u[udpHeaderLen:ulen], src, dst, nil
}

// buildDatagram writes an IPv4/UDP packet carrying payload into buf (which
// must hold len(payload)+28 bytes) and returns it; checksums included.
func buildDatagram(buf []byte, src, dst netip.AddrPort, payload []byte) []byte {
	n := ipv4HeaderLen + udpHeaderLen + len(payload)
	b := buf[:n]
	ip := b[:ipv4HeaderLen]
	ip[0] = 0x45
	ip[1] = 0x10 // low delay, as DHCP servers commonly set
	binary.BigEndian.PutUint16(ip[2:4], uint16(n))
	binary.BigEndian.PutUint16(ip[4:6], 0)
	binary.BigEndian.PutUint16(ip[6:8], 0x4000) // don't fragment
	ip[8] = 64
	ip[9] = protoUDP
	binary.BigEndian.PutUint16(ip[10:12], 0)
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	binary.BigEndian.PutUint16(ip[10:12], checksum(ip, 0))

	u := b[ipv4HeaderLen:]
	binary.BigEndian.PutUint16(u[0:2], src.Port())
	binary.BigEndian.PutUint16(u[2:4], dst.Port())
	binary.BigEndian.PutUint16(u[4:6], uint16(udpHeaderLen+len(payload)))
	binary.BigEndian.PutUint16(u[6:8], 0)
	copy(u[udpHeaderLen:], payload)
	// The UDP checksum covers a pseudo-header of addresses, protocol and length.
	var pseudo uint32
	pseudo += uint32(binary.BigEndian.Uint16(s4[0:2])) + uint32(binary.BigEndian.Uint16(s4[2:4]))
	pseudo += uint32(binary.BigEndian.Uint16(d4[0:2])) + uint32(binary.BigEndian.Uint16(d4[2:4]))
	pseudo += protoUDP + uint32(len(u))
	cs := checksum(u, pseudo)
	if cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:8], cs)
	return b
}

// checksum is the Internet checksum of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
