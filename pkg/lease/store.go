package lease

import (
	"bytes"
	"hash/maphash"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// shards spreads leases over independently locked parts so that workers
// handling different clients rarely meet on one lock.
const shards = 64

// Store is the in-memory lease set with the indexes the engine, the
// control API and HA need. Leases are sharded by address, and each
// secondary index (client-id, hardware address, hostname) is sharded by
// its own key, so every lookup, by address or by identifier, takes one
// shard's read lock, and an update takes its address shard's write lock
// and then briefly the index shards it touches (always in that order).
// Stored leases are never modified in place: an update replaces the
// pointer, so a lease handed out by a lookup stays valid and unchanged.
type Store struct {
	seed   maphash.Seed
	shards [shards]shard
	byCID  index
	byHW   index
	byHost index
}

type shard struct {
	mu       sync.RWMutex
	byAddr   map[netip.Addr]*Lease
	bySubnet map[uint32]int // lease count per subnet, any state
}

// index maps an identifier to the leases carrying it, in shards chosen by
// the identifier's hash.
type index struct {
	seed   maphash.Seed
	shards [shards]indexShard
}

type indexShard struct {
	mu sync.RWMutex
	m  map[string][]*Lease
}

func (x *index) init() {
	x.seed = maphash.MakeSeed()
	for i := range x.shards {
		x.shards[i].m = map[string][]*Lease{}
	}
}

func (x *index) shard(key string) *indexShard {
	return &x.shards[maphash.String(x.seed, key)%shards]
}

func (x *index) add(key string, l *Lease) {
	if key == "" {
		return
	}
	sh := x.shard(key)
	sh.mu.Lock()
	sh.m[key] = append(sh.m[key], l)
	sh.mu.Unlock()
}

func (x *index) remove(key string, l *Lease) {
	if key == "" {
		return
	}
	sh := x.shard(key)
	sh.mu.Lock()
	drop(sh.m, key, l)
	sh.mu.Unlock()
}

// get returns the leases under key that keep accepts, ascending by address.
func (x *index) get(key string, keep func(*Lease) bool) []*Lease {
	sh := x.shard(key)
	sh.mu.RLock()
	var out []*Lease
	for _, l := range sh.m[key] {
		if keep == nil || keep(l) {
			out = append(out, l)
		}
	}
	sh.mu.RUnlock()
	sortByAddr(out)
	return out
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{seed: maphash.MakeSeed()}
	s.byCID.init()
	s.byHW.init()
	s.byHost.init()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.byAddr = map[netip.Addr]*Lease{}
		sh.bySubnet = map[uint32]int{}
	}
	return s
}

func (s *Store) shard(a netip.Addr) *shard {
	b := a.As4()
	return &s.shards[maphash.Bytes(s.seed, b[:])%shards]
}

// Get returns the lease at addr. The lease must not be modified.
func (s *Store) Get(addr netip.Addr) (*Lease, bool) {
	sh := s.shard(addr)
	sh.mu.RLock()
	l, ok := sh.byAddr[addr]
	sh.mu.RUnlock()
	return l, ok
}

// ByClientID returns the leases in subnet subnetID whose client-id is cid.
func (s *Store) ByClientID(subnetID uint32, cid []byte) []*Lease {
	if len(cid) == 0 {
		return nil
	}
	return s.byCID.get(string(cid), subnetFilter(subnetID))
}

// ByHWAddr returns the leases in subnet subnetID whose hardware address is hw.
func (s *Store) ByHWAddr(subnetID uint32, hw net.HardwareAddr) []*Lease {
	if len(hw) == 0 {
		return nil
	}
	return s.byHW.get(string(hw), subnetFilter(subnetID))
}

// ByClientIDAny returns the leases with client-id cid in every subnet.
func (s *Store) ByClientIDAny(cid []byte) []*Lease {
	if len(cid) == 0 {
		return nil
	}
	return s.byCID.get(string(cid), nil)
}

// ByHWAddrAny returns the leases with hardware address hw in every subnet.
func (s *Store) ByHWAddrAny(hw net.HardwareAddr) []*Lease {
	if len(hw) == 0 {
		return nil
	}
	return s.byHW.get(string(hw), nil)
}

// ByHostname returns the leases whose hostname is name (case-sensitive,
// as Kea's memfile index is).
func (s *Store) ByHostname(name string) []*Lease {
	if name == "" {
		return nil
	}
	return s.byHost.get(name, nil)
}

func subnetFilter(id uint32) func(*Lease) bool {
	return func(l *Lease) bool { return l.SubnetID == id }
}

