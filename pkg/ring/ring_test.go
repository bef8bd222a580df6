package ring

import (
	"sync"
	"testing"
)

func TestOrderAndDropOldest(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		push     int
		wantCap  int
		wantDrop []int
		wantPop  []int
	}{
		{name: "fits", size: 4, push: 3, wantCap: 4, wantPop: []int{0, 1, 2}},
		{name: "exactly full", size: 4, push: 4, wantCap: 4, wantPop: []int{0, 1, 2, 3}},
		{name: "overflow drops oldest", size: 4, push: 6, wantCap: 4, wantDrop: []int{0, 1}, wantPop: []int{2, 3, 4, 5}},
		{name: "rounded up", size: 3, push: 5, wantCap: 4, wantDrop: []int{0}, wantPop: []int{1, 2, 3, 4}},
		{name: "default size", size: 0, push: 1, wantCap: 64, wantPop: []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New[int](tt.size)
			if r.Cap() != tt.wantCap {
				t.Fatalf("Cap() = %d, want %d", r.Cap(), tt.wantCap)
			}
			var dropped []int
			for i := 0; i < tt.push; i++ {
				v := i
				if d := r.Push(&v); d != nil {
					dropped = append(dropped, *d)
				}
			}
			if !equal(dropped, tt.wantDrop) {
				t.Errorf("dropped %v, want %v", dropped, tt.wantDrop)
			}
			if r.Len() != len(tt.wantPop) {
				t.Errorf("Len() = %d, want %d", r.Len(), len(tt.wantPop))
			}
			var got []int
			for {
				v, ok := r.TryPop()
				if !ok {
					break
				}
				got = append(got, *v)
			}
			if !equal(got, tt.wantPop) {
				t.Errorf("popped %v, want %v", got, tt.wantPop)
			}
		})
	}
}

// TestConcurrent checks, under the race detector, that every pushed item is
// either popped or reported dropped exactly once, and that popped items keep
// their order.
func TestConcurrent(t *testing.T) {
	const n = 200000
	r := New[int](8)
	var popped []int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			v, ok := r.Pop()
			if !ok {
				return
			}
			popped = append(popped, *v)
		}
	}()
	var dropped []int
	vals := make([]int, n)
	for i := range vals {
		vals[i] = i
		if d := r.Push(&vals[i]); d != nil {
			dropped = append(dropped, *d)
		}
	}
	r.Close()
	wg.Wait()

	seen := make([]int, n)
	for _, v := range popped {
		seen[v]++
	}
	for _, v := range dropped {
		seen[v]++
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("item %d seen %d times (popped %d, dropped %d)", i, c, len(popped), len(dropped))
		}
	}
	for i := 1; i < len(popped); i++ {
		if popped[i] <= popped[i-1] {
			t.Fatalf("out of order at %d: %d after %d", i, popped[i], popped[i-1])
		}
	}
}

func TestCloseWakesBlockedConsumer(t *testing.T) {
	r := New[int](4)
	done := make(chan bool)
	go func() {
		_, ok := r.Pop()
		done <- ok
	}()
	r.Close()
	if ok := <-done; ok {
		t.Fatal("Pop on a closed empty ring reported an item")
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkPushPop(b *testing.B) {
	r := New[int](64)
	v := 1
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if _, ok := r.Pop(); !ok {
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		r.Push(&v)
	}
	r.Close()
	wg.Wait()
}
