package dispatch

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

type item struct {
	key uint64
	seq int
}

// TestSameKeySameWorkerInOrder sends interleaved items for many keys from
// several producers and checks that each key is handled by exactly one
// worker, in the order its producer submitted it, with nothing lost.
func TestSameKeySameWorkerInOrder(t *testing.T) {
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) { sameKeySameWorkerInOrder(t, inline) })
	}
}

func sameKeySameWorkerInOrder(t *testing.T, inline bool) {
	const producers, keys, perKey = 3, 50, 200
	var mu sync.Mutex
	workerOf := map[uint64]int{}
	lastSeq := map[[2]uint64]int{} // (producer, key) -> last seq
	handled := 0
	p := New(4, 1<<12, func(w int, it *item) {
		mu.Lock()
		defer mu.Unlock()
		handled++
		if prev, ok := workerOf[it.key]; ok && prev != w {
			t.Errorf("key %d handled by workers %d and %d", it.key, prev, w)
		}
		workerOf[it.key] = w
		pk := [2]uint64{it.key >> 32, it.key}
		if s, ok := lastSeq[pk]; ok && it.seq <= s {
			t.Errorf("key %d: seq %d after %d", it.key, it.seq, s)
		}
		lastSeq[pk] = it.seq
	}, nil)
	p.SetInline(inline)
	var wg sync.WaitGroup
	for pi := 0; pi < producers; pi++ {
		pr := p.NewProducer()
		wg.Add(1)
		go func(pi int) {
			defer wg.Done()
			for s := 0; s < perKey; s++ {
				for k := 0; k < keys; k++ {
					key := uint64(k) | uint64(pi)<<32
					if d := pr.Submit(key, &item{key: key, seq: s}); d != nil {
						t.Errorf("dropped %v with a ring large enough for everything", d)
					}
				}
			}
		}(pi)
	}
	wg.Wait()
	p.Close()
	if want := producers * keys * perKey; handled != want {
		t.Fatalf("handled %d items, want %d", handled, want)
	}
}

func TestFullRingDropsOldest(t *testing.T) {
	block := make(chan struct{})
	started := make(chan struct{}, 1)
	var got []int
	p := New(1, 2, func(_ int, v *int) {
		select {
		case started <- struct{}{}:
			<-block // hold the worker on the first item
		default:
		}
		got = append(got, *v)
	}, nil)
	pr := p.NewProducer()
	vals := []int{0, 1, 2, 3, 4}
	pr.Submit(0, &vals[0])
	<-started
	var dropped []int
	for i := 1; i < len(vals); i++ {
		if d := pr.Submit(0, &vals[i]); d != nil {
			dropped = append(dropped, *d)
		}
	}
	close(block)
	p.Close()
	if len(dropped) != 2 || dropped[0] != 1 || dropped[1] != 2 {
		t.Errorf("dropped %v, want [1 2]", dropped)
	}
	if len(got) != 3 || got[0] != 0 || got[1] != 3 || got[2] != 4 {
		t.Errorf("handled %v, want [0 3 4]", got)
	}
}

// TestIdleFollowsWork checks that a worker calls idle after handling
// items and before it sleeps, so work deferred to idle (the server's flush
// of a batch) is never left behind: the last idle call has seen every item.
func TestIdleFollowsWork(t *testing.T) {
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) { idleFollowsWork(t, inline) })
	}
}

func idleFollowsWork(t *testing.T, inline bool) {
	var mu sync.Mutex
	handled, seenAtIdle, idles := 0, 0, 0
	p := New(1, 1024, func(_ int, _ *int) {
		mu.Lock()
		handled++
		mu.Unlock()
	}, func(int) {
		mu.Lock()
		seenAtIdle = handled
		idles++
		mu.Unlock()
	})
	p.SetInline(inline)
	pr := p.NewProducer()
	vals := make([]int, 1000)
	for i := range vals {
		pr.Submit(0, &vals[i])
	}
	p.Close()
	if handled != len(vals) || seenAtIdle != handled || idles == 0 {
		t.Fatalf("handled %d, last idle saw %d after %d idle calls; want %d, all seen", handled, seenAtIdle, idles, len(vals))
	}
}

// asleep waits until worker i's goroutine has announced that it sleeps.
func asleep[T any](p *Pool[T], i int) {
	for !p.workers[i].sleeping.Load() {
		runtime.Gosched()
	}
}

