package netio

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The packet socket receives into a TPACKET_V3 ring mapped into our
// memory. The kernel fills a block with frames and hands it over when it
// is full or when ringRetire has passed since the block was opened, and
// only then wakes the reader. With queries a few hundred microseconds
// apart, a reader woken per query spent a quarter of the server's CPU
// going to sleep and waking up; woken per block it reads several queries
// per wake-up, with no system call per query at all. The price is up to
// ringRetire of added latency, small beside a DHCP client's
// retransmission timers and the lease file's commit window. (With 1 ms
// the server used a fifth more CPU at 1,000 queries/s than with 2 ms; 4 ms
// saved nothing more.) The kernel maps the whole ring into our memory at
// once, so its size counts in full in the resident set: 1 MiB holds five
// times what Kea's default socket buffer does.
const (
	ringBlockSize = 32 << 10 // about 75 DISCOVERs
	ringBlocks    = 32       // 1 MiB: a burst of about 2,400 queries, or 64 ms of slow traffic
	ringFrameSize = 2048     // only checked by the kernel in V3: frames are packed
	ringRetire    = 2        // milliseconds
)

// Offsets into the kernel's structures (linux/if_packet.h), which
// x/sys/unix gives only as opaque bytes for the block header.
const (
	blockStatusOff = 8  // tpacket_block_desc.hdr.bh1.block_status
	blockNumOff    = 12 // .num_pkts
	blockFirstOff  = 16 // .offset_to_first_pkt
	frameSAOff     = (unix.SizeofTpacket3Hdr + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1)
)

// rxRing reads frames from a packet socket's TPACKET_V3 ring. It is not
// safe for concurrent use; RawConn's readMu guards it.
type rxRing struct {
	mem   []byte
	cur   int  // the block being read, or the next one to wait for
	owned bool // the kernel has handed cur over
	left  int  // frames of cur not yet read
	off   int  // offset in cur of the next frame
}

// setupRing turns fd's receive path into a ring and maps it. It must run
// before the socket is bound, so that no frame is queued the old way.
func setupRing(fd int) (*rxRing, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("PACKET_VERSION TPACKET_V3: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     ringBlockSize,
		Block_nr:       ringBlocks,
		Frame_size:     ringFrameSize,
		Frame_nr:       ringBlockSize / ringFrameSize * ringBlocks,
		Retire_blk_tov: ringRetire,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("PACKET_RX_RING: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, ringBlockSize*ringBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping the receive ring: %w", err)
	}
	return &rxRing{mem: mem}, nil
}

// close unmaps the ring; the socket must no longer be read.
func (r *rxRing) close() error {
	mem := r.mem
	r.mem = nil
	return unix.Munmap(mem)
}

// status is the word the kernel and we hand block i over with.
func (r *rxRing) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[i*ringBlockSize+blockStatusOff]))
}

// ready reports whether a frame is waiting: in the block being read, or
// in the next one, which the kernel has handed over.
func (r *rxRing) ready() bool {
	return r.left > 0 || atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER != 0
}

// next returns the next frame's link-layer address and network-layer
// bytes, valid until done; ok is false when the kernel has handed over
// nothing more. Call done after each frame. A frame whose header points
// outside its block (which the kernel never writes) ends the block, so a
// damaged ring cannot make us read out of bounds.
func (r *rxRing) next() (sa *unix.RawSockaddrLinklayer, data []byte, ok bool) {
	for {
		if r.left == 0 && !r.open() {
			return nil, nil, false
		}
		block := r.mem[r.cur*ringBlockSize : (r.cur+1)*ringBlockSize]
		sa, data, next, ok := frameAt(block, r.off)
		r.left--
		r.off += next
		if !ok || next == 0 {
			r.left = 0
		}
		if ok {
			return sa, data, true
		}
		r.done()
	}
}

// done hands the current block back to the kernel once all its frames
// are read.
func (r *rxRing) done() {
	if r.owned && r.left == 0 {
		r.release()
	}
}

// open takes over the current block if the kernel has handed it over.
func (r *rxRing) open() bool {
	for atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER != 0 {
		base := r.cur * ringBlockSize
		r.owned = true
		// Compared as uint32 first: on 32-bit ARM a large count or
		// offset would turn negative as an int.
		r.left = int(min(*(*uint32)(unsafe.Pointer(&r.mem[base+blockNumOff])), ringBlockSize/unix.TPACKET_ALIGNMENT))
		r.off = int(min(*(*uint32)(unsafe.Pointer(&r.mem[base+blockFirstOff])), ringBlockSize))
		if r.left > 0 {
			return true
		}
		r.release() // an empty block: nothing to read in it
	}
	return false
}

// release hands the current block back to the kernel and moves on.
func (r *rxRing) release() {
	atomic.StoreUint32(r.status(r.cur), unix.TP_STATUS_KERNEL)
	r.cur = (r.cur + 1) % (len(r.mem) / ringBlockSize)
	r.owned, r.left = false, 0
}

// frameAt decodes the tpacket3_hdr at off in block: the frame's
// sockaddr_ll, its data and the offset of the next frame (0 for none).
func frameAt(block []byte, off int) (sa *unix.RawSockaddrLinklayer, data []byte, next int, ok bool) {
	if off < 0 || off+frameSAOff+unix.SizeofSockaddrLinklayer > len(block) {
		return nil, nil, 0, false
	}
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&block[off]))
	next = int(min(h.Next_offset, ringBlockSize))
	start := off + int(h.Net)
	if int(h.Net) < frameSAOff+unix.SizeofSockaddrLinklayer || h.Snaplen > ringBlockSize || start+int(h.Snaplen) > len(block) {
		return nil, nil, next, false
	}
	sa = (*unix.RawSockaddrLinklayer)(unsafe.Pointer(&block[off+frameSAOff]))
	return sa, block[start : start+int(h.Snaplen)], next, true
}
