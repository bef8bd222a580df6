// Package stats is Kea's statistics manager for a DHCPv4 server: named
// statistics, each with a history of [value, timestamp] samples bounded by
// a count or an age, and the statistic-* control commands that read and
// change them.
//
// Counting is the hot path: a worker gets a *Counter once by name and
// calls Add: an atomic add and an atomic load, no lock, no allocation. Samples
// are taken lazily instead of on every change as Kea does: a statistic
// whose value moved since its last sample gets one new sample, stamped
// with the time it is taken, whenever statistics are read (statistic-get,
// statistic-get-all) and whenever Sample runs (Run calls it periodically).
// So the newest sample always shows the current value, while changes
// between two samplings are coalesced into one sample and a value that
// moves and comes back in between leaves no trace. Set, Reset and the
// other cold-path changes record their sample at once, as Kea does.
package stats

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kea's defaults for statistic-default-sample-count and
// statistic-default-sample-age.
const (
	DefaultSampleCount = 20
	DefaultSampleAge   = 0
)

// Registry holds one server's statistics.
type Registry struct {
	now func() time.Time

	mu    sync.RWMutex
	stats map[string]*stat
	// Limits given to statistics when they are created. A count of 0
	// means the age limit applies instead.
	defCount uint32
	defAge   time.Duration
}

// New returns an empty registry with Kea's default limits. now is the
// clock for sample timestamps; nil means time.Now.
func New(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{now: now, stats: map[string]*stat{}, defCount: DefaultSampleCount, defAge: DefaultSampleAge}
}

// kind is a statistic's value type; Kea's integer, float, duration and
// string.
type kind int

const (
	kindInteger kind = iota
	kindFloat
	kindDuration
	kindString
)

// stat is one statistic. Everything but the counter is guarded by the
// registry's mutex.
type stat struct {
	name string
	kind kind
	c    *Counter // the value of an integer statistic
	// samples are oldest first.
	samples []sample
	// byCount selects the count limit, else the age limit applies.
	byCount  bool
	maxCount uint32
	maxAge   time.Duration
	// hidden statistics were removed, or never set: Kea has no such
	// statistic until its next change.
	hidden bool
}

type sample struct {
	i  int64
	f  float64
	d  time.Duration
	s  string
	at time.Time
}

// Counter is the handle of an integer statistic for the hot path.
type Counter struct {
	v atomic.Int64
	// gone is set while the statistic is hidden: the next Add brings it
	// back, through the registry's lock, as Kea recreates a removed
	// statistic on its next change.
	gone atomic.Bool
	reg  *Registry
	st   *stat
}

// Add adds n (which may be negative) to the statistic.
func (c *Counter) Add(n int64) {
	c.v.Add(n)
	if c.gone.Load() {
		c.reg.revive(c)
	}
}

// Value is the statistic's current value.
func (c *Counter) Value() int64 { return c.v.Load() }

// Counter returns the handle of the integer statistic name, creating it
// if needed. A statistic created this way shows up on its first Add; one
// that held a float, duration or string becomes an integer.
func (r *Registry) Counter(name string) *Counter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counter(name)
}

func (r *Registry) counter(name string) *Counter {
	st := r.stats[name]
	if st != nil && st.kind == kindInteger {
		return st.c
	}
	st = &stat{name: name, kind: kindInteger, hidden: true}
	st.c = &Counter{reg: r, st: st}
	st.c.gone.Store(true)
	r.limit(st)
	r.stats[name] = st
	return st.c
}

// limit gives st the registry's default limits, as a new statistic gets.
func (r *Registry) limit(st *stat) {
	st.byCount = r.defCount > 0
	st.maxCount, st.maxAge = r.defCount, r.defAge
}

// revive shows a hidden statistic again after a change.
func (r *Registry) revive(c *Counter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.gone.Load() {
		c.gone.Store(false)
		c.st.hidden = false
		c.st.samples = c.st.samples[:0]
		r.limit(c.st)
	}
}

// Add adds n to the integer statistic name, as Kea's addValue: for callers
// that build names on the fly (it makes Registry a dhcp4.Stats). It takes
// a read lock to find the counter; workers should keep a Counter instead.
func (r *Registry) Add(name string, n int64) {
	r.mu.RLock()
	st := r.stats[name]
	r.mu.RUnlock()
	if st != nil && st.kind == kindInteger {
		st.c.Add(n)
		return
	}
	r.Counter(name).Add(n)
}