// CompareAndPut stores nl at nl.Addr if the lease stored there now is old
// (the same pointer a lookup returned; nil means none). It reports whether
// it did. This is how two workers never give one address to two clients.
func (s *Store) CompareAndPut(old, nl *Lease) bool {
	sh := s.shard(nl.Addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cur := sh.byAddr[nl.Addr]
	if cur != old {
		return false
	}
	if cur != nil {
		s.unindex(sh, cur)
	}
	s.index(sh, nl)
	return true
}

// CompareAndDelete removes the lease at addr if it is still cur; it
// reports whether it did.
func (s *Store) CompareAndDelete(cur *Lease) bool {
	sh := s.shard(cur.Addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.byAddr[cur.Addr] != cur {
		return false
	}
	s.unindex(sh, cur)
	return true
}

// Put stores l, replacing any lease at its address (loading, lease_cmds,
// HA sync). It returns the lease it replaced, or nil.
func (s *Store) Put(l *Lease) *Lease {
	sh := s.shard(l.Addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := sh.byAddr[l.Addr]
	if old != nil {
		s.unindex(sh, old)
	}
	s.index(sh, l)
	return old
}

// Delete removes the lease at addr and returns it.
func (s *Store) Delete(addr netip.Addr) (*Lease, bool) {
	sh := s.shard(addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l, ok := sh.byAddr[addr]
	if ok {
		s.unindex(sh, l)
	}
	return l, ok
}

// index adds l to its address shard sh (whose write lock is held) and to
// the identifier indexes.
func (s *Store) index(sh *shard, l *Lease) {
	sh.byAddr[l.Addr] = l
	sh.bySubnet[l.SubnetID]++
	s.byCID.add(string(l.ClientID), l)
	s.byHW.add(string(l.HWAddr), l)
	s.byHost.add(l.Hostname, l)
}

// unindex is index undone.
func (s *Store) unindex(sh *shard, l *Lease) {
	delete(sh.byAddr, l.Addr)
	if sh.bySubnet[l.SubnetID]--; sh.bySubnet[l.SubnetID] == 0 {
		delete(sh.bySubnet, l.SubnetID)
	}
	s.byCID.remove(string(l.ClientID), l)
	s.byHW.remove(string(l.HWAddr), l)
	s.byHost.remove(l.Hostname, l)
}

func drop(m map[string][]*Lease, key string, l *Lease) {
	ls := m[key]
	for i, x := range ls {
		if x == l {
			ls = slices.Delete(ls, i, i+1)
			break
		}
	}
	if len(ls) == 0 {
		delete(m, key)
	} else {
		m[key] = ls
	}
}

// Len is the number of leases stored, in every state.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.byAddr)
		sh.mu.RUnlock()
	}
	return n
}

// Count is the number of leases of subnet subnetID in state st; a subnet
// id of 0 counts every subnet.
func (s *Store) Count(subnetID uint32, st State) int {
	n := 0
	s.each(func(l *Lease) bool {
		if (subnetID == 0 || l.SubnetID == subnetID) && l.State == st {
			n++
		}
		return true
	})
	return n
}

// each calls f for every lease, shard by shard, under the shard's read
// lock; f must not call back into the store. It stops when f returns false.
func (s *Store) each(f func(*Lease) bool) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, l := range sh.byAddr {
			if !f(l) {
				sh.mu.RUnlock()
				return
			}
		}
		sh.mu.RUnlock()
	}
}

// All returns every lease, ascending by address.
func (s *Store) All() []*Lease {
	out := make([]*Lease, 0, s.Len())
	s.each(func(l *Lease) bool { out = append(out, l); return true })
	sortByAddr(out)
	return out
}

// Page returns up to limit leases with addresses strictly greater than
// from, ascending: lease4-get-page and HA's sync walk the store with it.
func (s *Store) Page(from netip.Addr, limit int) []*Lease {
	var out []*Lease
	s.each(func(l *Lease) bool {
		if l.Addr.Compare(from) > 0 {
			out = append(out, l)
		}
		return true
	})
	sortByAddr(out)
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Expired returns up to limit leases awaiting reclamation, oldest expiry
// first (limit <= 0: all): every lease not yet reclaimed (state 2) whose
// lifetime ended at or before now. Declined leases whose probation ended
// are included (reclamation deletes them), and so are Kea 3.x released
// leases (state 3, valid lifetime 0), which Kea reclaims like the others.
func (s *Store) Expired(now time.Time, limit int) []*Lease {
	return s.byExpiry(limit, func(l *Lease) bool {
		return l.State != StateReclaimed && !now.Before(l.Expire())
	})
}

// ReclaimedBefore returns up to limit reclaimed (state 2) leases that
// expired before t, oldest first: the flush job removes them. Released
// leases are not included; they are reclaimed first, as in Kea.
func (s *Store) ReclaimedBefore(t time.Time, limit int) []*Lease {
	return s.byExpiry(limit, func(l *Lease) bool {
		return l.State == StateReclaimed && l.Expire().Before(t)
	})
}

// byExpiry scans for leases matching keep. A scan costs O(leases); it runs
// from the reclamation timer, not the packet path, and a home network's
// few thousand leases scan in microseconds.
func (s *Store) byExpiry(limit int, keep func(*Lease) bool) []*Lease {
	var out []*Lease
	s.each(func(l *Lease) bool {
		if keep(l) {
			out = append(out, l)
		}
		return true
	})
	slices.SortFunc(out, func(a, b *Lease) int {
		if c := a.Expire().Compare(b.Expire()); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func sortByAddr(ls []*Lease) {
	slices.SortFunc(ls, func(a, b *Lease) int { return a.Addr.Compare(b.Addr) })
}

// Equal reports whether two leases hold the same data (not the same
// pointer); tests and the HA sync's conflict rules use it.
func Equal(a, b *Lease) bool {
	return a.Addr == b.Addr && bytes.Equal(a.HWAddr, b.HWAddr) && bytes.Equal(a.ClientID, b.ClientID) &&
		a.ValidLft == b.ValidLft && a.CLTT.Equal(b.CLTT) && a.SubnetID == b.SubnetID && a.PoolID == b.PoolID &&
		a.FqdnFwd == b.FqdnFwd && a.FqdnRev == b.FqdnRev && a.Hostname == b.Hostname && a.State == b.State
}
