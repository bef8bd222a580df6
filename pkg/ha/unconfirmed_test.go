package ha

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// TestUnconfirmed checks the set of addresses whose update is out or
// failed: sending adds the lease's address (a deletion's too), a success
// removes it, a failure keeps it, and the set stops growing at its bound.
func TestUnconfirmed(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")
	put := func(addr netip.Addr) lease.Change { return lease.Change{New: &lease.Lease{Addr: addr}} }
	del := func(addr netip.Addr) lease.Change { return lease.Change{Old: &lease.Lease{Addr: addr}} }
	failed := errors.New("partner answered error")

	var m Machine
	sent := []lease.Change{put(a), del(b)}
	m.UpdatesSending(sent)
	if !m.LeaseUnconfirmed(a) || !m.LeaseUnconfirmed(b) {
		t.Fatalf("while the update is out: a %v, b %v; want both unconfirmed", m.LeaseUnconfirmed(a), m.LeaseUnconfirmed(b))
	}
	m.UpdatesDone(sent, failed)
	if !m.LeaseUnconfirmed(a) || !m.LeaseUnconfirmed(b) {
		t.Fatalf("after a failed update: a %v, b %v; want both unconfirmed", m.LeaseUnconfirmed(a), m.LeaseUnconfirmed(b))
	}
	m.UpdatesSending([]lease.Change{put(a)})
	m.UpdatesDone([]lease.Change{put(a)}, nil)
	if m.LeaseUnconfirmed(a) || !m.LeaseUnconfirmed(b) {
		t.Errorf("after a's update succeeded: a %v, b %v; want only b", m.LeaseUnconfirmed(a), m.LeaseUnconfirmed(b))
	}
	m.UpdatesDone([]lease.Change{del(b)}, nil)
	if m.LeaseUnconfirmed(b) || m.unconfirmed.n.Load() != 0 {
		t.Errorf("after b's update succeeded the set holds %d", m.unconfirmed.n.Load())
	}

	var full Machine
	base := netip.MustParseAddr("10.0.0.0")
	changes := make([]lease.Change, maxUnconfirmed+1)
	for i := range changes {
		changes[i] = put(base)
		base = base.Next()
	}
	full.UpdatesSending(changes)
	if n := full.unconfirmed.n.Load(); n != maxUnconfirmed {
		t.Errorf("set holds %d, want its bound %d", n, maxUnconfirmed)
	}
}
