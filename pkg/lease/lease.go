// Package lease holds the DHCPv4 lease record as Kea keeps it and the
// in-memory store the engine, the API and HA share.
package lease

import (
	"net"
	"net/netip"
	"time"
)

// State is a lease's state as Kea numbers it in memfile and in lease_cmds.
type State uint32

// Kea's lease states. Released (3) exists only from Kea 3.0 on; Kea 2.2
// never writes it, though its memfile reader accepts any number (checked
// with Kea 2.2's kea-lfc).
const (
	StateDefault   State = 0
	StateDeclined  State = 1
	StateReclaimed State = 2
	StateReleased  State = 3
)

// Lease is one DHCPv4 lease, field for field what Kea stores: the memfile
// columns and the lease_cmds JSON map are both views of this record. Its
// fields are ordered by size so that it fits the 144-byte allocation
// class, not the 160-byte one: a server holds one per client
// (TestLeaseSize).
type Lease struct {
	Addr     netip.Addr
	HWAddr   net.HardwareAddr // without the htype byte; empty for declined leases
	ClientID []byte           // option 61 data including its type byte; nil when absent
	// CLTT is the client's last transaction time; expiry is CLTT + ValidLft.
	CLTT        time.Time
	Hostname    string
	UserContext map[string]any // nil when the lease has none
	// ValidLft is the valid lifetime in seconds; 0 in a memfile row marks a deletion.
	ValidLft uint32
	SubnetID uint32
	PoolID   uint32
	State    State
	FqdnFwd  bool
	FqdnRev  bool
}

// Expire is when the lease expires: CLTT plus the valid lifetime, as Kea's
// "expire" column and lease_cmds argument carry it.
func (l *Lease) Expire() time.Time {
	return l.CLTT.Add(time.Duration(l.ValidLft) * time.Second)
}

// Expired reports whether the lease's lifetime has run out at now.
func (l *Lease) Expired(now time.Time) bool {
	return !now.Before(l.Expire())
}

// BelongsTo reports whether the lease is the client's by Kea's rule: when
// both sides have a client-id they must match, otherwise the hardware
// addresses must.
func (l *Lease) BelongsTo(hw net.HardwareAddr, clientID []byte) bool {
	if len(l.ClientID) > 0 && len(clientID) > 0 {
		return string(l.ClientID) == string(clientID)
	}
	return len(hw) > 0 && string(l.HWAddr) == string(hw)
}

// Clone returns a deep copy, so a caller can change it without touching a
// stored lease.
func (l *Lease) Clone() *Lease {
	c := *l
	c.HWAddr = append(net.HardwareAddr(nil), l.HWAddr...)
	if l.ClientID != nil {
		c.ClientID = append([]byte(nil), l.ClientID...)
	}
	if l.UserContext != nil {
		c.UserContext = cloneMap(l.UserContext)
	}
	return &c
}

func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = cloneValue(v)
	}
	return c
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return cloneMap(t)
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = cloneValue(e)
		}
		return c
	default:
		return v
	}
}

// Change is one lease mutation as the engine, the API and HA produce it and
// the journal and HA partner consume it: Old is the lease before the change
// (nil for a new lease), New the lease after it (nil for a deletion).
type Change struct {
	Old, New *Lease
}

// AppendHex appends Kea's text form of a hardware address or client
// identifier to b: lower-case hex bytes separated by colons, as in the
// lease file's columns and Kea's log lines.
func AppendHex(b, v []byte) []byte {
	const digits = "0123456789abcdef"
	for i, c := range v {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return b
}
