package dhcp4

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// infinite is Kea's infinite lifetime.
const infinite = 0xffffffff

// maxCommitRetries bounds how often the allocator retries after another
// worker won the race for the address it picked.
const maxCommitRetries = 8

// findClientLease looks up the client's lease in the selected subnet and
// its shared network, by client-id where match-client-id allows, else by
// hardware address, and moves q.subnet to the lease's subnet. Expired and
// reclaimed leases count: that is lease affinity.
func (e *Engine) findClientLease(q *query) *lease.Lease {
	if q.subnet == nil {
		return nil
	}
	sibs := q.subnet.siblings()
	if q.cid != nil {
		for _, s := range sibs {
			if !s.MatchClientID {
				continue
			}
			for _, l := range e.store.ByClientID(s.ID, q.cid) {
				if l.State != lease.StateDeclined {
					q.subnet = s
					return l
				}
			}
		}
	}
	if len(q.hw) == 0 {
		return nil
	}
	for _, s := range sibs {
		for _, l := range e.store.ByHWAddr(s.ID, q.hw) {
			if l.State != lease.StateDeclined && l.BelongsTo(q.hw, q.cidFor(s)) {
				q.subnet = s
				return l
			}
		}
	}
	return nil
}

// inAllowedPool reports whether addr is in a pool of the selected subnet
// or its shared network, moving q.subnet to the subnet holding it.
func (e *Engine) inAllowedPool(q *query, addr netip.Addr) bool {
	if q.subnet == nil {
		return false
	}
	for _, s := range q.subnet.siblings() {
		if p := s.pool(addr); p != nil && p.allows(q.classes) {
			q.subnet = s
			return true
		}
	}
	return false
}

// unleased reports whether addr has no lease that keeps it from a new
// client: none at all, or one that has expired (declined addresses stay
// taken until their probation ends).
func (e *Engine) unleased(addr netip.Addr, now time.Time) bool {
	l, ok := e.store.Get(addr)
	return !ok || l.Expired(now)
}

// heldByOther reports whether addr was just offered to another client.
func (e *Engine) heldByOther(q *query, addr netip.Addr) bool {
	if p := q.subnet.pool(addr); p != nil {
		return p.alloc.HeldByOther(addr, q.key, q.now)
	}
	return false
}

// takeAddr tries to give addr to the client, creating a lease or reusing
// an expired one (Kea's allocateOrReuseLease4). It returns nil when the
// address is in use by someone else.
func (e *Engine) takeAddr(q *query, addr netip.Addr, fake bool) (*lease.Lease, bool) {
	if e.heldByOther(q, addr) {
		return nil, true
	}
	old, ok := e.store.Get(addr)
	if ok && !old.Expired(q.now) {
		return nil, true
	}
	if !ok {
		old = nil
	}
	nl := e.newLease(q, addr)
	return nl, e.commit(q, old, nl, fake)
}

// newLease builds the client's lease for addr in q.subnet.
func (e *Engine) newLease(q *query, addr netip.Addr) *lease.Lease {
	l := &lease.Lease{
		Addr:     addr,
		HWAddr:   append(net.HardwareAddr(nil), q.hw...),
		ValidLft: validLifetime(q),
		CLTT:     q.now.Truncate(1e9),
		SubnetID: q.subnet.ID,
		Hostname: e.hostname(q),
	}
	if cid := q.cidFor(q.subnet); cid != nil {
		l.ClientID = append([]byte(nil), cid...)
	}
	if p := q.subnet.pool(addr); p != nil {
		l.PoolID = p.ID
	}
	return l
}

// renew extends the client's existing lease (Kea's renewLease4).
func (e *Engine) renew(q *query, old *lease.Lease, fake bool) *lease.Lease {
	nl := e.newLease(q, old.Addr)
	nl.FqdnFwd, nl.FqdnRev = old.FqdnFwd, old.FqdnRev
	nl.UserContext = old.Clone().UserContext
	if left, ok := reusable(q.subnet, old, nl); ok && (e.unconfirmed == nil || !e.unconfirmed(old.Addr)) {
		// Lease caching: the stored lease stays as it is and the client
		// is granted what is left of it.
		e.stats.Add("v4-lease-reuses", 1)
		e.stats.Add(fmt.Sprintf("subnet[%d].v4-lease-reuses", q.subnet.ID), 1)
		reused := old.Clone()
		reused.ValidLft = left
		return reused
	}
	if !e.commit(q, old, nl, fake) {
		return nil
	}
	return nl
}

