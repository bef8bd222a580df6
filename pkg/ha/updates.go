package ha

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/memfile"
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

// SendUpdate sends one lease update and applies Kea's outcome rules to
// the machine: rc 0 and rc 3 (empty, e.g. deleting a missing lease)
// succeed, as in Kea's answer check; anything else but a conflict marks
// the partner unavailable. A nil result means the held reply may go out.
//
// A conflict (rc 4) is not Kea's rejected update: this server serves the
// client and its lease is durable, so the reply goes out (nil) and HA is
// never terminated for it. The update is tried once more in a form that
// makes the partner take this server's lease (retryConflict), and both
// outcomes are counted (UpdateConflict) and logged.
func SendUpdate(ctx context.Context, m *Machine, t Transport, peer string, c Command, hw net.HardwareAddr, clientID []byte) error {
	a, err := send(ctx, t, peer, c)
	return m.updateOutcome(ctx, t, peer, c, a, err, hw, clientID)
}

// updateOutcome applies SendUpdate's rules to the answer a to c, or to
// the error err that came instead; a batch's items go through it too.
func (m *Machine) updateOutcome(ctx context.Context, t Transport, peer string, c Command, a Answer, err error, hw net.HardwareAddr, clientID []byte) error {
	if err == nil {
		switch {
		case a.Done():
			return nil
		case a.Result == 4:
			if kept, ok := keptLease(a); ok {
				return m.conflictLost(c, peer, kept)
			}
			fixed := retryConflict(ctx, t, peer, c)
			m.UpdateConflict(fixed)
			outcome := "twinleaf keeps this server's lease (it serves the client), answers the client and stays in its state; the partner did not take the lease when sent again and differs until the next update or sync"
			if fixed {
				outcome = "twinleaf keeps this server's lease (it serves the client), answers the client and stays in its state; sent again, the partner now holds it"
			}
			m.log.Warn(fmt.Sprintf("HA_LEASE_UPDATE_CONFLICT %s: lease update %s for [hwtype=1 %s], cid=[%s] sent to %s returned conflict status code: %s; %s",
				m.self.Name, c.Command, hw, memfile.FormatHex(clientID), peer, a.Text, outcome))
			return nil
		}
		err = a.Err()
	}
	m.log.Warn(fmt.Sprintf("HA_LEASE_UPDATE_FAILED %s: lease update %s sent to %s failed: %v", m.self.Name, c.Command, peer, err))
	if m.partner != nil && peer == m.partner.Name {
		m.PartnerUnavailable(err)
	}
	return err
}

// send sends c and reads the answer.
func send(ctx context.Context, t Transport, peer string, c Command) (Answer, error) {
	body, err := call(ctx, t, peer, c)
	if err != nil {
		return Answer{}, err
	}
	return ParseAnswer(body)
}

// retryConflict is the second attempt after a conflict, with commands
// every Kea release has: an update becomes lease4-del of the address,
// then the same lease4-update (with force-create, so the partner creates
// the lease afresh); a deletion is sent once more. It reports whether the
// partner took it.
func retryConflict(ctx context.Context, t Transport, peer string, c Command) bool {
	if c.Command == "lease4-update" {
		del := Command{Command: "lease4-del", Arguments: map[string]any{"ip-address": c.Addr()}}
		if a, err := send(ctx, t, peer, del); err != nil || !a.Done() {
			return false
		}
	}
	a, err := send(ctx, t, peer, c)
	return err == nil && a.Done()
}

// LeaseBacklog is load-balancing's communication-recovery queue: updates
// wait here while the partner is unreachable and are replayed in order
// once it answers again. It holds delayed-updates-limit commands; past
// that it is overflowed and only a resync (ha-reset) can help.
type LeaseBacklog struct {
	Transport Transport
	Partner   string
	// Conflict hears of each replayed update the partner answered with a
	// conflict and whether the second attempt fixed it (Machine's
	// UpdateConflict); such an update leaves the queue like a sent one.
	Conflict func(fixed bool)
	// Lost hears of each replayed update the partner refused for a lease
	// of its own it gave first (Machine's BacklogConflictLost); such an
	// update leaves the queue like a sent one.
	Lost func(c Command, kept *lease.Lease)

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
// command leaves the queue, the first failure stops the replay. A
// conflict is no failure: it is retried once, as SendUpdate does, and
// the replay goes on.
func (b *LeaseBacklog) Replay(ctx context.Context) error {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.mu.Unlock()
			return nil
		}
		c := b.queue[0]
		b.mu.Unlock()
		a, err := send(ctx, b.Transport, b.Partner, c)
		switch {
		case err != nil, a.Done():
		case a.Result == 4:
			if kept, ok := keptLease(a); ok {
				// The client was answered when the update was queued;
				// it is refused the address at its next request.
				if b.Lost != nil {
					b.Lost(c, kept)
				}
				break
			}
			fixed := retryConflict(ctx, b.Transport, b.Partner, c)
			if b.Conflict != nil {
				b.Conflict(fixed)
			}
		default:
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
