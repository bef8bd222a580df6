package dhcp4

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/twinleaf/twinleaf/pkg/alloc"
)

// Network is the engine's compiled view of a Dhcp4 configuration: every
// inherited parameter already resolved onto each subnet, options kept per
// scope so that the most specific one wins at reply time.
type Network struct {
	Subnets        []*Subnet
	SharedNetworks []*SharedNetwork
	// Options is the global option-data.
	Options []Option
	// Reservations are the global host reservations.
	Reservations []*Reservation
	// HostIdentifiers is host-reservation-identifiers, in lookup order.
	HostIdentifiers []Identifier
	// DeclineProbation is decline-probation-period.
	DeclineProbation time.Duration
	// Affinity keeps released leases (state 3) instead of deleting them:
	// Kea does so when flush-reclaimed-timer-wait-time and
	// hold-reclaimed-time are both non-zero.
	Affinity bool
	// EchoClientID is echo-client-id.
	EchoClientID bool
	// DirectResponse is false when dhcp-socket-type is "udp": replies to
	// clients without an address are then broadcast.
	DirectResponse bool
	// IgnoreServerID is ignore-dhcp-server-identifier.
	IgnoreServerID bool
	// IgnoreLinkSelection is ignore-rai-link-selection.
	IgnoreLinkSelection bool
	// Authoritative is the global authoritative flag, used when no subnet
	// was selected.
	Authoritative bool
	// OfferHold is how long an offered address is kept from other clients;
	// zero means DefaultOfferHold.
	OfferHold time.Duration
}

// DefaultOfferHold keeps an offered address from other clients for long
// enough to cover a client's REQUEST, as Kea's per-address resource lock
// plus its OFFER-time lease check do.
const DefaultOfferHold = 10 * time.Second

// SharedNetwork groups subnets on one link; a client may be served from any
// of them.
type SharedNetwork struct {
	Name      string
	Interface string
	Relay     []netip.Addr
	Options   []Option
	Subnets   []*Subnet
}

// Subnet is one subnet4 with every parameter resolved.
type Subnet struct {
	ID        uint32
	Prefix    netip.Prefix
	Interface string
	Relay     []netip.Addr
	// Network is the shared network the subnet belongs to, or nil.
	Network *SharedNetwork
	Pools   []*Pool
	Options []Option
	// Reservations are the subnet's host reservations.
	Reservations []*Reservation
	// ClientClasses restricts the subnet to clients of these classes
	// (Kea's subnet client-class); empty serves everyone.
	ClientClasses []string

	Valid Lifetime
	// T1 and T2 are renew-timer and rebind-timer when configured.
	T1, T2       Timer
	CalculateTee bool
	T1Percent    float64
	T2Percent    float64

	// CacheThreshold and CacheMaxAge enable lease caching: a renewal
	// early in the lease's life reuses it unchanged (no store write) and
	// grants the remaining time. Kea 3.x defaults the threshold to 0.25;
	// zero turns caching off, as does a CacheMaxAge of zero when set.
	CacheThreshold float64
	CacheMaxAge    Timer

	MatchClientID bool
	Authoritative bool

	ReservationsGlobal    bool
	ReservationsInSubnet  bool
	ReservationsOutOfPool bool

	NextServer     netip.Addr
	ServerHostname string
	BootFileName   string
	// ServerID is dhcp-server-identifier (option 54) configured for the
	// subnet, its network or globally; the zero Addr when not set.
	ServerID netip.Addr

	Allocator alloc.Kind

	hosts hostIndex
	// stats holds this subnet's statistic names, "subnet[1].x", made once
	// rather than per lease.
	stats statNames
}

// Lifetime is a valid-lifetime triplet: the default and the bounds a
// client's requested lease time is clamped to.
type Lifetime struct{ Default, Min, Max uint32 }

// Timer is a renew or rebind timer that may be left unset.
type Timer struct {
	Set  bool
	Secs uint32
}

// Pool is an address range inside a subnet.
type Pool struct {
	First, Last netip.Addr
	ID          uint32
	Options     []Option
	// ClientClasses restricts the pool to clients in one of these classes
	// (Kea's client-class / client-classes); empty allows everyone.
	ClientClasses []string

	alloc *alloc.Pool
	stats statNames // "subnet[1].pool[0].x"
}

// allows reports whether a client with the given classes may use the pool.
func (p *Pool) allows(classes classSet) bool {
	return allowed(p.ClientClasses, classes)
}

// classSet is the classes a client belongs to: a handful at most, so a
// slice searched in order beats a map built for every query.
type classSet []string

func allowed(need []string, classes classSet) bool {
	if len(need) == 0 {
		return true
	}
	for _, c := range need {
		if slices.Contains(classes, c) {
			return true
		}
	}
	return false
}