// reusable decides whether a renewal may reuse old instead of storing nl
// (Kea's setLeaseReusable), and returns the lifetime left to grant.
func reusable(s *Subnet, old, nl *lease.Lease) (uint32, bool) {
	if old.State != lease.StateDefault || old.SubnetID != nl.SubnetID ||
		!bytes.Equal(old.HWAddr, nl.HWAddr) || !bytes.Equal(old.ClientID, nl.ClientID) ||
		old.ValidLft != nl.ValidLft || old.Hostname != nl.Hostname {
		return 0, false
	}
	if old.ValidLft == infinite {
		return infinite, true
	}
	age := nl.CLTT.Sub(old.CLTT).Seconds()
	if age < 0 || age >= float64(old.ValidLft) {
		return 0, false
	}
	var maxAge float64
	if s.CacheMaxAge.Set {
		maxAge = float64(s.CacheMaxAge.Secs)
		if maxAge == 0 || age > maxAge {
			return 0, false
		}
	}
	if s.CacheThreshold > 0 && s.CacheThreshold <= 1 {
		maxAge = float64(uint32(float64(nl.ValidLft) * s.CacheThreshold))
		if age > maxAge {
			return 0, false
		}
	}
	if maxAge == 0 {
		return 0, false
	}
	return old.ValidLft - uint32(age), true
}

// validLifetime is the lease time to grant: the client's option 51
// clamped to the subnet's bounds, or the subnet's default.
func validLifetime(q *query) uint32 {
	v := q.subnet.Valid
	if b := q.p.Options[optLeaseTime]; len(b) == 4 {
		req := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if req > 0 {
			return min(max(req, v.Min), v.Max)
		}
	}
	return v.Default
}

// commit stores nl in place of old unless this is a DISCOVER, records the
// change and the statistics Kea keeps, and tells the pool. It reports
// false when another worker changed the address first.
func (e *Engine) commit(q *query, old, nl *lease.Lease, fake bool) bool {
	p := q.subnet.pool(nl.Addr)
	if fake {
		if p != nil {
			p.alloc.Hold(nl.Addr, q.key, q.now)
		}
		return true
	}
	if !e.store.CompareAndPut(old, nl) {
		return false
	}
	q.changes = append(q.changes, lease.Change{Old: old, New: nl})
	if p != nil {
		p.alloc.Taken(nl.Addr)
	}
	renewal := old != nil && old.State == lease.StateDefault && !old.Expired(q.now) &&
		old.SubnetID == nl.SubnetID
	if renewal {
		return true
	}
	if old != nil {
		switch old.State {
		case lease.StateDefault:
			e.poolStat(old.SubnetID, old.Addr, "assigned-addresses", -1)
			if old.Expired(q.now) {
				e.stats.Add("reclaimed-leases", 1)
				e.poolStat(old.SubnetID, old.Addr, "reclaimed-leases", 1)
			}
		case lease.StateDeclined:
			e.poolStat(old.SubnetID, old.Addr, "assigned-addresses", -1)
			e.stats.Add("declined-addresses", -1)
			e.poolStat(old.SubnetID, old.Addr, "declined-addresses", -1)
			e.stats.Add("reclaimed-declined-addresses", 1)
			e.poolStat(old.SubnetID, old.Addr, "reclaimed-declined-addresses", 1)
		}
	}
	e.poolStat(nl.SubnetID, nl.Addr, "assigned-addresses", 1)
	e.stats.Add("cumulative-assigned-addresses", 1)
	e.poolStat(nl.SubnetID, nl.Addr, "cumulative-assigned-addresses", 1)
	return true
}