// TestInlineStandsIn checks that with SetInline an item for a sleeping
// worker is handled, and idle called, before Submit returns, under that
// worker's index.
func TestInlineStandsIn(t *testing.T) {
	var mu sync.Mutex
	var handledBy, idleBy []int
	p := New(2, 8, func(w int, _ *int) {
		mu.Lock()
		handledBy = append(handledBy, w)
		mu.Unlock()
	}, func(w int) {
		mu.Lock()
		idleBy = append(idleBy, w)
		mu.Unlock()
	})
	p.SetInline(true)
	defer p.Close() // after the check: the workers' last idle calls come at Close
	pr := p.NewProducer()
	asleep(p, 1)
	v := 7
	if d := pr.Submit(1, &v); d != nil {
		t.Fatalf("dropped %v", *d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handledBy) != 1 || handledBy[0] != 1 || len(idleBy) != 1 || idleBy[0] != 1 {
		t.Errorf("after Submit: handled by %v, idle by %v; want [1] and [1] before it returned", handledBy, idleBy)
	}
}

// TestInlineHandsBack has producer A stand in for the worker and block
// in handle while producer B queues items for the same worker: once A is
// done, the worker's goroutine must handle B's items, in order.
func TestInlineHandsBack(t *testing.T) {
	block, started := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var got []int
	p := New(1, 64, func(_ int, v *int) {
		if *v == -1 {
			close(started)
			<-block
		}
		mu.Lock()
		got = append(got, *v)
		mu.Unlock()
	}, nil)
	p.SetInline(true)
	a, b := p.NewProducer(), p.NewProducer()
	asleep(p, 0)
	first := -1
	done := make(chan struct{})
	go func() {
		a.Submit(0, &first) // stands in, and blocks in handle
		close(done)
	}()
	<-started
	vals := []int{1, 2, 3, 4, 5}
	for i := range vals {
		b.Submit(0, &vals[i])
	}
	close(block)
	<-done
	p.Close()
	want := []int{-1, 1, 2, 3, 4, 5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("handled %v, want %v", got, want)
	}
}

func TestClientKey(t *testing.T) {
	msg := func(hlen byte, mac []byte, opts ...[]byte) []byte {
		b := make([]byte, offOptions)
		b[offHlen] = hlen
		copy(b[offChaddr:], mac)
		binary.BigEndian.PutUint32(b[236:], 0x63825363)
		for _, o := range opts {
			b = append(b, o...)
		}
		return append(b, optEnd)
	}
	macA := []byte{1, 2, 3, 4, 5, 6}
	macB := []byte{1, 2, 3, 4, 5, 7}
	cid := []byte{optCID, 7, 1, 9, 9, 9, 9, 9, 9}
	tests := []struct {
		name      string
		a, b      []byte
		wantEqual bool
	}{
		{"same mac", msg(6, macA), msg(6, macA), true},
		{"different mac", msg(6, macA), msg(6, macB), false},
		{"client-id wins over mac", msg(6, macA, cid), msg(6, macB, cid), true},
		{"pad before client-id", msg(6, macA, []byte{0, 0}, cid), msg(6, macB, cid), true},
		{"other options ignored", msg(6, macA, []byte{53, 1, 1}), msg(6, macA, []byte{53, 1, 3}), true},
		{"hlen limits chaddr", msg(6, append(append([]byte{}, macA...), 0xff)), msg(6, macA), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClientKey(tt.a) == ClientKey(tt.b); got != tt.wantEqual {
				t.Errorf("keys equal = %v, want %v", got, tt.wantEqual)
			}
		})
	}
}

func FuzzClientKey(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 300))
	b := make([]byte, 244)
	f.Add(append(b, optCID, 200, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		ClientKey(b) // must not panic on any input
		if cid := findOption(b, optCID); cid != nil && len(cid) > len(b) {
			t.Fatalf("option longer than the message")
		}
	})
}

func BenchmarkClientKey(b *testing.B) {
	m := make([]byte, 300)
	m[offHlen] = 6
	copy(m[offOptions:], []byte{53, 1, 1, 55, 4, 1, 3, 6, 15, optCID, 7, 1, 2, 3, 4, 5, 6, 7, optEnd})
	b.ReportAllocs()
	for b.Loop() {
		ClientKey(m)
	}
}
