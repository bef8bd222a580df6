package lease

import (
	"context"
	"fmt"
	"time"
)

// ReclaimConfig is Kea's expired-leases-processing map, in Go units.
type ReclaimConfig struct {
	// ReclaimTimerWait is the pause after one reclamation pass ends before
	// the next starts (reclaim-timer-wait-time); 0 turns periodic
	// reclamation off.
	ReclaimTimerWait time.Duration
	// FlushTimerWait is the period of the flush pass
	// (flush-reclaimed-timer-wait-time); 0 turns lease affinity off.
	FlushTimerWait time.Duration
	// HoldReclaimed is how long after expiry a reclaimed lease is kept
	// (hold-reclaimed-time); 0 also turns lease affinity off.
	HoldReclaimed time.Duration
	// MaxLeases caps the leases reclaimed per pass (max-reclaim-leases);
	// 0 means no cap.
	MaxLeases int
	// MaxTime caps one pass's duration (max-reclaim-time); 0 means none.
	MaxTime time.Duration
	// UnwarnedCycles is how many passes in a row may end with expired
	// leases left over before Pass.Warn is set (unwarned-reclaim-cycles);
	// 0 never warns.
	UnwarnedCycles int
}

// DefaultReclaimConfig is Kea's default expired-leases-processing.
var DefaultReclaimConfig = ReclaimConfig{
	ReclaimTimerWait: 10 * time.Second,
	FlushTimerWait:   25 * time.Second,
	HoldReclaimed:    3600 * time.Second,
	MaxLeases:        100,
	MaxTime:          250 * time.Millisecond,
	UnwarnedCycles:   5,
}

// Affinity reports whether reclaimed leases are kept (state 2) so their
// clients get the same address back, rather than deleted.
func (c ReclaimConfig) Affinity() bool {
	return c.FlushTimerWait > 0 && c.HoldReclaimed > 0
}

// Kea's statistic names that reclamation changes.
const (
	StatReclaimedLeases            = "reclaimed-leases"
	StatAssignedAddresses          = "assigned-addresses"
	StatDeclinedAddresses          = "declined-addresses"
	StatReclaimedDeclinedAddresses = "reclaimed-declined-addresses"
)

// StatKey names one per-subnet, per-pool statistic; the caller sums pools
// into subnet and global values as its registry needs.
type StatKey struct {
	SubnetID uint32
	PoolID   uint32
	Name     string
}

// Deltas are statistic changes a pass caused, for the stats registry.
type Deltas map[StatKey]int64

func (d Deltas) add(l *Lease, name string, n int64) {
	d[StatKey{l.SubnetID, l.PoolID, name}] += n
}

// Pass is what one reclamation or flush pass did.
type Pass struct {
	Reclaimed int // leases reclaimed (kept in state 2 or deleted)
	Flushed   int // reclaimed leases removed by the flush pass
	// Leftover is set when expired leases remained when the pass stopped
	// at its lease or time limit.
	Leftover bool
	// Warn is set when UnwarnedCycles passes in a row ended with leftovers;
	// the caller logs that reclamation is falling behind, as Kea's
	// ALLOC_ENGINE_V4_LEASES_RECLAMATION_SLOW does.
	Warn   bool
	Deltas Deltas
}

// Reclaimer runs Kea's expired-lease processing over a store: reclaiming
// leases whose lifetime ended and flushing reclaimed leases held long
// enough. Changes are handed to Commit (the journal) before a pass
// reports them; if Commit fails they are undone in the store.
type Reclaimer struct {
	Store  *Store
	Config ReclaimConfig
	// Commit makes a pass's changes durable; a journal's Commit.
	Commit func(...Change) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// After starts a timer, as time.After does (the default); tests
	// inject their own to drive Run without sleeping.
	After func(time.Duration) <-chan time.Time
	// Skip, when set, leaves a lease alone (HA: leases outside this
	// server's scope while its partner handles them).
	Skip func(*Lease) bool
	// Enabled, when set and returning false, skips timed passes, as Kea
	// 3.x does while DHCP service is disabled.
	Enabled func() bool
	// Report receives each timed pass's outcome.
	Report func(Pass, error)

	incomplete int // passes in a row that ended with leftovers
}

func (r *Reclaimer) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Reclaim runs one timed reclamation pass within MaxLeases and MaxTime.
func (r *Reclaimer) Reclaim() (Pass, error) {
	p, err := r.reclaim(r.Config.MaxLeases, r.Config.MaxTime, !r.Config.Affinity())
	if err != nil {
		return p, err
	}
	switch {
	case !p.Leftover:
		r.incomplete = 0
	case r.Config.UnwarnedCycles > 0:
		if r.incomplete++; r.incomplete >= r.Config.UnwarnedCycles {
			p.Warn = true
			r.incomplete = 0
		}
	}
	return p, nil
}

// ReclaimAll reclaims every expired lease without limits, as the
// leases-reclaim command does; remove deletes them instead of keeping them
// reclaimed.
func (r *Reclaimer) ReclaimAll(remove bool) (Pass, error) {
	return r.reclaim(0, 0, remove || !r.Config.Affinity())
}