// poolStat adds delta to a subnet statistic and, when addr is in one of
// the subnet's pools, to the pool's.
func (e *Engine) poolStat(subnetID uint32, addr netip.Addr, name string, delta int64) {
	s, ok := e.byID[subnetID]
	if !ok {
		e.stats.Add(fmt.Sprintf("subnet[%d].%s", subnetID, name), delta)
		return
	}
	e.stats.Add(s.stats.name(name), delta)
	if p := s.pool(addr); p != nil {
		e.stats.Add(p.stats.name(name), delta)
	}
}

// statNames are the full names of the per-lease statistics of one subnet
// or pool, keyed by their last part.
type statNames struct {
	prefix string
	names  map[string]string
}

// leaseStats are the statistics a lease change moves.
var leaseStats = []string{"assigned-addresses", "cumulative-assigned-addresses",
	"declined-addresses", "reclaimed-leases", "reclaimed-declined-addresses"}

func newStatNames(prefix string) statNames {
	n := statNames{prefix: prefix, names: make(map[string]string, len(leaseStats))}
	for _, s := range leaseStats {
		n.names[s] = prefix + s
	}
	return n
}

func (n statNames) name(s string) string {
	if full, ok := n.names[s]; ok {
		return full
	}
	return n.prefix + s
}

// forget deletes the client's previous lease once it has moved to a new
// address (Kea's deleteAssignedLease).
func (e *Engine) forget(q *query, old *lease.Lease) {
	if !e.store.CompareAndDelete(old) {
		return
	}
	q.changes = append(q.changes, lease.Change{Old: old})
	if old.State != lease.StateReleased && old.State != lease.StateReclaimed {
		e.poolStat(old.SubnetID, old.Addr, "assigned-addresses", -1)
	}
	e.freed(old)
}

// freed tells the pool holding a lease's address that it is free again.
func (e *Engine) freed(l *lease.Lease) {
	if s, ok := e.byID[l.SubnetID]; ok {
		if p := s.pool(l.Addr); p != nil {
			p.alloc.Freed(l.Addr)
		}
	}
}

// discoverLease chooses the address to offer (Kea's discoverLease4). The
// lease is not stored; the address is held for the client instead.
func (e *Engine) discoverLease(q *query) *lease.Lease {
	client := e.findClientLease(q)
	if addr, ok := e.reservedAddr(q); ok {
		if client == nil || client.Addr != addr {
			if nl, _ := e.takeAddr(q, addr, true); nl != nil {
				return nl
			}
			e.stats.Add("v4-reservation-conflicts", 1)
			e.stats.Add(fmt.Sprintf("subnet[%d].v4-reservation-conflicts", q.subnet.ID), 1)
		} else {
			return e.renew(q, client, true)
		}
	}
	if client != nil && e.inAllowedPool(q, client.Addr) && !e.reservedForOther(q.subnet, client.Addr, q) {
		// The lease ties the address to this client, which outranks an
		// in-flight hold (one may be left from the client's own earlier
		// exchange under another identity).
		return e.renew(q, client, true)
	}
	if req, ok := optAddr(q.p, optRequestedIP); ok && !req.IsUnspecified() &&
		e.inAllowedPool(q, req) && !e.reservedForOther(q.subnet, req, q) {
		if nl, _ := e.takeAddr(q, req, true); nl != nil {
			return nl
		}
	}
	return e.allocate(q, true)
}