// Set sets the integer statistic name to v and records a sample.
func (r *Registry) Set(name string, v int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counter(name)
	now := r.now()
	if c.st.hidden {
		r.show(c.st)
	} else {
		r.sync(c.st, now) // keep pending adds as their own sample
	}
	c.v.Store(v)
	r.record(c.st, sample{i: v, at: now})
}

// SetFloat sets the float statistic name to v and records a sample.
func (r *Registry) SetFloat(name string, v float64) {
	r.setOther(name, kindFloat, sample{f: v})
}

// SetDuration sets the duration statistic name to v and records a sample.
func (r *Registry) SetDuration(name string, v time.Duration) {
	r.setOther(name, kindDuration, sample{d: v})
}

// SetString sets the string statistic name to v and records a sample.
func (r *Registry) SetString(name string, v string) {
	r.setOther(name, kindString, sample{s: v})
}

func (r *Registry) setOther(name string, k kind, s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats[name]
	if st == nil || st.kind != k {
		if st != nil && st.c != nil {
			// A handle to the old integer statistic now counts nothing
			// visible.
			st.c.gone.Store(true)
		}
		st = &stat{name: name, kind: k}
		r.limit(st)
		r.stats[name] = st
	}
	st.hidden = false
	s.at = r.now()
	r.record(st, s)
}

// show makes a hidden integer statistic visible from now on.
func (r *Registry) show(st *stat) {
	if st.hidden {
		st.hidden = false
		st.c.gone.Store(false)
		st.samples = st.samples[:0]
		r.limit(st)
	}
}

// sync records a sample of an integer statistic whose value moved since
// its last sample.
func (r *Registry) sync(st *stat, now time.Time) {
	if st.kind != kindInteger || st.hidden {
		return
	}
	v := st.c.v.Load()
	if n := len(st.samples); n > 0 && st.samples[n-1].i == v {
		return
	}
	r.record(st, sample{i: v, at: now})
}

// record appends a sample and applies the statistic's limit, as Kea does
// on every new sample.
func (r *Registry) record(st *stat, s sample) {
	st.samples = append(st.samples, s)
	trim(st)
}

// trim drops the oldest samples past the count limit, or older than the
// age limit measured from the newest sample.
func trim(st *stat) {
	drop := 0
	if st.byCount {
		drop = max(len(st.samples)-int(st.maxCount), 0)
	} else if n := len(st.samples); n > 0 {
		newest := st.samples[n-1].at
		for drop < n-1 && newest.Sub(st.samples[drop].at) > st.maxAge {
			drop++
		}
	}
	if drop > 0 {
		st.samples = append(st.samples[:0], st.samples[drop:]...)
	}
}

// Sample records a sample of every statistic that changed since its last
// one.
func (r *Registry) Sample() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, st := range r.stats {
		r.sync(st, now)
	}
}

// Run calls Sample every period until ctx ends, so that sample histories
// follow the counters between reads.
func (r *Registry) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Sample()
		}
	}
}

// Get returns the samples of statistic name, newest first, as Kea's
// statistic-get shows them, or false if there is no such statistic.
func (r *Registry) Get(name string) ([]Sample, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats[name]
	if st == nil || st.hidden {
		return nil, false
	}
	r.sync(st, r.now())
	return st.json(), true
}

// All returns every statistic's samples by name, as statistic-get-all
// shows them.
func (r *Registry) All() map[string][]Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	out := make(map[string][]Sample, len(r.stats))
	for name, st := range r.stats {
		if st.hidden {
			continue
		}
		r.sync(st, now)
		out[name] = st.json()
	}
	return out
}

