package lease

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// journal records what a reclaimer commits and can be told to fail.
type journal struct {
	mu      sync.Mutex
	changes []Change
	fail    bool
}

func (j *journal) commit(cs ...Change) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail {
		return errors.New("disk full")
	}
	j.changes = append(j.changes, cs...)
	return nil
}

// expiredSet is a store with one live lease and four expired ones, one per
// kind reclamation treats differently.
func expiredSet() *Store {
	s := NewStore()
	live := mk("192.0.2.1", "02:00:00:00:00:01", "", 1, "live")
	plain := mk("192.0.2.2", "02:00:00:00:00:02", "c2", 1, "host2")
	plain.CLTT, plain.PoolID = t0.Add(-3*time.Hour), 4
	plain.FqdnFwd, plain.UserContext = true, map[string]any{"ISC": map[string]any{"relay-agent-info": "x"}, "mine": 1.0}
	declined := mk("192.0.2.3", "", "", 1, "")
	declined.State, declined.CLTT = StateDeclined, t0.Add(-2*time.Hour)
	released := mk("192.0.2.4", "02:00:00:00:00:04", "", 2, "host4")
	released.State, released.ValidLft, released.CLTT = StateReleased, 0, t0.Add(-time.Minute)
	old := mk("192.0.2.5", "02:00:00:00:00:05", "", 1, "")
	old.State, old.CLTT = StateReclaimed, t0.Add(-10*time.Hour)
	for _, l := range []*Lease{live, plain, declined, released, old} {
		s.Put(l)
	}
	return s
}

func TestReclaim(t *testing.T) {
	tests := []struct {
		name      string
		cfg       ReclaimConfig
		remove    bool
		wantState map[string]State // address -> state; absent means deleted
		wantStats Deltas
	}{
		{
			name: "affinity keeps leases reclaimed",
			cfg:  DefaultReclaimConfig,
			wantState: map[string]State{"192.0.2.1": StateDefault, "192.0.2.2": StateReclaimed,
				"192.0.2.4": StateReclaimed, "192.0.2.5": StateReclaimed},
			wantStats: Deltas{
				{1, 4, StatReclaimedLeases}: 1, {1, 4, StatAssignedAddresses}: -1,
				{1, 0, StatReclaimedLeases}: 1, {1, 0, StatAssignedAddresses}: -1,
				{1, 0, StatDeclinedAddresses}: -1, {1, 0, StatReclaimedDeclinedAddresses}: 1,
				{2, 0, StatReclaimedLeases}: 1, // released: already unassigned
			},
		},
		{
			name:      "no affinity deletes",
			cfg:       ReclaimConfig{ReclaimTimerWait: time.Second, HoldReclaimed: time.Hour},
			wantState: map[string]State{"192.0.2.1": StateDefault, "192.0.2.5": StateReclaimed},
		},
		{
			name:      "leases-reclaim remove",
			cfg:       DefaultReclaimConfig,
			remove:    true,
			wantState: map[string]State{"192.0.2.1": StateDefault, "192.0.2.5": StateReclaimed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := expiredSet()
			j := &journal{}
			r := &Reclaimer{Store: s, Config: tt.cfg, Commit: j.commit, Now: func() time.Time { return t0 }}
			p, err := r.ReclaimAll(tt.remove)
			if err != nil {
				t.Fatal(err)
			}
			if p.Reclaimed != 3 || len(j.changes) != 3 {
				t.Errorf("reclaimed %d, journaled %d; want 3", p.Reclaimed, len(j.changes))
			}
			if s.Len() != len(tt.wantState) {
				t.Errorf("%d leases left, want %d", s.Len(), len(tt.wantState))
			}
			for a, st := range tt.wantState {
				l, ok := s.Get(netip.MustParseAddr(a))
				if !ok || l.State != st {
					t.Errorf("%s: %+v, want state %d", a, l, st)
				}
			}
			if tt.wantStats != nil && !equalDeltas(p.Deltas, tt.wantStats) {
				t.Errorf("deltas %v, want %v", p.Deltas, tt.wantStats)
			}
		})
	}
}

