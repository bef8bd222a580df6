// Package dispatch spreads received packets over worker goroutines so that
// all packets of one client go to one worker, in arrival order, and no two
// workers ever handle the same client at once.
//
// Each packet reader is a Producer with its own lock-free single-producer
// single-consumer ring into every worker. A worker drains its rings in turn
// and sleeps only when all of them are empty, so readers never wait on each
// other or on a lock.
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
	mu        sync.Mutex // serialises NewProducer only; never taken per packet
	wg        sync.WaitGroup
}

type worker[T any] struct {
	rings    atomic.Pointer[[]*ring.Ring[T]] // one per producer, copy-on-write
	sleeping atomic.Bool
	wake     chan struct{}
	closed   atomic.Bool
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
	i := key % uint64(len(pr.rings))
	w := pr.pool.workers[i]
	dropped = pr.rings[i].Push(v)
	if w.sleeping.Load() && w.sleeping.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return dropped
}

// Close stops the workers after they have handled everything queued, and
// waits for them. No producer may Submit after Close.
func (p *Pool[T]) Close() {
	for _, w := range p.workers {
		w.closed.Store(true)
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	p.wg.Wait()
}

func (p *Pool[T]) run(i int, w *worker[T]) {
	defer p.wg.Done()
	for {
		if p.drain(i, w) {
			p.idle(i)
			continue
		}
		if w.closed.Load() {
			p.drain(i, w)
			p.idle(i)
			return
		}
		w.sleeping.Store(true)
		// Look again after announcing sleep: a Submit that ran before the
		// announcement sent no wake-up.
		if p.drain(i, w) || w.closed.Load() {
			w.sleeping.Store(false)
			p.idle(i)
			continue
		}
		<-w.wake
	}
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