// requestLease confirms, renews or allocates the client's lease for a
// REQUEST (Kea's requestLease4).
func (e *Engine) requestLease(q *query, hint netip.Addr) *lease.Lease {
	client := e.findClientLease(q)
	req := hint
	if req.IsValid() {
		if e.reservedForOther(q.subnet, req, q) {
			return nil
		}
	} else if addr, ok := e.reservedAddr(q); ok {
		req = addr
	}
	resAddr, hasRes := e.reservedAddr(q)
	if req.IsValid() {
		if l, ok := e.store.Get(req); ok && !l.Expired(q.now) && !l.BelongsTo(q.hw, q.cidFor(q.subnet)) {
			return nil
		}
		if hasRes && resAddr != req {
			// The client must use its reservation while it is free.
			if l, ok := e.store.Get(resAddr); !ok || l.Expired(q.now) {
				return nil
			}
		}
		if (!hasRes || resAddr != req) && !e.inAllowedPool(q, req) {
			q.unknownRequested = true
			return nil
		}
	}
	if client != nil && (client.Addr == req || !req.IsValid()) &&
		((hasRes && resAddr == req) || e.inAllowedPool(q, client.Addr)) {
		return e.renew(q, client, false)
	}
	var nl *lease.Lease
	if req.IsValid() {
		nl, _ = e.takeAddr(q, req, false)
	} else {
		nl = e.allocate(q, false)
	}
	if nl != nil && client != nil && client.Addr != nl.Addr {
		e.forget(q, client)
	}
	return nl
}

// allocate picks a fresh address from the pools of the selected subnet
// and then its shared network (Kea's allocateUnreservedLease4).
func (e *Engine) allocate(q *query, fake bool) *lease.Lease {
	orig := q.subnet
	tried := false
	for _, s := range orig.siblings() {
		q.subnet = s
		usable := func(a netip.Addr) bool {
			return !e.reservedForOther(s, a, q) && e.unleased(a, q.now)
		}
		for _, p := range s.Pools {
			if !p.allows(q.classes) {
				continue
			}
			tried = true
			for range maxCommitRetries {
				addr, err := p.alloc.Pick(q.now, q.key, usable)
				if err != nil {
					break
				}
				old, ok := e.store.Get(addr)
				if !ok {
					old = nil
				} else if !old.Expired(q.now) {
					continue
				}
				nl := e.newLease(q, addr)
				if e.commit(q, old, nl, fake) {
					return nl
				}
			}
		}
	}
	q.subnet = orig
	e.allocFail(q, tried)
	return nil
}

// allocFail counts a failed allocation under Kea's names.
func (e *Engine) allocFail(q *query, tried bool) {
	add := func(name string) {
		e.stats.Add(name, 1)
		e.stats.Add(fmt.Sprintf("subnet[%d].%s", q.subnet.ID, name), 1)
	}
	if q.subnet.Network != nil {
		add("v4-allocation-fail-shared-network")
	} else {
		add("v4-allocation-fail-subnet")
	}
	if tried {
		add("v4-allocation-fail")
	} else {
		add("v4-allocation-fail-no-pools")
	}
	// Every Kea query carries the built-in class ALL, so Kea always
	// counts this one too.
	add("v4-allocation-fail-classes")
}

// Observe tells the pool allocators about a lease change the engine did
// not make itself (lease_cmds, an HA partner, reclamation), so the
// free-list allocator neither hands out a taken address nor forgets a
// freed one. Changes from Handle need not be passed back.
func (e *Engine) Observe(c lease.Change) {
	now := e.now()
	if c.Old != nil && (c.New == nil || c.New.Addr != c.Old.Addr) {
		e.freed(c.Old)
	}
	if c.New == nil {
		return
	}
	switch {
	case c.New.State == lease.StateReleased || c.New.State == lease.StateReclaimed || c.New.Expired(now):
		e.freed(c.New)
	default:
		for _, s := range e.net.Subnets {
			if p := s.pool(c.New.Addr); p != nil {
				p.alloc.Taken(c.New.Addr)
			}
		}
	}
}

// Undo reverts changes a Handle result applied, newest first, when they
// could not be made durable; an address changed meanwhile by someone else
// is left alone. The pools are told, so the free list stays right.
func (e *Engine) Undo(changes []lease.Change) {
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		var ok bool
		switch {
		case c.New == nil && c.Old != nil:
			ok = e.store.CompareAndPut(nil, c.Old)
		case c.New != nil && c.Old == nil:
			ok = e.store.CompareAndDelete(c.New)
		case c.New != nil:
			ok = e.store.CompareAndPut(c.New, c.Old)
		}
		if ok {
			e.Observe(lease.Change{Old: c.New, New: c.Old})
		}
	}
}