func equalDeltas(a, b Deltas) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReclaimClearsDNSKeepsIdentity(t *testing.T) {
	s := expiredSet()
	before, _ := s.Get(netip.MustParseAddr("192.0.2.2"))
	r := &Reclaimer{Store: s, Config: DefaultReclaimConfig, Now: func() time.Time { return t0 }}
	if _, err := r.ReclaimAll(false); err != nil {
		t.Fatal(err)
	}
	l, _ := s.Get(netip.MustParseAddr("192.0.2.2"))
	if l.Hostname != "" || l.FqdnFwd || string(l.ClientID) != "c2" || l.HWAddr.String() != "02:00:00:00:00:02" ||
		!l.CLTT.Equal(before.CLTT) || l.ValidLft != before.ValidLft {
		t.Errorf("reclaimed lease %+v", l)
	}
	if _, ok := l.UserContext["ISC"]; ok || l.UserContext["mine"] != 1.0 {
		t.Errorf("user context %v: want extended info dropped, the rest kept", l.UserContext)
	}
	if before.Hostname != "host2" {
		t.Error("reclamation changed the stored lease in place")
	}
}

func TestReclaimLimitsAndWarning(t *testing.T) {
	s := NewStore()
	for i := range 10 {
		l := mk(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}).String(), "02:00:00:00:00:01", "", 1, "")
		l.CLTT = t0.Add(-2 * time.Hour)
		s.Put(l)
	}
	cfg := DefaultReclaimConfig
	cfg.MaxLeases, cfg.MaxTime, cfg.UnwarnedCycles = 3, 0, 2
	r := &Reclaimer{Store: s, Config: cfg, Now: func() time.Time { return t0 }}
	want := []struct {
		reclaimed      int
		leftover, warn bool
	}{{3, true, false}, {3, true, true}, {3, true, false}, {1, false, false}}
	for i, w := range want {
		p, err := r.Reclaim()
		if err != nil {
			t.Fatal(err)
		}
		if p.Reclaimed != w.reclaimed || p.Leftover != w.leftover || p.Warn != w.warn {
			t.Errorf("pass %d: %+v, want %+v", i+1, p, w)
		}
	}
	if n := s.Count(1, StateReclaimed); n != 10 {
		t.Errorf("%d reclaimed, want 10", n)
	}

	// max-reclaim-time: a clock that moves 100ms per reading stops a 250ms
	// pass when the fourth lease's check reads 300ms since the start.
	s = NewStore()
	for i := range 10 {
		l := mk(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}).String(), "02:00:00:00:00:01", "", 1, "")
		l.CLTT = t0.Add(-2 * time.Hour)
		s.Put(l)
	}
	now := t0
	cfg.MaxLeases, cfg.MaxTime = 0, 250*time.Millisecond
	r = &Reclaimer{Store: s, Config: cfg, Now: func() time.Time { now = now.Add(100 * time.Millisecond); return now }}
	p, err := r.Reclaim()
	if err != nil {
		t.Fatal(err)
	}
	if p.Reclaimed != 3 || !p.Leftover {
		t.Errorf("time-limited pass: %+v, want 3 reclaimed and leftovers", p)
	}
}

func TestReclaimJournalFailureUndoes(t *testing.T) {
	s := expiredSet()
	before := s.All()
	j := &journal{fail: true}
	r := &Reclaimer{Store: s, Config: DefaultReclaimConfig, Commit: j.commit, Now: func() time.Time { return t0 }}
	if _, err := r.ReclaimAll(false); err == nil {
		t.Fatal("no error from a failing journal")
	}
	after := s.All()
	if len(after) != len(before) {
		t.Fatalf("%d leases after undo, want %d", len(after), len(before))
	}
	for i := range before {
		if !Equal(before[i], after[i]) {
			t.Errorf("after undo %+v, want %+v", after[i], before[i])
		}
	}
}

func TestFlush(t *testing.T) {
	s := expiredSet()
	j := &journal{}
	cfg := DefaultReclaimConfig // hold 1h: the lease that expired 9h ago goes
	r := &Reclaimer{Store: s, Config: cfg, Commit: j.commit, Now: func() time.Time { return t0 }}
	p, err := r.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(netip.MustParseAddr("192.0.2.5")); ok || p.Flushed != 1 || len(j.changes) != 1 || j.changes[0].New != nil {
		t.Errorf("flush: %+v, journal %v", p, j.changes)
	}
	if _, ok := s.Get(netip.MustParseAddr("192.0.2.4")); !ok {
		t.Error("flush removed a released lease that was not reclaimed yet")
	}
}

