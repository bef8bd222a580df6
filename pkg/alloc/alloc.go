// Package alloc chooses addresses inside DHCPv4 pools, the way Kea's
// allocation engine does: the iterative, random and free-list ("flq")
// allocators, plus a short in-flight hold so that two workers answering
// concurrent DISCOVERs do not offer one address twice.
//
// A Pool knows nothing of leases or packets. Whether an address may go to
// the client being served is asked of the caller through a Usable function,
// called without any pool lock held, so the caller may consult its lease
// store freely.
package alloc

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"
)

// Kind names an allocation strategy, as Kea's "allocator" key does.
type Kind uint8

// The allocators. FreeList keeps a free-address bitmap per pool, maintained
// as leases come and go, so picking stays cheap when a pool is nearly full.
const (
	Iterative Kind = iota
	Random
	FreeList
)

// ParseKind maps Kea's allocator names ("iterative", "random", "flq") to a
// Kind.
func ParseKind(name string) (Kind, error) {
	switch name {
	case "", "iterative":
		return Iterative, nil
	case "random":
		return Random, nil
	case "flq":
		return FreeList, nil
	}
	return 0, fmt.Errorf("alloc: unknown allocator %q: use iterative, random or flq", name)
}

// String returns Kea's name for the allocator.
func (k Kind) String() string {
	switch k {
	case Iterative:
		return "iterative"
	case Random:
		return "random"
	case FreeList:
		return "flq"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// maxFreeList bounds the pools a FreeList allocator accepts: its bitmap costs
// one bit per address (2 MiB at this size).
const maxFreeList = 1 << 24

// randomTries is how many random offsets the Random allocator draws before
// it falls back to a scan from a random start, which always terminates.
const randomTries = 64

// Usable reports whether addr may be handed to the client being served:
// not leased to someone else, not reserved for someone else, not declined.
type Usable func(addr netip.Addr) bool

// Config sets up a Pool.
type Config struct {
	Kind Kind
	// Hold is how long an address picked for one client is kept from
	// others, covering the gap between OFFER and REQUEST.
	Hold time.Duration
	// Seed seeds the Random allocator; give each pool its own.
	Seed [2]uint64
}

// Pool is one address range and its allocator state. It is safe for
// concurrent use; its lock is held only to move a cursor or touch a hold,
// never while Usable runs.
type Pool struct {
	first, last netip.Addr
	base        uint32
	size        uint64
	kind        Kind
	hold        time.Duration

	mu   sync.Mutex
	next uint64     // Iterative: the next offset to try
	rng  *rand.Rand // Random
	free *freeSet   // FreeList: offsets believed free
	held map[uint64]holder
	// sweepAt is when expire next looks for holds that ran out (UnixNano).
	// Holds a lease ended are gone from held already, so a sweep every
	// half hold period walks only the OFFERs still unanswered, where a
	// queue in expiry order would keep every OFFER of the last period.
	sweepAt int64
	seed    maphash.Seed
}

// holder is a hold on one offset: 16 bytes, as a pool may carry one for
// every OFFER of the last hold period that no lease followed. The client
// is known by a 64-bit hash of its identity; two clients would have to
// collide on it for one to take the other's held address.
type holder struct {
	client uint64
	until  int64 // UnixNano
}

// NewPool returns a pool handing out first through last inclusive.
func NewPool(first, last netip.Addr, cfg Config) (*Pool, error) {
	if !first.Is4() || !last.Is4() {
		return nil, fmt.Errorf("alloc: pool %s-%s: both ends must be IPv4 addresses", first, last)
	}
	if last.Less(first) {
		return nil, fmt.Errorf("alloc: pool %s-%s: the first address is above the last", first, last)
	}
	p := &Pool{
		first: first,
		last:  last,
		base:  u32(first),
		size:  uint64(u32(last)-u32(first)) + 1,
		kind:  cfg.Kind,
		hold:  cfg.Hold,
		held:  make(map[uint64]holder),
		seed:  maphash.MakeSeed(),
	}
	switch cfg.Kind {
	case Iterative:
	case Random:
		p.rng = rand.New(rand.NewPCG(cfg.Seed[0], cfg.Seed[1]))
	case FreeList:
		if p.size > maxFreeList {
			return nil, fmt.Errorf("alloc: pool %s-%s: %d addresses is too many for the flq allocator (at most %d); use iterative or random", first, last, p.size, maxFreeList)
		}
		p.free = newFreeSet(p.size)
		p.free.fill()
	default:
		return nil, fmt.Errorf("alloc: pool %s-%s: unknown allocator %v", first, last, cfg.Kind)
	}
	return p, nil
}

// First returns the pool's first address.
func (p *Pool) First() netip.Addr { return p.first }

// Last returns the pool's last address.
func (p *Pool) Last() netip.Addr { return p.last }

// Size returns how many addresses the pool holds.
func (p *Pool) Size() uint64 { return p.size }

// Kind returns the pool's allocator.
func (p *Pool) Kind() Kind { return p.kind }

// Contains reports whether addr lies in the pool.
func (p *Pool) Contains(addr netip.Addr) bool {
	_, ok := p.offset(addr)
	return ok
}

func (p *Pool) offset(addr netip.Addr) (uint64, bool) {
	if !addr.Is4() || addr.Less(p.first) || p.last.Less(addr) {
		return 0, false
	}
	return uint64(u32(addr) - p.base), true
}

func (p *Pool) addr(off uint64) netip.Addr {
	v := p.base + uint32(off)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// ErrExhausted is returned by Pick when no address in the pool is usable.
var ErrExhausted = errors.New("alloc: pool exhausted")

// Pick chooses an address for client (an opaque identity string) that
// passes usable and is not held for another client, and holds it for
// client. It returns ErrExhausted when every address has been tried.
func (p *Pool) Pick(now time.Time, client string, usable Usable) (netip.Addr, error) {
	p.mu.Lock()
	p.expire(now)
	p.mu.Unlock()
	switch p.kind {
	case Random:
		return p.pickRandom(now, client, usable)
	case FreeList:
		return p.pickFree(now, client, usable)
	}
	return p.pickIterative(now, client, usable)
}

func (p *Pool) pickIterative(now time.Time, client string, usable Usable) (netip.Addr, error) {
	for range p.size {
		p.mu.Lock()
		off := p.next
		p.next = (p.next + 1) % p.size
		p.mu.Unlock()
		if a, ok := p.try(off, now, client, usable); ok {
			return a, nil
		}
	}
	return netip.Addr{}, ErrExhausted
}

func (p *Pool) pickRandom(now time.Time, client string, usable Usable) (netip.Addr, error) {
	tries := min(uint64(randomTries), p.size)
	for range tries {
		p.mu.Lock()
		off := p.rng.Uint64N(p.size)
		p.mu.Unlock()
		if a, ok := p.try(off, now, client, usable); ok {
			return a, nil
		}
	}
	// The pool is crowded: walk it once from a random start so that a free
	// address is always found if there is one.
	p.mu.Lock()
	start := p.rng.Uint64N(p.size)
	p.mu.Unlock()
	for i := range p.size {
		if a, ok := p.try((start+i)%p.size, now, client, usable); ok {
			return a, nil
		}
	}
	return netip.Addr{}, ErrExhausted
}

func (p *Pool) pickFree(now time.Time, client string, usable Usable) (netip.Addr, error) {
	for swept := false; ; {
		p.mu.Lock()
		off, ok := p.free.next(p.next)
		if ok {
			p.free.clear(off)
			p.next = (off + 1) % p.size
		}
		p.mu.Unlock()
		if !ok {
			if swept {
				return netip.Addr{}, ErrExhausted
			}
			// The free set is only as good as the lease events it was
			// told about; before giving up, look at the pool itself
			// once, as a lease may have expired silently.
			p.Rebuild(usable)
			swept = true
			continue
		}
		if a, ok := p.try(off, now, client, usable); ok {
			return a, nil
		}
	}
}

// try checks one offset and, if it is usable and free of holds, holds it
// for client.
func (p *Pool) try(off uint64, now time.Time, client string, usable Usable) (netip.Addr, bool) {
	a := p.addr(off)
	if !usable(a) {
		return netip.Addr{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.heldByOther(off, client, now) {
		return netip.Addr{}, false
	}
	p.holdLocked(off, client, now)
	return a, true
}

// Hold keeps addr for client for the pool's hold time, e.g. when a
// returning client is offered its old address.
func (p *Pool) Hold(addr netip.Addr, client string, now time.Time) {
	off, ok := p.offset(addr)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire(now)
	p.holdLocked(off, client, now)
}

func (p *Pool) holdLocked(off uint64, client string, now time.Time) {
	if p.hold <= 0 {
		return
	}
	until := now.Add(p.hold).UnixNano()
	p.held[off] = holder{client: maphash.String(p.seed, client), until: until}
}

func (p *Pool) heldByOther(off uint64, client string, now time.Time) bool {
	h, ok := p.held[off]
	return ok && h.client != maphash.String(p.seed, client) && now.UnixNano() < h.until
}

// HeldByOther reports whether addr is held for a client other than client.
func (p *Pool) HeldByOther(addr netip.Addr, client string, now time.Time) bool {
	off, ok := p.offset(addr)
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heldByOther(off, client, now)
}

// expire drops holds that have run out, at most once per half hold
// period; a hold that ran out keeps nobody out meanwhile (heldByOther
// checks its time). For the free list, an address whose hold ran out
// goes back into the free set: Pick checks it again before handing it
// out, so a lease made meanwhile is not overridden.
func (p *Pool) expire(now time.Time) {
	t := now.UnixNano()
	if t < p.sweepAt {
		return
	}
	p.sweepAt = t + int64(p.hold/2)
	for off, h := range p.held {
		if t >= h.until {
			delete(p.held, off)
			if p.free != nil {
				p.free.set(off)
			}
		}
	}
}

// Taken records that addr now has a lease, so the free list skips it. Any
// hold on it ends: the lease now keeps the address from other clients.
func (p *Pool) Taken(addr netip.Addr) {
	off, ok := p.offset(addr)
	if !ok {
		return
	}
	p.mu.Lock()
	delete(p.held, off)
	if p.free != nil {
		p.free.clear(off)
	}
	p.mu.Unlock()
}

// Freed records that addr's lease is gone, released or reclaimed, so the
// free list may hand it out again, and drops any hold on it.
func (p *Pool) Freed(addr netip.Addr) {
	off, ok := p.offset(addr)
	if !ok {
		return
	}
	p.mu.Lock()
	delete(p.held, off)
	if p.free != nil {
		p.free.set(off)
	}
	p.mu.Unlock()
}

// Free returns how many addresses the free list believes free, or the
// pool size for the other allocators, which keep no such count.
func (p *Pool) Free() uint64 {
	if p.free == nil {
		return p.size
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.free.count
}

// Rebuild recomputes the free list from usable, one call per address: Kea
// builds its flq the same way at configuration time. Other allocators keep
// no free list and ignore it.
func (p *Pool) Rebuild(usable Usable) {
	if p.free == nil {
		return
	}
	for off := range p.size {
		ok := usable(p.addr(off))
		p.mu.Lock()
		if ok {
			p.free.set(off)
		} else {
			p.free.clear(off)
		}
		p.mu.Unlock()
	}
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
