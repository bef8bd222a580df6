package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// labClockEnv names a file that sets the HA state machine's clock, for
// the lab only: network namespaces share one kernel clock, so a board
// whose clock is wrong or not yet synchronised cannot be had otherwise.
// Only the HA machine (heartbeat times, clock skew, the synchronised
// flag) sees this clock; leases keep the real one. See pkg/ha/README.md.
const labClockEnv = "TWINLEAF_TEST_CLOCK"

// labTime is what a lab clock file says: how far the clock is from the
// real time, and whether it claims to be synchronised.
type labTime struct {
	offset time.Duration
	synced bool
}

// parseLabTime reads a lab clock file's text: an offset in Go's duration
// syntax and "synced" or "unsynced", e.g. "-8760h unsynced" for a board
// a year behind whose clock NTP has not set yet.
func parseLabTime(s string) (labTime, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return labTime{}, fmt.Errorf("want an offset and synced or unsynced (e.g. \"90s synced\"), got %q", s)
	}
	d, err := time.ParseDuration(f[0])
	if err != nil {
		return labTime{}, fmt.Errorf("offset %q: %v", f[0], err)
	}
	var t labTime
	switch f[1] {
	case "synced":
		t = labTime{offset: d, synced: true}
	case "unsynced":
		t = labTime{offset: d}
	default:
		return labTime{}, fmt.Errorf("%q is neither synced nor unsynced", f[1])
	}
	return t, nil
}

// String is the file form of t, which parseLabTime reads back.
func (t labTime) String() string {
	if t.synced {
		return t.offset.String() + " synced"
	}
	return t.offset.String() + " unsynced"
}

// labClock is a clock whose offset and synchronised flag the lab sets by
// rewriting a file while the daemon runs, as NTP would step a board's
// clock. The file is read at every call; a file that cannot be read or
// parsed (a writer not yet done) leaves the last good value in place.
type labClock struct {
	path string
	now  func() time.Time
	log  hclog.Logger

	mu      sync.Mutex
	cur     labTime
	lastErr string
}

// newLabClock reads path once: a lab clock that does not start from a
// good file is a broken test set-up, not something to run on.
func newLabClock(path string, now func() time.Time, log hclog.Logger) (*labClock, error) {
	c := &labClock{path: path, now: now, log: log}
	t, err := c.load()
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", labClockEnv, path, err)
	}
	c.cur = t
	log.Warn(fmt.Sprintf("TWINLEAF_TEST_CLOCK the HA clock follows %s (now %s): a lab tool, unset %s on a real board", path, t, labClockEnv))
	return c, nil
}

func (c *labClock) load() (labTime, error) {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return labTime{}, err
	}
	t, err := parseLabTime(string(b))
	if err != nil {
		return labTime{}, fmt.Errorf("%s: %w", c.path, err)
	}
	return t, nil
}

// read is the file's current value, or the last good one.
func (c *labClock) read() labTime {
	t, err := c.load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != c.lastErr {
			c.lastErr = msg
			c.log.Warn(fmt.Sprintf("TWINLEAF_TEST_CLOCK keeping %s: %v", c.cur, err))
		}
		return c.cur
	}
	if t != c.cur {
		c.log.Info(fmt.Sprintf("TWINLEAF_TEST_CLOCK the HA clock is now %s", t))
	}
	c.cur, c.lastErr = t, ""
	return t
}

// Now is the real time moved by the file's offset.
func (c *labClock) Now() time.Time { return c.now().Add(c.read().offset) }

// Synced is the file's synchronised flag, in place of adjtimex's.
func (c *labClock) Synced() bool { return c.read().synced }