// TestRun drives the timers by hand: each fake timer fires only when the
// test sends on it, and every pass reports on a channel.
func TestRun(t *testing.T) {
	s := expiredSet()
	type timer struct {
		d  time.Duration
		ch chan time.Time
	}
	timers := make(chan timer, 4)
	passes := make(chan Pass, 4)
	enabled := true
	var mu sync.Mutex
	r := &Reclaimer{
		Store: s, Config: DefaultReclaimConfig, Now: func() time.Time { return t0 },
		After: func(d time.Duration) <-chan time.Time {
			ch := make(chan time.Time, 1)
			timers <- timer{d, ch}
			return ch
		},
		Enabled: func() bool { mu.Lock(); defer mu.Unlock(); return enabled },
		Report: func(p Pass, err error) {
			if err != nil {
				t.Error(err)
			}
			passes <- p
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()

	armed := map[time.Duration]chan time.Time{}
	for range 2 {
		tm := <-timers
		armed[tm.d] = tm.ch
	}
	reclaimT, flushT := armed[10*time.Second], armed[25*time.Second]
	if reclaimT == nil || flushT == nil {
		t.Fatalf("timers armed: %v", armed)
	}
	reclaimT <- t0
	if p := <-passes; p.Reclaimed != 3 {
		t.Errorf("reclaim pass %+v", p)
	}
	if tm := <-timers; tm.d != 10*time.Second {
		t.Errorf("reclaim timer re-armed with %v", tm.d)
	} else {
		reclaimT = tm.ch
	}
	flushT <- t0
	if p := <-passes; p.Flushed != 2 { // 192.0.2.5 and the just-reclaimed 192.0.2.2
		t.Errorf("flush pass %+v", p)
	}
	if tm := <-timers; tm.d != 25*time.Second {
		t.Errorf("flush timer re-armed with %v", tm.d)
	}

	// While service is disabled the timers fire and re-arm but no pass runs.
	mu.Lock()
	enabled = false
	mu.Unlock()
	reclaimT <- t0
	<-timers
	cancel()
	<-done
	select {
	case p := <-passes:
		t.Errorf("a pass ran while disabled: %+v", p)
	default:
	}
}

// TestReclaimRacesRenewals renews expired leases from many goroutines
// while reclamation runs: compare-and-put must keep every renewal, so no
// lease ends up reclaimed after its client renewed it.
func TestReclaimRacesRenewals(t *testing.T) {
	s := NewStore()
	const n = 200
	for i := range n {
		l := mk(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), "02:00:00:00:00:01", "", 1, "")
		l.CLTT = t0.Add(-2 * time.Hour)
		s.Put(l)
	}
	j := &journal{}
	r := &Reclaimer{Store: s, Config: DefaultReclaimConfig, Commit: j.commit, Now: func() time.Time { return t0 }}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
				for {
					old, _ := s.Get(a)
					nl := old.Clone()
					nl.CLTT, nl.State = t0, StateDefault
					if s.CompareAndPut(old, nl) {
						break
					}
				}
			}
		}()
	}
	for range 5 {
		if _, err := r.ReclaimAll(false); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for _, l := range s.All() {
		if l.State != StateDefault || !l.CLTT.Equal(t0) {
			t.Fatalf("renewal lost: %+v", l)
		}
	}
	if s.Len() != n {
		t.Errorf("%d leases, want %d", s.Len(), n)
	}
}

func TestReclaimSkip(t *testing.T) {
	s := expiredSet()
	// HA: subnet 2 belongs to the partner's scope while it serves alone.
	r := &Reclaimer{Store: s, Config: DefaultReclaimConfig, Now: func() time.Time { return t0 },
		Skip: func(l *Lease) bool { return l.SubnetID == 2 }}
	p, err := r.ReclaimAll(false)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Get(netip.MustParseAddr("192.0.2.4")); p.Reclaimed != 2 || l.State != StateReleased {
		t.Errorf("reclaimed %d; skipped lease %+v", p.Reclaimed, l)
	}
}

// TestReclaimSkipDoesNotStarve puts more skipped leases ahead of a
// reclaimable one than a pass may reclaim.
func TestReclaimSkipDoesNotStarve(t *testing.T) {
	s := NewStore()
	for i := range 5 {
		l := mk(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}).String(), "02:00:00:00:00:01", "", 2, "")
		l.CLTT = t0.Add(-5 * time.Hour)
		s.Put(l)
	}
	mine := mk("10.0.1.1", "02:00:00:00:00:02", "", 1, "")
	mine.CLTT = t0.Add(-2 * time.Hour)
	s.Put(mine)
	cfg := DefaultReclaimConfig
	cfg.MaxLeases = 2
	r := &Reclaimer{Store: s, Config: cfg, Now: func() time.Time { return t0 },
		Skip: func(l *Lease) bool { return l.SubnetID == 2 }}
	if p, err := r.Reclaim(); err != nil || p.Reclaimed != 1 {
		t.Errorf("pass: %+v, %v; want the one lease in scope reclaimed", p, err)
	}
}
