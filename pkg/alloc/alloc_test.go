package alloc

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

var kinds = []Kind{Iterative, Random, FreeList}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// taken is a concurrency-safe set of leased addresses standing in for the
// lease store.
type taken struct {
	mu sync.Mutex
	m  map[netip.Addr]bool
}

func newTaken() *taken { return &taken{m: make(map[netip.Addr]bool)} }

func (t *taken) usable(a netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.m[a]
}

func (t *taken) take(a netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[a] {
		return false
	}
	t.m[a] = true
	return true
}

func mustPool(t testing.TB, first, last string, cfg Config) *Pool {
	t.Helper()
	p, err := NewPool(netip.MustParseAddr(first), netip.MustParseAddr(last), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseKind(t *testing.T) {
	tests := []struct {
		in      string
		want    Kind
		wantErr bool
	}{
		{"", Iterative, false},
		{"iterative", Iterative, false},
		{"random", Random, false},
		{"flq", FreeList, false},
		{"shared-flq", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseKind(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseKind(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && tt.in != "" && got.String() != tt.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}

func TestNewPoolErrors(t *testing.T) {
	tests := []struct {
		first, last string
		kind        Kind
	}{
		{"10.0.0.9", "10.0.0.1", Iterative},
		{"::1", "::2", Iterative},
		{"10.0.0.0", "11.255.255.255", FreeList}, // too big for a bitmap
	}
	for _, tt := range tests {
		_, err := NewPool(netip.MustParseAddr(tt.first), netip.MustParseAddr(tt.last), Config{Kind: tt.kind})
		if err == nil {
			t.Errorf("NewPool(%s, %s, %v): no error", tt.first, tt.last, tt.kind)
		}
	}
}

// Every allocator hands out every address once, then reports exhaustion.
func TestPickEveryAddressOnce(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			p := mustPool(t, "192.0.2.10", "192.0.2.209", Config{Kind: k, Seed: [2]uint64{1, 2}})
			tk := newTaken()
			for i := range 200 {
				a, err := p.Pick(t0, fmt.Sprint("client", i), tk.usable)
				if err != nil {
					t.Fatalf("pick %d: %v", i, err)
				}
				if !p.Contains(a) {
					t.Fatalf("pick %d: %s outside the pool", i, a)
				}
				if !tk.take(a) {
					t.Fatalf("pick %d: %s handed out twice", i, a)
				}
				p.Taken(a)
			}
			if a, err := p.Pick(t0, "late", tk.usable); !errors.Is(err, ErrExhausted) {
				t.Fatalf("full pool: got %s, %v; want ErrExhausted", a, err)
			}
		})
	}
}

func TestIterativeOrder(t *testing.T) {
	p := mustPool(t, "10.0.0.254", "10.0.1.1", Config{Kind: Iterative})
	tk := newTaken()
	want := []string{"10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"}
	for i, w := range want {
		a, err := p.Pick(t0, fmt.Sprint(i), tk.usable)
		if err != nil || a.String() != w {
			t.Fatalf("pick %d = %s, %v; want %s", i, a, err, w)
		}
		tk.take(a)
	}
	// Freed addresses come back round when the cursor wraps.
	tk.m[netip.MustParseAddr("10.0.0.255")] = false
	if a, err := p.Pick(t0, "x", tk.usable); err != nil || a.String() != "10.0.0.255" {
		t.Fatalf("after wrap: %s, %v; want 10.0.0.255", a, err)
	}
}

// An address picked for one client is kept from others until the hold
// runs out, but the same client gets it again.
func TestHold(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			p := mustPool(t, "192.0.2.1", "192.0.2.1", Config{Kind: k, Hold: 10 * time.Second})
			free := func(netip.Addr) bool { return true }
			a, err := p.Pick(t0, "A", free)
			if err != nil {
				t.Fatal(err)
			}
			if !p.HeldByOther(a, "B", t0) || p.HeldByOther(a, "A", t0) {
				t.Fatalf("hold on %s not kept for A alone", a)
			}
			if _, err := p.Pick(t0.Add(time.Second), "B", free); !errors.Is(err, ErrExhausted) {
				t.Fatalf("B got a held address: %v", err)
			}
			if got, err := p.Pick(t0.Add(time.Second), "A", free); err != nil || got != a {
				t.Fatalf("A again: %s, %v; want %s", got, err, a)
			}
			later := t0.Add(time.Minute)
			if got, err := p.Pick(later, "B", free); err != nil || got != a {
				t.Fatalf("after the hold: %s, %v; want %s", got, err, a)
			}
			p.Freed(a)
			if p.HeldByOther(a, "A", later) {
				t.Fatal("Freed left a hold in place")
			}
			// A lease ends the hold (the lease guards the address now),
			// so the pool does not carry a hold per lease granted.
			p.Pick(later, "A", free)
			p.Taken(a)
			if p.HeldByOther(a, "B", later) || len(p.held) != 0 {
				t.Fatalf("Taken left %d holds", len(p.held))
			}
		})
	}
}