// Names lists the statistics that exist, sorted.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, st := range r.stats {
		if !st.hidden {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Sample is one [value, "YYYY-MM-DD HH:MM:SS.ffffff"] pair as Kea's
// commands show it: value is an int64, a float64, or a string (a duration
// as "HH:MM:SS.ffffff", or a string statistic).
type Sample [2]any

// TimeFormat is how Kea writes sample times, in local time.
const TimeFormat = "2006-01-02 15:04:05.000000"

func (st *stat) json() []Sample {
	out := make([]Sample, len(st.samples))
	for i, s := range st.samples {
		var v any
		switch st.kind {
		case kindInteger:
			v = s.i
		case kindFloat:
			v = s.f
		case kindDuration:
			v = durationText(s.d)
		case kindString:
			v = s.s
		}
		out[len(out)-1-i] = Sample{v, s.at.Format(TimeFormat)}
	}
	return out
}

// durationText writes a duration as Kea does: hours, minutes, seconds and
// microseconds, "HH:MM:SS.ffffff".
func durationText(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	us := d.Microseconds()
	return fmt.Sprintf("%s%02d:%02d:%02d.%06d", sign, us/3600e6, us/60e6%60, us/1e6%60, us%1e6)
}

// Reset sets a statistic back to its neutral value (0, 0.0, a zero
// duration or "") with that as its only sample. It reports whether the
// statistic exists.
func (r *Registry) Reset(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats[name]
	if st == nil || st.hidden {
		return false
	}
	r.reset(st, r.now())
	return true
}

func (r *Registry) reset(st *stat, now time.Time) {
	if st.c != nil {
		st.c.v.Store(0)
	}
	st.samples = append(st.samples[:0], sample{at: now})
	trim(st)
}

// ResetAll resets every statistic.
func (r *Registry) ResetAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, st := range r.stats {
		if !st.hidden {
			r.reset(st, now)
		}
	}
}

// Remove deletes a statistic, reporting whether it existed. Counters keep
// working: the statistic comes back, counting from zero, on its next
// change.
func (r *Registry) Remove(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats[name]
	if st == nil || st.hidden {
		return false
	}
	r.remove(st)
	return true
}

func (r *Registry) remove(st *stat) {
	if st.c == nil {
		delete(r.stats, st.name)
		return
	}
	st.hidden = true
	st.c.gone.Store(true)
	st.c.v.Store(0)
	st.samples = st.samples[:0]
}

// RemoveAll deletes every statistic.
func (r *Registry) RemoveAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.stats {
		r.remove(st)
	}
}

// RemovePrefix deletes the statistics whose names start with prefix (such
// as "subnet[3]." when subnet 3 leaves the configuration) and says how
// many there were.
func (r *Registry) RemovePrefix(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for name, st := range r.stats {
		if strings.HasPrefix(name, prefix) && !st.hidden {
			r.remove(st)
			n++
		}
	}
	return n
}

// SetMaxSampleAge makes a statistic keep the samples no older than d
// relative to its newest one, instead of a number of samples. It reports
// whether the statistic exists.
func (r *Registry) SetMaxSampleAge(name string, d time.Duration) bool {
	return r.setLimit(name, func(st *stat) { st.byCount, st.maxAge = false, d })
}

// SetMaxSampleCount makes a statistic keep its newest n samples, instead
// of an age. It reports whether the statistic exists.
func (r *Registry) SetMaxSampleCount(name string, n uint32) bool {
	return r.setLimit(name, func(st *stat) { st.byCount, st.maxCount = true, n })
}

func (r *Registry) setLimit(name string, set func(*stat)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats[name]
	if st == nil || st.hidden {
		return false
	}
	r.sync(st, r.now())
	set(st)
	trim(st)
	return true
}

// SetMaxSampleAgeAll applies an age limit to every statistic and makes it
// the default for new ones, as statistic-sample-age-set-all does.
func (r *Registry) SetMaxSampleAgeAll(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.defCount, r.defAge = 0, d
	r.applyAll()
}

// SetMaxSampleCountAll applies a count limit (n > 0) to every statistic
// and makes it the default for new ones, as
// statistic-sample-count-set-all does.
func (r *Registry) SetMaxSampleCountAll(n uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.defCount = n
	r.applyAll()
}

func (r *Registry) applyAll() {
	now := r.now()
	for _, st := range r.stats {
		r.sync(st, now)
		r.limit(st)
		trim(st)
	}
}

// Configure applies the statistic-default-sample-count and
// statistic-default-sample-age of a (re)configuration as Kea does (a nil
// value was not configured). Both become the defaults for new statistics,
// a count of 0 meaning the age applies. A non-zero count also becomes every
// statistic's limit; otherwise a configured age does.
func (r *Registry) Configure(count *uint32, age *time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	each := func(set func(*stat)) {
		for _, st := range r.stats {
			r.sync(st, now)
			set(st)
			trim(st)
		}
	}
	if count != nil {
		r.defCount = *count
		if n := *count; n != 0 {
			each(func(st *stat) { st.byCount, st.maxCount = true, n })
		}
	}
	if age != nil {
		r.defAge = *age
		if d := *age; count == nil || *count == 0 {
			each(func(st *stat) { st.byCount, st.maxAge = false, d })
		}
	}
}
