package ha

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// UpdateCommands are the partner updates for one transaction's changes,
// in Kea's order: the deletions first (lease4-del; a 3.x released lease
// kept by affinity is a lease4-update), then the new and updated leases.
func UpdateCommands(v Version, changes []lease.Change) []Command {
	var dels, puts []Command
	for _, c := range changes {
		switch {
		case c.New == nil && c.Old != nil:
			dels = append(dels, LeaseDeleteCommand(v, c.Old))
		case c.New != nil && c.New.State == lease.StateReleased:
			if v == Kea22 {
				dels = append(dels, LeaseDeleteCommand(v, c.New))
			} else {
				dels = append(dels, LeaseUpdateCommand(v, c.New))
			}
		case c.New != nil:
			if c.Old != nil && c.Old.Addr != c.New.Addr {
				dels = append(dels, LeaseDeleteCommand(v, c.Old))
			}
			puts = append(puts, LeaseUpdateCommand(v, c.New))
		}
	}
	return append(dels, puts...)
}

// ErrConflict is a lease update the partner refused with rc 4 (Kea 3.x):
// the reply is dropped but the partner stays available.
var ErrConflict = errors.New("ha: the partner refused the lease update as a conflict")

// SendUpdate sends one lease update and applies Kea's outcome rules to
// the machine: rc 0 and rc 3 (empty, e.g. deleting a missing lease)
// succeed, as in Kea's answer check; rc 4 counts the
// client as rejected; anything else marks the partner unavailable. A nil
// result means the held reply may go out.
func SendUpdate(ctx context.Context, m *Machine, t Transport, peer string, c Command, hw net.HardwareAddr, clientID []byte) error {
	body, err := call(ctx, t, peer, c)
	var a Answer
	if err == nil {
		a, err = ParseAnswer(body)
	}
	if err == nil {
		switch {
		case a.Result == 0, a.Result == 3:
			m.UpdateAccepted(hw, clientID)
			return nil
		case a.Result == 4:
			m.UpdateRejected(hw, clientID)
			m.log.Warn(fmt.Sprintf("HA_LEASE_UPDATE_CONFLICT %s: lease update %s sent to %s returned conflict status code: %s", m.self.Name, c.Command, peer, a.Text))
			return fmt.Errorf("%w: %s", ErrConflict, a.Text)
		}
		err = a.Err()
	}
	m.log.Warn(fmt.Sprintf("HA_LEASE_UPDATE_FAILED %s: lease update %s sent to %s failed: %v", m.self.Name, c.Command, peer, err))
	if m.partner != nil && peer == m.partner.Name {
		m.PartnerUnavailable(err)
	}
	return err
}

// LeaseBacklog is load-balancing's communication-recovery queue: updates
// wait here while the partner is unreachable and are replayed in order
// once it answers again. It holds delayed-updates-limit commands; past
// that it is overflowed and only a resync (ha-reset) can help.
type LeaseBacklog struct {
	Transport Transport
	Partner   string

	mu         sync.Mutex
	limit      int
	queue      []Command
	overflowed bool
}

// NewLeaseBacklog is a backlog of limit commands for the partner.
func NewLeaseBacklog(limit uint32, t Transport, partner string) *LeaseBacklog {
	return &LeaseBacklog{Transport: t, Partner: partner, limit: int(limit)}
}

// Push queues c; false when the backlog is (now) overflowed.
func (b *LeaseBacklog) Push(c Command) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.overflowed || len(b.queue) >= b.limit {
		b.overflowed = true
		return false
	}
	b.queue = append(b.queue, c)
	return true
}

// Overflowed implements Backlog.
func (b *LeaseBacklog) Overflowed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.overflowed
}

// Len is the number of queued commands.
func (b *LeaseBacklog) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Replay implements Backlog: one request at a time, in order; a sent
// command leaves the queue, the first failure stops the replay.
func (b *LeaseBacklog) Replay(ctx context.Context) error {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.mu.Unlock()
			return nil
		}
		c := b.queue[0]
		b.mu.Unlock()
		body, err := call(ctx, b.Transport, b.Partner, c)
		var a Answer
		if err == nil {
			a, err = ParseAnswer(body)
		}
		if err == nil && a.Result != 0 && a.Result != 3 {
			err = a.Err()
		}
		if err != nil {
			return fmt.Errorf("ha: replaying the backlog to %s: %w", b.Partner, err)
		}
		b.mu.Lock()
		b.queue = b.queue[1:]
		b.mu.Unlock()
	}
}

// Clear implements Backlog.
func (b *LeaseBacklog) Clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue, b.overflowed = nil, false
}