func (r *Reclaimer) reclaim(limit int, maxTime time.Duration, remove bool) (Pass, error) {
	start := r.now()
	// One more than the limit tells whether leases are left over. With a
	// Skip filter every expired lease is fetched, so leases skipped pass
	// after pass never hide the others.
	fetch := limit
	if limit > 0 {
		fetch++
	}
	if r.Skip != nil {
		fetch = 0
	}
	expired := r.Store.Expired(start, fetch)
	p := Pass{Deltas: Deltas{}}
	var changes []Change
	for i, l := range expired {
		if (limit > 0 && p.Reclaimed == limit) || (maxTime > 0 && i > 0 && r.now().Sub(start) >= maxTime) {
			p.Leftover = true
			break
		}
		if r.Skip != nil && r.Skip(l) {
			continue
		}
		c, ok := r.reclaimOne(l, remove)
		if !ok {
			continue // changed by a worker meanwhile; it is no longer ours
		}
		changes = append(changes, c)
		p.Reclaimed++
		r.count(p.Deltas, l)
	}
	if err := r.commit(changes); err != nil {
		return Pass{}, fmt.Errorf("lease: reclaiming %d expired leases: %w", len(changes), err)
	}
	return p, nil
}

// reclaimOne applies Kea's rule to one expired lease: declined leases and,
// without affinity, all leases are deleted; otherwise the lease moves to
// state 2 with its DNS data and extended info cleared and its client
// identifiers kept, so the client can have the address back.
func (r *Reclaimer) reclaimOne(l *Lease, remove bool) (Change, bool) {
	if remove || l.State == StateDeclined {
		return Change{Old: l}, r.Store.CompareAndDelete(l)
	}
	n := l.Clone()
	n.State = StateReclaimed
	n.Hostname, n.FqdnFwd, n.FqdnRev = "", false, false
	if n.UserContext != nil {
		delete(n.UserContext, "ISC")
		if len(n.UserContext) == 0 {
			n.UserContext = nil
		}
	}
	return Change{Old: l, New: n}, r.Store.CompareAndPut(l, n)
}

// count records Kea's statistic changes for reclaiming l.
func (r *Reclaimer) count(d Deltas, l *Lease) {
	d.add(l, StatReclaimedLeases, 1)
	if l.State != StateReleased {
		// A release already took the address out of the assigned count.
		d.add(l, StatAssignedAddresses, -1)
	}
	if l.State == StateDeclined {
		d.add(l, StatDeclinedAddresses, -1)
		d.add(l, StatReclaimedDeclinedAddresses, 1)
	}
}

// Flush deletes reclaimed leases that expired more than HoldReclaimed ago.
func (r *Reclaimer) Flush() (Pass, error) {
	p := Pass{Deltas: Deltas{}}
	var changes []Change
	for _, l := range r.Store.ReclaimedBefore(r.now().Add(-r.Config.HoldReclaimed), 0) {
		if r.Skip != nil && r.Skip(l) {
			continue
		}
		if r.Store.CompareAndDelete(l) {
			changes = append(changes, Change{Old: l})
			p.Flushed++
		}
	}
	if err := r.commit(changes); err != nil {
		return Pass{}, fmt.Errorf("lease: flushing %d reclaimed leases: %w", len(changes), err)
	}
	return p, nil
}

// commit journals changes already made in the store, undoing them in the
// store if the journal fails, so memory never holds what the file lacks.
func (r *Reclaimer) commit(changes []Change) error {
	if len(changes) == 0 || r.Commit == nil {
		return nil
	}
	err := r.Commit(changes...)
	if err == nil {
		return nil
	}
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		if c.New == nil {
			r.Store.CompareAndPut(nil, c.Old)
		} else if r.Store.CompareAndDelete(c.New) {
			r.Store.CompareAndPut(nil, c.Old)
		}
	}
	return err
}

// Run runs reclamation and flush on Kea's timers until ctx ends: the
// reclamation timer is re-armed only after a pass ends (so passes never
// overlap or pile up), the flush timer repeats. Each pass's outcome goes
// to Report.
func (r *Reclaimer) Run(ctx context.Context) {
	after := r.After
	if after == nil {
		after = time.After
	}
	arm := func(d time.Duration) <-chan time.Time {
		if d <= 0 {
			return nil // a nil channel never fires: the timer is off
		}
		return after(d)
	}
	reclaim := arm(r.Config.ReclaimTimerWait)
	var flush <-chan time.Time
	if r.Config.Affinity() {
		flush = arm(r.Config.FlushTimerWait)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-reclaim:
			if r.enabled() {
				r.report(r.Reclaim())
			}
			reclaim = arm(r.Config.ReclaimTimerWait)
		case <-flush:
			if r.enabled() {
				r.report(r.Flush())
			}
			flush = arm(r.Config.FlushTimerWait)
		}
	}
}

func (r *Reclaimer) enabled() bool { return r.Enabled == nil || r.Enabled() }

func (r *Reclaimer) report(p Pass, err error) {
	if r.Report != nil {
		r.Report(p, err)
	}
}
