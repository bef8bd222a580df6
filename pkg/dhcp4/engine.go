// Package dhcp4 is the DHCPv4 protocol engine: it takes one parsed query
// and returns the reply Kea's kea-dhcp4 would send, how to address it, and
// the lease changes to make durable first. It owns no sockets, files or
// goroutines; the lease store, statistics, clock and randomness are handed
// in, so the whole protocol is tested without root or network.
package dhcp4

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/twinleaf/twinleaf/pkg/alloc"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// Store is the part of the lease store the engine uses. Leases it returns
// are never modified by the engine.
type Store interface {
	Get(addr netip.Addr) (*lease.Lease, bool)
	ByClientID(subnetID uint32, cid []byte) []*lease.Lease
	ByHWAddr(subnetID uint32, hw net.HardwareAddr) []*lease.Lease
	// CompareAndPut stores new in place of old, provided the lease now at
	// that address is still old (nil: no lease). It reports success.
	CompareAndPut(old, new *lease.Lease) bool
	// CompareAndDelete removes cur if it is still the lease at its
	// address, and reports whether it did.
	CompareAndDelete(cur *lease.Lease) bool
}

// Stats receives Kea-named statistics ("pkt4-received",
// "subnet[1].assigned-addresses", ...).
type Stats interface {
	Add(name string, delta int64)
}

// StatsFunc adapts a function to Stats.
type StatsFunc func(name string, delta int64)

// Add calls f.
func (f StatsFunc) Add(name string, delta int64) { f(name, delta) }

// Deps are what the engine needs from outside.
type Deps struct {
	Store Store
	// Stats may be nil to count nothing.
	Stats Stats
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand seeds the random allocators; nil means a random seed.
	Rand rand.Source
	// InScope is the HA scope filter (Kea's buffer4_receive callout): a
	// query it rejects is dropped counting only pkt4-received, as Kea
	// does. The class it names (HA_<server>) is added to the client's
	// classes before subnet selection, so pools and subnets can be split
	// between a load-balanced pair as in Kea. Nil serves every query.
	InScope func(*dhcpv4.DHCPv4) (class string, in bool)
	// Unconfirmed reports whether the HA partner may lack the stored
	// lease at an address (its last update failed). Such a lease is
	// renewed, never reused from the cache, so the renewal goes to the
	// partner again before the client is answered. Nil means none.
	Unconfirmed func(netip.Addr) bool
}

// Request is one received query and where it came from.
type Request struct {
	Packet *dhcpv4.DHCPv4
	// Iface is the receiving interface and IfaceAddrs its IPv4 addresses.
	Iface      string
	IfaceAddrs []netip.Prefix
	// ServerAddrs are the addresses of every socket the server listens
	// on, for the server-identifier check; IfaceAddrs are always included.
	ServerAddrs []netip.Addr
	// Src is the query's source address and port, SrcMAC the frame's
	// source MAC.
	Src    netip.AddrPort
	SrcMAC net.HardwareAddr
	// Dst is the query's destination address: 255.255.255.255 for a
	// broadcast, else the server's address it was unicast to.
	Dst netip.Addr
	// FlexID is the flex-id identifier if the caller computes one.
	FlexID []byte
}

// Result is what the engine decided.
type Result struct {
	// Reply is nil when nothing is to be sent; Reason then says why.
	Reply  *dhcpv4.DHCPv4
	Reason string
	// Dst is where to send the reply, Src the local address to send it
	// from, DstMAC the Ethernet destination and Broadcast whether the
	// frame goes to ff:ff:ff:ff:ff:ff.
	Dst       netip.AddrPort
	Src       netip.Addr
	DstMAC    net.HardwareAddr
	Broadcast bool
	// Changes were applied to the store and must be made durable before
	// the reply is sent. If that fails, the caller calls Engine.Undo and drops
	// the reply.
	Changes []lease.Change
}

