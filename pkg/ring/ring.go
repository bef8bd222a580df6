// Package ring is a bounded lock-free queue for one producer and one
// consumer, the hand-off between the packet reader and one worker.
//
// When the ring is full, Push drops the oldest queued item to make room, as
// Kea's packet queue does: under overload the newest packets are the ones
// whose clients are still waiting for an answer.
package ring

import (
	"sync/atomic"
)

// Ring holds up to a fixed number of *T. Exactly one goroutine may call
// Push and exactly one may call Pop or TryPop.
//
// The slots hold atomic pointers and the consumer claims an item by
// advancing head with a compare-and-swap; the producer drops the oldest item
// the same way, so the two never hand out one item twice and never block
// each other.
type Ring[T any] struct {
	slots []atomic.Pointer[T]
	mask  uint64

	head atomic.Uint64 // next index to consume; moved by the consumer, or by the producer to drop
	tail atomic.Uint64 // next index to fill; moved only by the producer

	sleeping atomic.Bool   // the consumer is blocked, or about to block, in Pop
	wake     chan struct{} // capacity 1: a pending wake-up for the consumer
	closed   atomic.Bool
}

// New returns a ring with room for size items, rounded up to a power of two;
// size 0 or less means 64, Kea's default packet-queue-size.
func New[T any](size int) *Ring[T] {
	if size <= 0 {
		size = 64
	}
	n := 1
	for n < size {
		n <<= 1
	}
	return &Ring[T]{
		slots: make([]atomic.Pointer[T], n),
		mask:  uint64(n - 1),
		wake:  make(chan struct{}, 1),
	}
}

// Cap is the number of items the ring holds.
func (r *Ring[T]) Cap() int { return len(r.slots) }

// Len is the number of items queued right now; a snapshot for statistics.
func (r *Ring[T]) Len() int {
	t, h := r.tail.Load(), r.head.Load()
	if t < h {
		return 0
	}
	return int(t - h)
}

// Push queues v. When the ring is full it first drops the oldest item and
// returns it, so the caller can count the drop and recycle its buffer.
func (r *Ring[T]) Push(v *T) (dropped *T) {
	t := r.tail.Load()
	for {
		h := r.head.Load()
		if t-h < uint64(len(r.slots)) {
			break
		}
		old := r.slots[h&r.mask].Load()
		if r.head.CompareAndSwap(h, h+1) {
			dropped = old
			break
		}
	}
	r.slots[t&r.mask].Store(v)
	r.tail.Store(t + 1)
	if r.sleeping.Load() && r.sleeping.CompareAndSwap(true, false) {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return dropped
}

// TryPop takes the oldest item without blocking; ok is false when the ring
// is empty.
func (r *Ring[T]) TryPop() (v *T, ok bool) {
	for {
		h := r.head.Load()
		if h == r.tail.Load() {
			return nil, false
		}
		v = r.slots[h&r.mask].Load()
		if r.head.CompareAndSwap(h, h+1) {
			return v, true
		}
	}
}

// Pop takes the oldest item, waiting for one if the ring is empty. It
// returns ok false once Close was called and the ring is drained.
func (r *Ring[T]) Pop() (v *T, ok bool) {
	for {
		if v, ok := r.TryPop(); ok {
			return v, true
		}
		if r.closed.Load() {
			return r.TryPop()
		}
		r.sleeping.Store(true)
		// Re-check after announcing sleep: a Push that ran before the
		// announcement did not see it and sent no wake-up.
		if v, ok := r.TryPop(); ok {
			r.sleeping.Store(false)
			return v, true
		}
		if r.closed.Load() {
			r.sleeping.Store(false)
			return r.TryPop()
		}
		<-r.wake
	}
}

// Close wakes a blocked consumer; Pop then drains what is left and reports
// ok false. The producer must not Push after Close.
func (r *Ring[T]) Close() {
	r.closed.Store(true)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}