// The free list finds addresses freed behind its back by sweeping the pool
// once it believes itself empty.
func TestFreeListSweep(t *testing.T) {
	p := mustPool(t, "10.1.0.0", "10.1.0.255", Config{Kind: FreeList})
	tk := newTaken()
	for range 256 {
		a, err := p.Pick(t0, "c", tk.usable)
		if err != nil {
			t.Fatal(err)
		}
		tk.take(a)
	}
	if p.Free() != 0 {
		t.Fatalf("Free() = %d after filling, want 0", p.Free())
	}
	silent := netip.MustParseAddr("10.1.0.77")
	tk.m[silent] = false // expired without a Freed call
	if a, err := p.Pick(t0, "d", tk.usable); err != nil || a != silent {
		t.Fatalf("Pick = %s, %v; want %s", a, err, silent)
	}
	tk.take(silent)
	other := netip.MustParseAddr("10.1.0.3")
	tk.m[other] = false
	p.Freed(other)
	if p.Free() != 1 {
		t.Fatalf("Free() = %d after Freed, want 1", p.Free())
	}
	if a, err := p.Pick(t0, "e", tk.usable); err != nil || a != other {
		t.Fatalf("Pick = %s, %v; want %s", a, err, other)
	}
}

func TestFreeSetNext(t *testing.T) {
	f := newFreeSet(10000)
	for _, i := range []uint64{5, 4095, 4096, 9999} {
		f.set(i)
	}
	tests := []struct{ from, want uint64 }{
		{0, 5}, {5, 5}, {6, 4095}, {4096, 4096}, {4097, 9999}, {10000, 5},
	}
	for _, tt := range tests {
		if got, ok := f.next(tt.from); !ok || got != tt.want {
			t.Errorf("next(%d) = %d, %v; want %d", tt.from, got, ok, tt.want)
		}
	}
	for _, i := range []uint64{5, 4095, 4096, 9999} {
		f.clear(i)
	}
	if _, ok := f.next(0); ok || f.count != 0 {
		t.Fatalf("empty set: next found something, count %d", f.count)
	}
}

// Concurrent workers never get an address held for another client. The
// workers keep their holds: Taken ends a hold once the lease is stored,
// and a Pick that checked usable just before the lease was stored may
// then return the address; the store's CompareAndPut refuses that one and
// the engine picks again (TestParallelWorkers in pkg/dhcp4 covers it).
func TestConcurrentPick(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			p := mustPool(t, "10.2.0.0", "10.2.3.255", Config{Kind: k, Hold: time.Minute, Seed: [2]uint64{3, 4}})
			tk := newTaken()
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 8 {
				wg.Go(func() {
					for i := range 128 {
						a, err := p.Pick(t0, fmt.Sprintf("w%d-%d", w, i), tk.usable)
						if err != nil {
							errs <- err
							return
						}
						if !tk.take(a) {
							errs <- fmt.Errorf("%s handed out twice", a)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// BenchmarkPick99Full picks from a /16 pool with 99% of its addresses
// leased, scattered, as a long-running server's pool looks.
func BenchmarkPick99Full(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.String(), func(b *testing.B) {
			p := mustPool(b, "10.8.0.0", "10.8.255.255", Config{Kind: k, Seed: [2]uint64{5, 6}})
			tk := newTaken()
			n := p.Size()
			free := n / 100
			// Leave every 100th address free.
			for off := range n {
				if off%(n/free) != 0 {
					tk.m[p.addr(off)] = true
				}
			}
			p.Rebuild(tk.usable)
			for b.Loop() {
				a, err := p.Pick(t0, "c", tk.usable)
				if err != nil {
					b.Fatal(err)
				}
				// Hand the address straight back so the pool stays 99% full.
				p.Freed(a)
			}
		})
	}
}

func TestFreeSetFill(t *testing.T) {
	for _, n := range []uint64{1, 63, 64, 65, 4097} {
		f := newFreeSet(n)
		f.fill()
		seen := uint64(0)
		for from := uint64(0); ; {
			i, ok := f.next(from)
			if !ok || (seen > 0 && i < from) {
				break
			}
			f.clear(i)
			seen++
			from = i + 1
		}
		if seen != n || f.count != 0 {
			t.Errorf("n=%d: found %d free, %d left", n, seen, f.count)
		}
	}
}

// BenchmarkPickHeld picks and commits at 8,000 OFFERs a second of pool
// time with a 10 s hold, for longer than the hold: expiring holds must not
// cost more as OFFERs pile up.
func BenchmarkPickHeld(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.String(), func(b *testing.B) {
			p := mustPool(b, "10.8.0.0", "10.9.255.255", Config{Kind: k, Hold: 10 * time.Second, Seed: [2]uint64{5, 6}})
			tk := newTaken()
			now := t0
			i := 0
			for b.Loop() {
				now = now.Add(125 * time.Microsecond)
				a, err := p.Pick(now, fmt.Sprint(i), tk.usable)
				if err != nil {
					b.Fatal(err)
				}
				p.Taken(a)
				p.Freed(a) // the client leaves at once: the pool never fills
				i++
			}
		})
	}
}