// Engine answers DHCPv4 queries. It is safe for concurrent use, provided
// queries from one client are handled one at a time (Kea's ClientHandler
// rule, which the dispatcher keeps).
type Engine struct {
	net   *Network
	store Store
	stats Stats
	now   func() time.Time
	scope func(*dhcpv4.DHCPv4) (string, bool)
	// unconfirmed is Deps.Unconfirmed.
	unconfirmed func(netip.Addr) bool
	// global indexes the global reservations.
	global hostIndex
	byID   map[uint32]*Subnet
	// replies holds sent replies for reuse (Recycle): a reply's option
	// map is its largest allocation, about a kilobyte once it has more
	// than eight options.
	replies sync.Pool
	// inbound holds query storage for reuse (HandleBytes).
	inbound sync.Pool
}

// Recycle hands back a reply the caller has sent and no longer holds, so
// that a later reply reuses its option map. Nothing may touch r after.
func (e *Engine) Recycle(r *dhcpv4.DHCPv4) {
	if r != nil {
		e.replies.Put(r)
	}
}

// NewEngine checks n, builds its reservation indexes and pool allocators
// and returns an engine serving it. n belongs to the engine afterwards.
func NewEngine(n *Network, d Deps) (*Engine, error) {
	if d.Store == nil {
		return nil, fmt.Errorf("dhcp4: no lease store")
	}
	e := &Engine{net: n, store: d.Store, stats: d.Stats, now: d.Now, scope: d.InScope, unconfirmed: d.Unconfirmed}
	if e.stats == nil {
		e.stats = StatsFunc(func(string, int64) {})
	}
	if e.now == nil {
		e.now = time.Now
	}
	src := d.Rand
	if src == nil {
		src = rand.NewPCG(rand.Uint64(), rand.Uint64())
	}
	if len(n.HostIdentifiers) == 0 {
		n.HostIdentifiers = DefaultHostIdentifiers
	}
	hold := n.OfferHold
	if hold == 0 {
		hold = DefaultOfferHold
	}
	if err := e.compile(hold, src); err != nil {
		return nil, err
	}
	return e, nil
}

// compile checks the model and fills in the engine's indexes.
func (e *Engine) compile(hold time.Duration, src rand.Source) error {
	n := e.net
	var err error
	e.global, err = indexHosts("global reservations", n.Reservations)
	if err != nil {
		return err
	}
	e.byID = make(map[uint32]*Subnet, len(n.Subnets))
	for _, s := range n.Subnets {
		where := fmt.Sprintf("subnet %d (%s)", s.ID, s.Prefix)
		if _, dup := e.byID[s.ID]; dup {
			return fmt.Errorf("dhcp4: %s: subnet id %d is used twice; give each subnet a unique \"id\"", where, s.ID)
		}
		e.byID[s.ID] = s
		if !s.Prefix.Addr().Is4() {
			return fmt.Errorf("dhcp4: %s: not an IPv4 prefix", where)
		}
		s.hosts, err = indexHosts(where, s.Reservations)
		if err != nil {
			return err
		}
		s.stats = newStatNames(fmt.Sprintf("subnet[%d].", s.ID))
		for _, p := range s.Pools {
			p.stats = newStatNames(fmt.Sprintf("subnet[%d].pool[%d].", s.ID, p.ID))
			if !s.Prefix.Contains(p.First) || !s.Prefix.Contains(p.Last) {
				return fmt.Errorf("dhcp4: %s: pool %s-%s lies outside the subnet", where, p.First, p.Last)
			}
			p.alloc, err = alloc.NewPool(p.First, p.Last, alloc.Config{
				Kind: s.Allocator,
				Hold: hold,
				Seed: [2]uint64{src.Uint64(), src.Uint64()},
			})
			if err != nil {
				return fmt.Errorf("dhcp4: %s: %w", where, err)
			}
		}
	}
	// Build the free lists from the leases already in the store.
	now := e.now()
	for _, s := range n.Subnets {
		for _, p := range s.Pools {
			p.alloc.Rebuild(func(a netip.Addr) bool { return e.unleased(a, now) })
		}
	}
	return nil
}
