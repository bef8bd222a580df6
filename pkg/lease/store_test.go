package lease

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func mk(addr string, mac string, cid string, subnet uint32, host string) *Lease {
	l := &Lease{Addr: netip.MustParseAddr(addr), SubnetID: subnet, ValidLft: 3600, CLTT: t0, Hostname: host}
	if mac != "" {
		l.HWAddr, _ = net.ParseMAC(mac)
	}
	if cid != "" {
		l.ClientID = []byte(cid)
	}
	return l
}

func addrs(ls []*Lease) string {
	s := ""
	for i, l := range ls {
		if i > 0 {
			s += ","
		}
		s += l.Addr.String()
	}
	return s
}

func TestIndexes(t *testing.T) {
	s := NewStore()
	a := mk("192.0.2.10", "02:00:00:00:00:01", "c1", 1, "alpha")
	b := mk("192.0.2.11", "02:00:00:00:00:01", "", 2, "beta")
	c := mk("192.0.2.9", "02:00:00:00:00:02", "c1", 1, "alpha")
	for _, l := range []*Lease{a, b, c} {
		s.Put(l)
	}
	hw1, _ := net.ParseMAC("02:00:00:00:00:01")
	tests := []struct {
		name string
		got  []*Lease
		want string
	}{
		{"by client-id in subnet", s.ByClientID(1, []byte("c1")), "192.0.2.9,192.0.2.10"},
		{"by client-id other subnet", s.ByClientID(2, []byte("c1")), ""},
		{"by hw in subnet 2", s.ByHWAddr(2, hw1), "192.0.2.11"},
		{"by hw anywhere", s.ByHWAddrAny(hw1), "192.0.2.10,192.0.2.11"},
		{"by client-id anywhere", s.ByClientIDAny([]byte("c1")), "192.0.2.9,192.0.2.10"},
		{"by hostname", s.ByHostname("alpha"), "192.0.2.9,192.0.2.10"},
		{"empty client-id matches nothing", s.ByClientIDAny(nil), ""},
		{"all ascending", s.All(), "192.0.2.9,192.0.2.10,192.0.2.11"},
		{"page from start", s.Page(netip.IPv4Unspecified(), 2), "192.0.2.9,192.0.2.10"},
		{"page strictly after", s.Page(netip.MustParseAddr("192.0.2.10"), 10), "192.0.2.11"},
	}
	for _, tt := range tests {
		if got := addrs(tt.got); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	// Replacing a lease re-indexes it.
	a2 := mk("192.0.2.10", "02:00:00:00:00:03", "", 1, "gamma")
	if old := s.Put(a2); old != a {
		t.Errorf("Put returned %v, want the replaced lease", old)
	}
	if got := addrs(s.ByHostname("alpha")); got != "192.0.2.9" {
		t.Errorf("after replace, by hostname alpha = %q", got)
	}
	if got := addrs(s.ByClientIDAny([]byte("c1"))); got != "192.0.2.9" {
		t.Errorf("after replace, by client-id = %q", got)
	}
	if s.Len() != 3 || s.Count(1, StateDefault) != 2 || s.Count(0, StateDefault) != 3 {
		t.Errorf("Len %d Count(1) %d Count(all) %d", s.Len(), s.Count(1, StateDefault), s.Count(0, StateDefault))
	}
	if _, ok := s.Delete(a2.Addr); !ok || s.Len() != 2 || len(s.ByHostname("gamma")) != 0 {
		t.Errorf("Delete left %d leases, gamma %v", s.Len(), s.ByHostname("gamma"))
	}
}

func TestCompareAndPut(t *testing.T) {
	s := NewStore()
	a := mk("192.0.2.10", "02:00:00:00:00:01", "", 1, "")
	if !s.CompareAndPut(nil, a) {
		t.Fatal("CompareAndPut onto an empty address failed")
	}
	b := mk("192.0.2.10", "02:00:00:00:00:02", "", 1, "")
	if s.CompareAndPut(nil, b) {
		t.Fatal("CompareAndPut(nil, ...) replaced an existing lease")
	}
	if s.CompareAndPut(b, b) {
		t.Fatal("CompareAndPut with a stale old lease succeeded")
	}
	if !s.CompareAndPut(a, b) {
		t.Fatal("CompareAndPut with the current lease failed")
	}
	if got, _ := s.Get(b.Addr); got != b {
		t.Fatal("Get does not return the stored lease")
	}
	if s.CompareAndDelete(a) {
		t.Fatal("CompareAndDelete of a replaced lease succeeded")
	}
	if !s.CompareAndDelete(b) || s.Len() != 0 {
		t.Fatal("CompareAndDelete of the current lease failed")
	}
}

// TestConcurrentClaims: many goroutines race for few addresses; each
// address ends up with exactly one winner and the indexes agree.
func TestConcurrentClaims(t *testing.T) {
	s := NewStore()
	const workers, addrsN = 8, 50
	var mu sync.Mutex
	wins := map[netip.Addr]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < addrsN; i++ {
				l := mk(fmt.Sprintf("10.0.0.%d", i), fmt.Sprintf("02:00:00:00:00:%02x", w), "", 1, "")
				cur, _ := s.Get(l.Addr)
				if cur == nil && s.CompareAndPut(nil, l) {
					mu.Lock()
					wins[l.Addr]++
					mu.Unlock()
				}
				s.ByHWAddr(1, l.HWAddr)
			}
		}(w)
	}
	wg.Wait()
	for a, n := range wins {
		if n != 1 {
			t.Errorf("%s claimed %d times", a, n)
		}
	}
	if len(wins) != addrsN || s.Len() != addrsN {
		t.Errorf("%d addresses claimed, store holds %d, want %d", len(wins), s.Len(), addrsN)
	}
	n := 0
	for w := 0; w < workers; w++ {
		hw, _ := net.ParseMAC(fmt.Sprintf("02:00:00:00:00:%02x", w))
		n += len(s.ByHWAddr(1, hw))
	}
	if n != addrsN {
		t.Errorf("hardware-address index holds %d leases, want %d", n, addrsN)
	}
}

