package netio

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// block builds one ring block as the kernel hands it over, holding
// frames with the given payloads.
func block(payloads ...[]byte) []byte {
	b := make([]byte, ringBlockSize)
	le := binary.LittleEndian
	le.PutUint32(b[blockStatusOff:], unix.TP_STATUS_USER)
	le.PutUint32(b[blockNumOff:], uint32(len(payloads)))
	const first = 48
	le.PutUint32(b[blockFirstOff:], first)
	off := first
	for i, p := range payloads {
		net := frameSAOff + 32
		size := (net + len(p) + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1)
		if i < len(payloads)-1 {
			le.PutUint32(b[off:], uint32(size)) // tp_next_offset
		}
		le.PutUint32(b[off+12:], uint32(len(p))) // tp_snaplen
		le.PutUint32(b[off+16:], uint32(len(p))) // tp_len
		le.PutUint16(b[off+26:], uint16(net))    // tp_net
		b[off+frameSAOff+10] = unix.PACKET_HOST  // sll_pkttype
		copy(b[off+net:], p)
		off += size
	}
	return b
}

// TestRingNext reads frames across blocks and checks that each block
// goes back to the kernel only once all its frames are read, and that
// reading stops at a block the kernel still owns.
func TestRingNext(t *testing.T) {
	mem := append(append(block([]byte("one"), []byte("two")), block([]byte("three"))...), make([]byte, ringBlockSize)...)
	r := &rxRing{mem: mem}
	for i, want := range []string{"one", "two", "three"} {
		if !r.ready() {
			t.Fatalf("frame %d: ring not ready", i)
		}
		_, data, ok := r.next()
		if !ok || string(data) != want {
			t.Fatalf("frame %d: %q, %v; want %q", i, data, ok, want)
		}
		if i == 1 && *r.status(0) != unix.TP_STATUS_USER {
			t.Errorf("block 0 returned to the kernel before its last frame was used")
		}
		r.done()
	}
	if *r.status(0) != unix.TP_STATUS_KERNEL || *r.status(1) != unix.TP_STATUS_KERNEL {
		t.Errorf("read blocks not returned: status %d, %d", *r.status(0), *r.status(1))
	}
	if r.ready() {
		t.Error("ready at a block the kernel owns")
	}
	if _, _, ok := r.next(); ok {
		t.Error("read from a block the kernel owns")
	}
	if r.cur != 2 {
		t.Errorf("waiting at block %d, want 2", r.cur)
	}
}

// TestRingDamaged checks that frame headers pointing outside their block
// end the block instead of reading out of bounds.
func TestRingDamaged(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name  string
		spoil func(b []byte)
	}{
		{"first frame past the end", func(b []byte) { le.PutUint32(b[blockFirstOff:], ringBlockSize-8) }},
		{"data past the end", func(b []byte) { le.PutUint32(b[48+12:], ringBlockSize) }},
		{"data over the header", func(b []byte) { le.PutUint16(b[48+26:], 4) }},
		{"next frame past the end", func(b []byte) { le.PutUint32(b[48:], 1<<31) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := block([]byte("one"), []byte("two"))
			tt.spoil(b)
			r := &rxRing{mem: append(b, make([]byte, ringBlockSize)...)}
			for range 3 {
				if _, _, ok := r.next(); !ok {
					break
				}
				r.done()
			}
			if *r.status(0) != unix.TP_STATUS_KERNEL || r.cur != 1 {
				t.Errorf("damaged block not returned: status %d, at block %d", *r.status(0), r.cur)
			}
		})
	}
}

// FuzzRing reads arbitrary bytes as a handed-over block: reading never
// goes outside it (which would panic), and the block goes back to the
// kernel.
func FuzzRing(f *testing.F) {
	f.Add(block([]byte("one"), []byte("two"))[:512])
	f.Add(block(make([]byte, 300))[:512])
	f.Fuzz(func(t *testing.T, in []byte) {
		b := make([]byte, ringBlockSize)
		copy(b, in)
		binary.LittleEndian.PutUint32(b[blockStatusOff:], unix.TP_STATUS_USER)
		r := &rxRing{mem: append(b, make([]byte, ringBlockSize)...)}
		for range ringBlockSize {
			if _, _, ok := r.next(); !ok {
				break
			}
			r.done()
		}
		if *r.status(0) != unix.TP_STATUS_KERNEL {
			t.Error("block not returned to the kernel")
		}
	})
}

// BenchmarkRingRead reads DISCOVER-sized queries from blocks handed over
// in memory: what reading a query costs us, now that the kernel's part
// is done without a system call per query.
func BenchmarkRingRead(b *testing.B) {
	q := udpPacket("0.0.0.0:68", "255.255.255.255:67", make([]byte, 300))
	frames := make([][]byte, 70)
	for i := range frames {
		frames[i] = q
	}
	blk := block(frames...)
	r := &rxRing{mem: append(append([]byte(nil), blk...), blk...)}
	c := &RawConn{iface: &net.Interface{Name: "bench0"}, ports: DefaultPorts, ring: r}
	c.SetAddrs([]netip.Prefix{netip.MustParsePrefix("10.200.1.1/24")})
	p := Packet{Buf: make([]byte, 1500), SrcMAC: make(net.HardwareAddr, 0, 16)}
	b.ReportAllocs()
	for b.Loop() {
		sa, frame, ok := r.next()
		if !ok { // both blocks read: hand them over again
			*r.status(0), *r.status(1) = unix.TP_STATUS_USER, unix.TP_STATUS_USER
			continue
		}
		if !c.query(&p, sa, frame) {
			b.Fatal("query refused")
		}
		r.done()
	}
}
