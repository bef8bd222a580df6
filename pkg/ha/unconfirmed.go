package ha

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// unconfirmed holds the addresses whose lease update is in flight or was
// not taken by the partner. Kea's lease caching would answer such a
// client's next REQUEST (a retransmission, say) from the cached lease
// without sending anything to the partner (a reused lease is not
// committed, so no update goes out), and the client could hold an address
// the standby does not know. The engine asks LeaseUnconfirmed and renews
// these leases instead of reusing them, so the update is sent again and
// the reply waits for it.
type unconfirmed struct {
	n     atomic.Int64 // len(addrs), read without the lock when no update is out
	mu    sync.Mutex
	addrs map[netip.Addr]struct{}
}

// maxUnconfirmed bounds the set. Past it, further addresses are not
// recorded (their leases may be reused as Kea would). Beyond the updates
// in flight the set only grows while updates fail and failure detection
// has not yet moved this server to partner-down, where none are sent.
const maxUnconfirmed = 1 << 16

// add records the addresses of changes whose updates go out.
func (u *unconfirmed) add(changes []lease.Change) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.addrs == nil {
		u.addrs = map[netip.Addr]struct{}{}
	}
	for _, c := range changes {
		if len(u.addrs) >= maxUnconfirmed {
			break
		}
		u.addrs[changeAddr(c)] = struct{}{}
	}
	u.n.Store(int64(len(u.addrs)))
}

// remove forgets the addresses of changes the partner took.
func (u *unconfirmed) remove(changes []lease.Change) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range changes {
		delete(u.addrs, changeAddr(c))
	}
	u.n.Store(int64(len(u.addrs)))
}

// changeAddr is the address a change is about.
func changeAddr(c lease.Change) netip.Addr {
	if c.New != nil {
		return c.New.Addr
	}
	if c.Old != nil {
		return c.Old.Addr
	}
	return netip.Addr{}
}

// has reports whether addr's update is out or failed.
func (u *unconfirmed) has(addr netip.Addr) bool {
	if u.n.Load() == 0 {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.addrs[addr]
	return ok
}

// UpdatesSending records that the updates for changes go out now; until
// UpdatesDone says the partner took them, their leases count as
// unconfirmed (LeaseUnconfirmed).
func (m *Machine) UpdatesSending(changes []lease.Change) { m.unconfirmed.add(changes) }

// UpdatesDone records the outcome of the updates for changes: taken by
// the partner (err nil) or not, when their leases stay unconfirmed.
func (m *Machine) UpdatesDone(changes []lease.Change, err error) {
	// A conflict lost to the partner's earlier lease is an answer: the
	// address is the partner's lease now (Config.Adopt), not one it lacks.
	if err == nil || errors.Is(err, errConflictLost) {
		m.unconfirmed.remove(changes)
	}
}

// LeaseUnconfirmed reports whether the partner may lack the lease at
// addr: its update is still out, or failed. The engine does not reuse
// such a lease from its cache (dhcp4.Deps.Unconfirmed), unlike Kea, which
// answers the retransmitted REQUEST of a client whose update failed or is
// still waiting, without the partner ever getting the lease.
func (m *Machine) LeaseUnconfirmed(addr netip.Addr) bool { return m.unconfirmed.has(addr) }
