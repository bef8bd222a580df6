package netio

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// serverFilter is a classic BPF program keeping only unfragmented IPv4
// UDP datagrams to port. On an AF_PACKET SOCK_DGRAM socket bound to
// ETH_P_IP the program sees the packet from its IPv4 header on.
func serverFilter(port uint16) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 9, Size: 1}, // protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoUDP, SkipTrue: 6},
		bpf.LoadAbsolute{Off: 6, Size: 2},                           // flags and fragment offset
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipTrue: 4}, // MF or an offset: a fragment
		bpf.LoadMemShift{Off: 0},                                    // X = header length
		bpf.LoadIndirect{Off: 2, Size: 2},                           // UDP destination port
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(port), SkipTrue: 1},
		bpf.RetConstant{Val: 1 << 16}, // the whole datagram
		bpf.RetConstant{Val: 0},
	}
}

// dropFilter discards everything: the UDP socket beside a packet socket
// holds the port and sends, and must not queue copies of what the packet
// socket already reads.
func dropFilter() []bpf.Instruction {
	return []bpf.Instruction{bpf.RetConstant{Val: 0}}
}

// attachFilter assembles prog and attaches it to the socket fd.
func attachFilter(fd int, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("assembling BPF: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, ins := range raw {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
}
