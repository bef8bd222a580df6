package lease

import (
	"testing"
	"unsafe"
)

// TestLeaseSize guards the field order of Lease: a server keeps one per
// client, and 8 bytes more would move it into the next allocation class,
// 16 bytes more per lease.
func TestLeaseSize(t *testing.T) {
	if n := unsafe.Sizeof(Lease{}); n > 144 {
		t.Errorf("a Lease is %d bytes, over the 144-byte allocation class", n)
	}
}
