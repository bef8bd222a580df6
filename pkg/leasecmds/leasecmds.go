// Package leasecmds is Kea's lease_cmds hook library for DHCPv4, built in:
// the lease4-* control commands that list, add, change and remove leases,
// with Kea's arguments, defaults, answer texts and result codes. HA uses
// lease4-update, lease4-del and lease4-get-page between partners.
//
// Texts and codes follow Kea 3.x. Where Kea 2.2 differs, it answers result
// 1 instead of 4 (conflicts: a lease that exists or is missing, a subnet
// that does not fit, a busy address), accepts states 0 to 2 only, and
// answers lease4-resend-ddns's refusals with 1.
//
// Every change is made durable first (Deps.Commit, the lease file), then
// put into the store with a compare-and-swap, then reported to the engine
// (Deps.Observe) so its allocators stay right, and counted (Deps.Stats).
// When a DHCP worker changes the same address between the write and the
// swap, the store's lease is written again so the file ends with what the
// store holds, and the command answers Kea's "ResourceBusy" conflict.
package leasecmds

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/dhcp4"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// SubnetInfo is what the commands need to know of a configured subnet:
// its id, its prefix (to check or find a lease's subnet), its valid
// lifetime (lease4-add's default) and its pools (per-pool statistics).
type SubnetInfo struct {
	ID            uint32
	Prefix        netip.Prefix
	ValidLifetime uint32
	Pools         []PoolInfo
}

// PoolInfo is one address pool of a subnet.
type PoolInfo struct {
	ID          uint32
	First, Last netip.Addr
}

// SubnetsOf lists a compiled configuration's subnets, for Deps.Subnets.
func SubnetsOf(n *dhcp4.Network) []SubnetInfo {
	out := make([]SubnetInfo, 0, len(n.Subnets))
	for _, s := range n.Subnets {
		si := SubnetInfo{ID: s.ID, Prefix: s.Prefix, ValidLifetime: s.Valid.Default}
		for _, p := range s.Pools {
			si.Pools = append(si.Pools, PoolInfo{ID: p.ID, First: p.First, Last: p.Last})
		}
		out = append(out, si)
	}
	return out
}

// Stats receives statistic changes; *stats.Registry is one.
type Stats interface {
	Add(name string, n int64)
}

// Deps is what the commands work on. Store, Commit and Subnets are
// required; the others may be nil.
type Deps struct {
	Store *lease.Store
	// Commit makes changes durable (the journal's Commit); it must not
	// return before they are.
	Commit func(...lease.Change) error
	// Observe tells the engine about a change it did not make.
	Observe func(lease.Change)
	// Subnets returns the current configuration's subnets, in
	// configuration order.
	Subnets func() []SubnetInfo
	// Now is the clock for lease4-add's default cltt; time.Now when nil.
	Now   func() time.Time
	Stats Stats
	// Conflict hears of every lease4-update and lease4-del applied in
	// favour of its sender over a disagreeing local lease (HA counts and
	// logs them); nil ignores them.
	Conflict func(Conflict)
	// Keep decides, for an HA partner's lease4-update (origin
	// ha-partner) giving an address another client holds here, whether
	// the local lease stays (HA's load-balancing conflict rule between two
	// twinleaf servers). The update is then refused with result 4 and the
	// kept lease; nil never keeps.
	Keep func(local, sent *lease.Lease) bool
}

// Names lists the commands Register adds, as Kea 2.2 and 3.x have them
// (3.x's lease4-write is not among them).
func Names() []string {
	return []string{
		"lease4-add", "lease4-update", "lease4-get", "lease4-get-all", "lease4-get-page",
		"lease4-get-by-hw-address", "lease4-get-by-client-id", "lease4-get-by-hostname",
		"lease4-del", "lease4-wipe", "lease4-resend-ddns",
	}
}

// Register adds the lease4-* commands to reg. The daemon calls it when
// the configuration loads libdhcp_lease_cmds.so.
func Register(reg *ctrl.Registry, d Deps) error {
	c, err := New(d)
	if err != nil {
		return err
	}
	return c.Register(reg)
}