func TestExpiry(t *testing.T) {
	s := NewStore()
	live := mk("192.0.2.1", "02:00:00:00:00:01", "", 1, "")
	old := mk("192.0.2.2", "02:00:00:00:00:02", "", 1, "")
	old.CLTT = t0.Add(-2 * time.Hour)
	older := mk("192.0.2.3", "02:00:00:00:00:03", "", 1, "")
	older.CLTT = t0.Add(-3 * time.Hour)
	declined := mk("192.0.2.4", "", "", 1, "")
	declined.State, declined.CLTT = StateDeclined, t0.Add(-2*time.Hour)
	reclaimed := mk("192.0.2.5", "02:00:00:00:00:05", "", 1, "")
	reclaimed.State, reclaimed.CLTT = StateReclaimed, t0.Add(-5*time.Hour)
	released := mk("192.0.2.6", "02:00:00:00:00:06", "", 1, "")
	released.State, released.ValidLft = StateReleased, 0
	for _, l := range []*Lease{live, old, older, declined, reclaimed, released} {
		s.Put(l)
	}
	if got := addrs(s.Expired(t0, 0)); got != "192.0.2.3,192.0.2.2,192.0.2.4,192.0.2.6" {
		t.Errorf("Expired = %q, oldest expiry first", got)
	}
	if got := addrs(s.Expired(t0, 1)); got != "192.0.2.3" {
		t.Errorf("Expired limit 1 = %q", got)
	}
	if got := addrs(s.ReclaimedBefore(t0.Add(-3*time.Hour), 0)); got != "192.0.2.5" {
		t.Errorf("ReclaimedBefore = %q", got)
	}
	if got := addrs(s.ReclaimedBefore(t0.Add(time.Second), 0)); got != "192.0.2.5" {
		t.Errorf("ReclaimedBefore now = %q", got)
	}
}

// BenchmarkRenew is the packet path's store work: look up a lease and
// replace it with compare-and-put, from parallel workers on distinct
// addresses.
func BenchmarkRenew(b *testing.B) {
	s := NewStore()
	const n = 4096
	for i := range n {
		mac := fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&255)
		s.Put(mk(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), mac, "", 1, ""))
	}
	var next sync.Mutex
	w := 0
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		i := w * 997
		w++
		next.Unlock()
		for pb.Next() {
			i++
			a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8 & 15), byte(i)})
			old, _ := s.Get(a)
			nl := old.Clone()
			nl.CLTT = nl.CLTT.Add(time.Second)
			s.CompareAndPut(old, nl)
		}
	})
}
