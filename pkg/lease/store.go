package lease

import (
	"bytes"
	"hash/maphash"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
	"unsafe"
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
	mu sync.RWMutex
	// byAddr is keyed by the four bytes of an IPv4 address rather than a
	// netip.Addr: a third of the size, for the map most of the store's
	// memory goes to.
	byAddr   map[[4]byte]*Lease
	bySubnet map[uint32]int // lease count per subnet, any state
}

// index maps an identifier to the leases carrying it, in shards chosen by
// the identifier's hash.
//
// The maps are keyed by that 64-bit hash, not by the identifier, and an
// identifier nearly always belongs to one lease: so an entry is 16 bytes
// with nothing allocated beside it, where a string key and a slice of
// leases took five times that. Hashes shared by several leases (a client
// with leases in several subnets, or a collision) move to more; lookups
// compare the identifier itself, so a collision is never a false match.
type index struct {
	seed   maphash.Seed
	key    func(*Lease) []byte // the identifier a lease is indexed by
	shards [shards]indexShard
}

type indexShard struct {
	mu   sync.RWMutex
	one  map[uint64]*Lease
	more map[uint64][]*Lease
}

func (x *index) init(key func(*Lease) []byte) {
	x.seed = maphash.MakeSeed()
	x.key = key
	for i := range x.shards {
		x.shards[i].one = map[uint64]*Lease{}
		x.shards[i].more = map[uint64][]*Lease{}
	}
}

func (x *index) hash(key []byte) (*indexShard, uint64) {
	h := maphash.Bytes(x.seed, key)
	return &x.shards[h%shards], h
}

func (x *index) add(l *Lease) {
	key := x.key(l)
	if len(key) == 0 {
		return
	}
	sh, h := x.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if more, ok := sh.more[h]; ok {
		sh.more[h] = append(more, l)
		return
	}
	if first, ok := sh.one[h]; ok {
		delete(sh.one, h)
		sh.more[h] = []*Lease{first, l}
		return
	}
	sh.one[h] = l
}

func (x *index) remove(l *Lease) {
	key := x.key(l)
	if len(key) == 0 {
		return
	}
	sh, h := x.hash(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.one[h] == l {
		delete(sh.one, h)
		return
	}
	more := sh.more[h]
	if i := slices.Index(more, l); i >= 0 {
		more = slices.Delete(more, i, i+1)
	}
	switch len(more) {
	case 0:
		delete(sh.more, h)
	case 1:
		delete(sh.more, h)
		sh.one[h] = more[0]
	default:
		sh.more[h] = more
	}
}

// get returns the leases indexed under key that keep accepts, ascending
// by address.
func (x *index) get(key []byte, keep func(*Lease) bool) []*Lease {
	sh, h := x.hash(key)
	sh.mu.RLock()
	var out []*Lease
	match := func(l *Lease) {
		if bytes.Equal(x.key(l), key) && (keep == nil || keep(l)) {
			out = append(out, l)
		}
	}
	if l, ok := sh.one[h]; ok {
		match(l)
	}
	for _, l := range sh.more[h] {
		match(l)
	}
	sh.mu.RUnlock()
	sortByAddr(out)
	return out
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{seed: maphash.MakeSeed()}
	s.byCID.init(func(l *Lease) []byte { return l.ClientID })
	s.byHW.init(func(l *Lease) []byte { return l.HWAddr })
	s.byHost.init(func(l *Lease) []byte { return unsafe.Slice(unsafe.StringData(l.Hostname), len(l.Hostname)) })
	for i := range s.shards {
		sh := &s.shards[i]
		sh.byAddr = map[[4]byte]*Lease{}
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
	l, ok := sh.byAddr[addr.As4()]
	sh.mu.RUnlock()
	return l, ok
}

// ByClientID returns the leases in subnet subnetID whose client-id is cid.
func (s *Store) ByClientID(subnetID uint32, cid []byte) []*Lease {
	if len(cid) == 0 {
		return nil
	}
	return s.byCID.get(cid, subnetFilter(subnetID))
}

// ByHWAddr returns the leases in subnet subnetID whose hardware address is hw.
func (s *Store) ByHWAddr(subnetID uint32, hw net.HardwareAddr) []*Lease {
	if len(hw) == 0 {
		return nil
	}
	return s.byHW.get(hw, subnetFilter(subnetID))
}

// ByClientIDAny returns the leases with client-id cid in every subnet.
func (s *Store) ByClientIDAny(cid []byte) []*Lease {
	if len(cid) == 0 {
		return nil
	}
	return s.byCID.get(cid, nil)
}

// ByHWAddrAny returns the leases with hardware address hw in every subnet.
func (s *Store) ByHWAddrAny(hw net.HardwareAddr) []*Lease {
	if len(hw) == 0 {
		return nil
	}
	return s.byHW.get(hw, nil)
}

// ByHostname returns the leases whose hostname is name (case-sensitive,
// as Kea's memfile index is).
func (s *Store) ByHostname(name string) []*Lease {
	if name == "" {
		return nil
	}
	return s.byHost.get([]byte(name), nil)
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
	cur := sh.byAddr[nl.Addr.As4()]
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
	if sh.byAddr[cur.Addr.As4()] != cur {
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
	old := sh.byAddr[l.Addr.As4()]
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
	l, ok := sh.byAddr[addr.As4()]
	if ok {
		s.unindex(sh, l)
	}
	return l, ok
}

// index adds l to its address shard sh (whose write lock is held) and to
// the identifier indexes.
func (s *Store) index(sh *shard, l *Lease) {
	sh.byAddr[l.Addr.As4()] = l
	sh.bySubnet[l.SubnetID]++
	s.byCID.add(l)
	s.byHW.add(l)
	s.byHost.add(l)
}

// unindex is index undone.
func (s *Store) unindex(sh *shard, l *Lease) {
	delete(sh.byAddr, l.Addr.As4())
	if sh.bySubnet[l.SubnetID]--; sh.bySubnet[l.SubnetID] == 0 {
		delete(sh.bySubnet, l.SubnetID)
	}
	s.byCID.remove(l)
	s.byHW.remove(l)
	s.byHost.remove(l)
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