// Commands are the lease commands on one store: Register puts them on a
// registry, Batch applies several HA updates as one durable commit.
type Commands struct{ h *handler }

// New checks d and builds the commands.
func New(d Deps) (*Commands, error) {
	h, err := newHandler(d)
	if err != nil {
		return nil, err
	}
	return &Commands{h: h}, nil
}

// Register adds the lease4-* commands to reg.
func (c *Commands) Register(reg *ctrl.Registry) error {
	for name, fn := range c.h.handlers() {
		if err := reg.Register(name, fn); err != nil {
			return fmt.Errorf("leasecmds: %w", err)
		}
	}
	return nil
}

// handler holds the commands' dependencies and the locks that keep two
// commands from changing one address at once.
type handler struct {
	Deps
	locks [64]sync.Mutex
}

func newHandler(d Deps) (*handler, error) {
	if d.Store == nil || d.Commit == nil || d.Subnets == nil {
		return nil, fmt.Errorf("leasecmds: Deps needs Store, Commit and Subnets")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &handler{Deps: d}, nil
}

func (h *handler) handlers() map[string]ctrl.Handler {
	return map[string]ctrl.Handler{
		"lease4-add":               h.add,
		"lease4-update":            h.update,
		"lease4-get":               h.get,
		"lease4-get-all":           h.getAll,
		"lease4-get-page":          h.getPage,
		"lease4-get-by-hw-address": h.getByHWAddr,
		"lease4-get-by-client-id":  h.getByClientID,
		"lease4-get-by-hostname":   h.getByHostname,
		"lease4-del":               h.del,
		"lease4-wipe":              h.wipe,
		"lease4-resend-ddns":       h.resendDDNS,
	}
}

// lock serializes commands on one address; unrelated addresses proceed
// in parallel (HA sends one lease4-update per lease).
func (h *handler) lock(a netip.Addr) func() {
	b := a.As4()
	m := &h.locks[(uint(b[2])<<8|uint(b[3]))%uint(len(h.locks))]
	m.Lock()
	return m.Unlock
}

// apply writes c, then swaps it into the store. ok is false when the
// store changed under it; the store's lease is then written again, so the
// lease file ends with what the store holds.
//
// Inside a batch (tx not nil) the swap comes first and the write is left
// to the batch's one commit (txn).
func (h *handler) apply(tx *txn, c lease.Change) (ok bool, err error) {
	if tx != nil {
		return h.applyLater(tx, c), nil
	}
	if err := h.Commit(c); err != nil {
		return false, fmt.Errorf("leasecmds: writing the lease file: %w", err)
	}
	addr := changeAddr(c)
	if !h.swap(c) {
		cur, _ := h.Store.Get(addr)
		written := c.New
		if written == nil && cur == nil {
			return false, nil
		}
		if err := h.Commit(lease.Change{Old: orDeleted(written, c.Old), New: cur}); err != nil {
			return false, fmt.Errorf("leasecmds: rewriting %s after a concurrent change: %w", addr, err)
		}
		return false, nil
	}
	return true, nil
}

// swap puts c into the store if the store still holds c.Old, and then
// tells the engine and the statistics; false means it changed nothing.
func (h *handler) swap(c lease.Change) bool {
	var ok bool
	if c.New != nil {
		ok = h.Store.CompareAndPut(c.Old, c.New)
	} else {
		ok = h.Store.CompareAndDelete(c.Old)
	}
	if !ok {
		return false
	}
	if h.Observe != nil {
		h.Observe(c)
	}
	h.count(c)
	return true
}

// orDeleted names the lease a restoring change replaces: the one just
// written, or for a deletion the one it deleted.
func orDeleted(written, old *lease.Lease) *lease.Lease {
	if written != nil {
		return written
	}
	return old
}

func changeAddr(c lease.Change) netip.Addr {
	if c.New != nil {
		return c.New.Addr
	}
	return c.Old.Addr
}