// Contains reports whether addr lies in the pool.
func (p *Pool) Contains(addr netip.Addr) bool {
	return !addr.Less(p.First) && !p.Last.Less(addr)
}

// Option is one option-data entry, its data already encoded for the wire.
type Option struct {
	Code       uint8
	Data       []byte
	AlwaysSend bool
	NeverSend  bool
	// ClientClasses limits the option to clients in one of these classes
	// (Kea 3.x); empty means every client.
	ClientClasses []string
}

// Identifier is a host-reservation identifier type.
type Identifier uint8

// The identifier types Kea matches reservations by.
const (
	HWAddress Identifier = iota + 1
	DUID
	CircuitID
	ClientID
	FlexID
)

// DefaultHostIdentifiers is Kea's default host-reservation-identifiers.
var DefaultHostIdentifiers = []Identifier{HWAddress, DUID, CircuitID, ClientID}

// ParseIdentifier maps a host-reservation-identifiers name to its type.
func ParseIdentifier(name string) (Identifier, error) {
	switch name {
	case "hw-address":
		return HWAddress, nil
	case "duid":
		return DUID, nil
	case "circuit-id":
		return CircuitID, nil
	case "client-id":
		return ClientID, nil
	case "flex-id":
		return FlexID, nil
	}
	return 0, fmt.Errorf("dhcp4: unknown host identifier %q: use hw-address, duid, circuit-id, client-id or flex-id", name)
}

// Reservation is one host reservation. Exactly one identifier is set.
type Reservation struct {
	HWAddr    net.HardwareAddr
	DUID      []byte
	CircuitID []byte
	ClientID  []byte
	FlexID    []byte

	// Addr is the reserved address; the zero Addr reserves options only.
	Addr           netip.Addr
	Hostname       string
	Options        []Option
	NextServer     netip.Addr
	ServerHostname string
	BootFileName   string
	// ClientClasses are classes the reservation puts its client in.
	ClientClasses []string
}

// key returns the reservation's identifier as an index key.
func (r *Reservation) key() (string, error) {
	var ids []string
	for _, id := range []struct {
		t Identifier
		v []byte
	}{{HWAddress, r.HWAddr}, {DUID, r.DUID}, {CircuitID, r.CircuitID}, {ClientID, r.ClientID}, {FlexID, r.FlexID}} {
		if len(id.v) > 0 {
			ids = append(ids, idKey(id.t, id.v))
		}
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("reservation for %s has %d identifiers, want exactly one", r.Addr, len(ids))
	}
	return ids[0], nil
}

func idKey(t Identifier, v []byte) string {
	return string(rune(t)) + string(v)
}

// hostIndex finds the reservations of one scope by identifier and by
// address.
type hostIndex struct {
	byID   map[string]*Reservation
	byAddr map[netip.Addr]*Reservation
}

// indexHosts builds a scope's reservation lookups and checks them.
func indexHosts(where string, rs []*Reservation) (hostIndex, error) {
	h := hostIndex{
		byID:   make(map[string]*Reservation, len(rs)),
		byAddr: make(map[netip.Addr]*Reservation, len(rs)),
	}
	for _, r := range rs {
		k, err := r.key()
		if err != nil {
			return hostIndex{}, fmt.Errorf("dhcp4: %s: %w", where, err)
		}
		if _, dup := h.byID[k]; dup {
			return hostIndex{}, fmt.Errorf("dhcp4: %s: two reservations share one identifier (reserving %s)", where, r.Addr)
		}
		h.byID[k] = r
		if r.Addr.IsValid() && !r.Addr.IsUnspecified() {
			if _, dup := h.byAddr[r.Addr]; dup {
				return hostIndex{}, fmt.Errorf("dhcp4: %s: address %s is reserved twice; ip-reservations-unique requires one host per address", where, r.Addr)
			}
			h.byAddr[r.Addr] = r
		}
	}
	return h, nil
}

// siblings returns the subnets a client of s may be served from: s, then
// the rest of its shared network in configuration order.
func (s *Subnet) siblings() []*Subnet {
	if s.Network == nil {
		return []*Subnet{s}
	}
	out := make([]*Subnet, 0, len(s.Network.Subnets))
	out = append(out, s)
	for _, o := range s.Network.Subnets {
		if o != s {
			out = append(out, o)
		}
	}
	return out
}

// pool returns the pool holding addr, or nil.
func (s *Subnet) pool(addr netip.Addr) *Pool {
	for _, p := range s.Pools {
		if p.Contains(addr) {
			return p
		}
	}
	return nil
}

// hasRelay reports whether giaddr is one of the subnet's relay addresses,
// or its network's when the subnet has none of its own.
func (s *Subnet) hasRelay(giaddr netip.Addr) bool {
	if len(s.Relay) > 0 {
		return slices.Contains(s.Relay, giaddr)
	}
	return s.Network != nil && slices.Contains(s.Network.Relay, giaddr)
}
