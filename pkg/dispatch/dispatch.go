// Package dispatch spreads received packets over worker goroutines so that
// all packets of one client go to one worker, in arrival order, and no two
// workers ever handle the same client at once.
//
// Each packet reader is a Producer with its own lock-free single-producer
// single-consumer ring into every worker. A worker drains its rings in turn
// and sleeps only when all of them are empty, so readers never wait on each
// other or on a lock.
//
// Waking a sleeping worker costs two thread switches, more CPU than
// answering a query. With SetInline, a producer whose item is for a
// sleeping worker handles it itself, standing in for that worker, so at
// low and middling rates most queries need no hand-off at all; under load
// the workers are awake and every item goes through the rings.
package dispatch

import (
	"sync"
	"sync/atomic"

	"github.com/twinleaf/twinleaf/pkg/ring"
)

// Pool is a fixed set of workers fed by any number of producers.
type Pool[T any] struct {
	queueSize int
	handle    func(worker int, v *T)
	idle      func(worker int)
	workers   []*worker[T]
	inline    bool
	mu        sync.Mutex // serialises NewProducer only; never taken per packet
	wg        sync.WaitGroup
}

type worker[T any] struct {
	rings    atomic.Pointer[[]*ring.Ring[T]] // one per producer, copy-on-write
	sleeping atomic.Bool
	// busy is held by whoever is acting as this worker, its own goroutine
	// or a producer standing in for it: that one alone pops its rings
	// and calls handle and idle with its index, so one client's items
	// are still handled one at a time, in order.
	busy   atomic.Bool
	wake   chan struct{}
	closed atomic.Bool
}

// New starts workers goroutines (at least one), each calling handle for
// every item it receives and then, once its rings are empty, idle (if not
// nil) before it sleeps: work handle deferred, such as one flush for a
// batch, is done there. queueSize is the capacity of each ring, Kea's
// packet-queue-size; 0 means Kea's default of 64.
func New[T any](workers, queueSize int, handle func(worker int, v *T), idle func(worker int)) *Pool[T] {
	if workers < 1 {
		workers = 1
	}
	if idle == nil {
		idle = func(int) {}
	}
	p := &Pool[T]{queueSize: queueSize, handle: handle, idle: idle}
	for i := 0; i < workers; i++ {
		w := &worker[T]{wake: make(chan struct{}, 1)}
		w.rings.Store(&[]*ring.Ring[T]{})
		p.workers = append(p.workers, w)
		p.wg.Add(1)
		go p.run(i, w)
	}
	return p
}

// SetInline lets producers handle an item themselves when its worker is
// asleep (see the package comment). Call it before the first Submit.
func (p *Pool[T]) SetInline(on bool) { p.inline = on }

// Workers is the number of worker goroutines.
func (p *Pool[T]) Workers() int { return len(p.workers) }

// QueueLen is the number of items waiting for worker i, a snapshot for
// status-get's queue statistics.
func (p *Pool[T]) QueueLen(i int) int {
	n := 0
	for _, r := range *p.workers[i].rings.Load() {
		n += r.Len()
	}
	return n
}

// Producer is one reader's way into the pool. Submit must only ever be
// called from one goroutine at a time.
type Producer[T any] struct {
	pool  *Pool[T]
	rings []*ring.Ring[T] // index = worker
}

// NewProducer adds a ring into every worker for a new reader.
func (p *Pool[T]) NewProducer() *Producer[T] {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := &Producer[T]{pool: p}
	for _, w := range p.workers {
		r := ring.New[T](p.queueSize)
		old := *w.rings.Load()
		next := append(append(make([]*ring.Ring[T], 0, len(old)+1), old...), r)
		w.rings.Store(&next)
		pr.rings = append(pr.rings, r)
	}
	return pr
}

// Submit queues v for the worker chosen by key, a hash of the client's
// identity. When that worker's ring is full the oldest item is dropped and
// returned, so the caller can count it and reuse its buffer.
func (pr *Producer[T]) Submit(key uint64, v *T) (dropped *T) {
	i := int(key % uint64(len(pr.rings)))
	p, w := pr.pool, pr.pool.workers[i]
	if p.inline && w.sleeping.Load() && w.busy.CompareAndSwap(false, true) {
		// Stand in for the sleeping worker: whatever other producers
		// queued for it first, then v.
		p.drain(i, w)
		p.handle(i, v)
		p.idle(i)
		p.release(w)
		return nil
	}
	dropped = pr.rings[i].Push(v)
	if w.sleeping.Load() && w.sleeping.CompareAndSwap(true, false) {
		w.wakeUp()
	}
	return dropped
}

// release gives up acting as w, and wakes w's goroutine if items came in
// meanwhile (a producer that queued them saw w busy and left them to
// whoever held it) or the pool is closing.
func (p *Pool[T]) release(w *worker[T]) {
	w.busy.Store(false)
	if w.pending() || w.closed.Load() {
		w.wakeUp()
	}
}

func (w *worker[T]) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// pending reports whether any of w's rings holds an item.
func (w *worker[T]) pending() bool {
	for _, r := range *w.rings.Load() {
		if r.Len() > 0 {
			return true
		}
	}
	return false
}

// Close stops the workers after they have handled everything queued, and
// waits for them. No producer may Submit after Close.
func (p *Pool[T]) Close() {
	for _, w := range p.workers {
		w.closed.Store(true)
		w.wakeUp()
	}
	p.wg.Wait()
}

func (p *Pool[T]) run(i int, w *worker[T]) {
	defer p.wg.Done()
	for {
		if p.work(i, w) {
			continue
		}
		if w.closed.Load() && !w.busy.Load() && !w.pending() {
			p.idle(i) // no producer is left to stand in
			return
		}
		w.sleeping.Store(true)
		// Look again after announcing sleep: a Submit that ran before the
		// announcement sent no wake-up. Items queued while a producer
		// stands in are its to hand back (release).
		if (w.pending() && !w.busy.Load()) || (w.closed.Load() && !w.busy.Load()) {
			w.sleeping.Store(false)
			continue
		}
		<-w.wake
		w.sleeping.Store(false)
	}
}

// work drains w's rings, unless a producer is standing in for w, and
// calls idle after handling anything; it reports whether it did.
func (p *Pool[T]) work(i int, w *worker[T]) bool {
	if !w.busy.CompareAndSwap(false, true) {
		return false
	}
	did := p.drain(i, w)
	if did {
		p.idle(i)
	}
	w.busy.Store(false)
	return did
}

// drain handles one item from each non-empty ring in turn, so a busy reader
// cannot starve another, until all are empty; it reports whether it handled
// anything.
func (p *Pool[T]) drain(i int, w *worker[T]) bool {
	any := false
	for {
		progress := false
		for _, r := range *w.rings.Load() {
			if v, ok := r.TryPop(); ok {
				p.handle(i, v)
				progress = true
			}
		}
		if !progress {
			return any
		}
		any = true
	}
}
