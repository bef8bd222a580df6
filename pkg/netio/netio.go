// Package netio is the DHCPv4 server's network edge: sockets that hear
// clients that have no address yet, replies addressed the way Kea
// addresses them, and an interface watcher that opens and closes sockets
// as interfaces come and go.
//
// Two conn types match Kea's dhcp-socket-type:
//
//   - RawConn ("raw", the default on Linux): an AF_PACKET socket behind a
//     BPF filter reads queries with their source MAC; broadcasts and
//     unicasts to an address the client has not configured yet leave as
//     frames built here (IPv4 and UDP with checksums; the kernel adds the
//     Ethernet header for the MAC named). Replies to relays and to a
//     client's ciaddr go through a UDP socket bound to the interface, as
//     Kea sends them, so the kernel resolves the next hop; that socket
//     also stops the kernel answering queries with ICMP port-unreachable.
//   - UDPConn ("udp"): one UDP socket per interface; a reply to a client
//     without an address is broadcast.
//
// The engine decides where a reply goes (Reply); netio applies it and
// sends to Reply.Dst exactly, port included.
package netio

import (
	"net"
	"net/netip"
)

// Packet is one received query: the DHCP payload at Buf[:N] and where it
// came from. Buf is the caller's and is reused; reading allocates nothing
// once SrcMAC has room for a MAC, so a pool of Packets serves a reader.
type Packet struct {
	// Buf receives the datagram (1500 bytes hold any Ethernet frame);
	// the DHCP payload is left at Buf[:N].
	Buf []byte
	N   int
	// Iface and IfIndex name the receiving interface; IfaceAddrs are its
	// IPv4 addresses as the server uses them.
	Iface      string
	IfIndex    int
	IfaceAddrs []netip.Prefix
	// Src is the query's IPv4 source address and port.
	Src netip.AddrPort
	// SrcMAC is the frame's source MAC (empty on UDP sockets, which do
	// not see it).
	SrcMAC net.HardwareAddr
	// Dst is the query's destination address: 255.255.255.255 for a
	// broadcast.
	Dst netip.Addr
}

// Reply is one reply and how to address it, as the engine decided.
type Reply struct {
	// Payload is the DHCP message, Dst where it goes (address and port,
	// used as given).
	Payload []byte
	Dst     netip.AddrPort
	// DstMAC is the Ethernet destination for a reply sent to a client
	// that has no address yet; Broadcast sends to ff:ff:ff:ff:ff:ff.
	DstMAC    net.HardwareAddr
	Broadcast bool
	// Src is the source address; the interface's first address if unset
	// or not the interface's.
	Src netip.Addr
	// ToClient is true when Dst is the address being handed out
	// (yiaddr) rather than one the client already uses: such a reply
	// must go out raw to DstMAC, since the client cannot answer ARP yet.
	ToClient bool
}

// Conn is a socket on one interface.
type Conn interface {
	// Read waits for the next query; it returns net.ErrClosed after Close.
	Read(p *Packet) error
	// Send transmits a reply out of this conn's interface. It keeps
	// neither r nor r.Payload once it returns: the server reuses both.
	Send(r *Reply) error
	// Close releases the sockets and wakes a blocked Read.
	Close() error
	// Iface is the interface name.
	Iface() string
}

// IdleReader is a Conn whose read says when no query is waiting
// (RawConn): ReadIdle is Read, but calls idle, if not nil, each time it
// finds the socket empty, before it blocks. The server hands off the
// queries it has answered there, so the queries that arrived together
// share one flush, at no extra system call.
type IdleReader interface {
	ReadIdle(p *Packet, idle func()) error
}

// Ports are the server and client ports; 67 and 68 unless -p/-P say
// otherwise. Conns listen on and send from Server; Client is carried for
// the engine, which puts it in Reply.Dst.
type Ports struct {
	Server, Client uint16
}

// DefaultPorts are DHCPv4's ports.
var DefaultPorts = Ports{Server: 67, Client: 68}
