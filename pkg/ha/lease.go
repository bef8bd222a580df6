package ha

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/memfile"
)

// LeaseUpdateCommand is lease4-update for a new, renewed, declined or (3.x)
// released lease: the lease's lease_cmds form with expire in place of
// cltt, force-create, and 3.x's origin.
func LeaseUpdateCommand(v Version, l *lease.Lease) Command {
	return Command{Command: "lease4-update", lease: &leaseArgs{l: l, v: v, force: true}}
}

// LeaseDeleteCommand is lease4-del for a released lease (without affinity)
// or the old address of a client that moved. The receiver deletes by
// address alone.
func LeaseDeleteCommand(v Version, l *lease.Lease) Command {
	return Command{Command: "lease4-del", lease: &leaseArgs{l: l, v: v}}
}

// leaseArgs are a lease command's arguments, kept as the lease: they are
// encoded straight from it (appendLeaseArgs), thousands a second on a
// primary, with no map built in between.
type leaseArgs struct {
	l     *lease.Lease
	v     Version
	force bool // lease4-update's force-create
}

// appendLeaseArgs writes the lease_cmds form of the lease (LeaseJSON)
// with expire in place of cltt, pool-id and the origin only in the 3.x
// form, and force-create for an update: the bytes encoding/json makes of
// that map, keys sorted.
func appendLeaseArgs(b []byte, a *leaseArgs) ([]byte, error) {
	l := a.l
	b = append(b, '{')
	if len(l.ClientID) > 0 {
		b = append(b, `"client-id":"`...)
		b = lease.AppendHex(b, l.ClientID)
		b = append(b, `",`...)
	}
	b = append(b, `"expire":`...)
	b = strconv.AppendInt(b, l.Expire().Unix(), 10)
	if a.force {
		b = append(b, `,"force-create":true`...)
	}
	b = append(b, `,"fqdn-fwd":`...)
	b = strconv.AppendBool(b, l.FqdnFwd)
	b = append(b, `,"fqdn-rev":`...)
	b = strconv.AppendBool(b, l.FqdnRev)
	b = append(b, `,"hostname":`...)
	b = appendString(b, l.Hostname)
	// Hex with colons and a dotted address need no escaping.
	b = append(b, `,"hw-address":"`...)
	b = lease.AppendHex(b, l.HWAddr)
	b = append(b, `","ip-address":"`...)
	b = l.Addr.AppendTo(b)
	b = append(b, '"')
	if a.v == Kea3 {
		b = append(b, `,"origin":"ha-partner"`...)
		if l.PoolID != 0 {
			b = append(b, `,"pool-id":`...)
			b = strconv.AppendUint(b, uint64(l.PoolID), 10)
		}
	}
	b = append(b, `,"state":`...)
	b = strconv.AppendUint(b, uint64(l.State), 10)
	b = append(b, `,"subnet-id":`...)
	b = strconv.AppendUint(b, uint64(l.SubnetID), 10)
	if l.UserContext != nil {
		uc, err := json.Marshal(l.UserContext)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"user-context":`...)
		b = append(b, uc...)
	}
	b = append(b, `,"valid-lft":`...)
	b = strconv.AppendUint(b, uint64(l.ValidLft), 10)
	return append(b, '}'), nil
}

// parseHexColon reads Kea's colon hex, where an octet may be one digit.
func parseHexColon(s string) ([]byte, error) {
	b, err := memfile.ParseHex(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not colon-separated hex", s)
	}
	return b, nil
}

// LeasePage is one lease4-get-page answer. Leases that failed Kea's strict
// sync rules are in Skipped with the reason; Kea logs and skips them too
// (a 3.x released lease arriving at a 2.2 server is the usual case).
type LeasePage struct {
	Leases  []*lease.Lease
	Skipped []error
	// Count is the number of entries the page held, skipped ones too, and
	// Last the highest address among them: the next page starts after it.
	Count int
	Last  netip.Addr
}

// ParseLeasePage reads a lease4-get-page answer: rc 3 is an empty page; a
// missing leases list is an error.
func ParseLeasePage(body []byte) (LeasePage, error) {
	a, err := ParseAnswer(body)
	if err != nil {
		return LeasePage{}, err
	}
	if !a.Done() {
		return LeasePage{}, a.Err()
	}
	var args struct {
		Leases []json.RawMessage `json:"leases"`
	}
	if len(a.Arguments) == 0 || a.Arguments[0] != '{' {
		if a.Result == 3 {
			return LeasePage{}, nil
		}
		return LeasePage{}, fmt.Errorf("%w: lease4-get-page answer has no arguments map", errAnswer)
	}
	if err := json.Unmarshal(a.Arguments, &args); err != nil || args.Leases == nil {
		return LeasePage{}, fmt.Errorf("%w: lease4-get-page answer has no leases list", errAnswer)
	}
	p := LeasePage{Count: len(args.Leases)}
	for i, raw := range args.Leases {
		var addr struct {
			IP string `json:"ip-address"`
		}
		if json.Unmarshal(raw, &addr) == nil {
			if a, err := netip.ParseAddr(addr.IP); err == nil && a.Is4() && (!p.Last.IsValid() || p.Last.Less(a)) {
				p.Last = a
			}
		}
		l, err := ParseLease(raw)
		if err != nil {
			p.Skipped = append(p.Skipped, fmt.Errorf("lease %d of the page: %w", i, err))
			continue
		}
		p.Leases = append(p.Leases, l)
	}
	return p, nil
}

// ParseLease reads one lease the way Kea's sync does (Lease4::fromElement):
// ip-address, subnet-id, hw-address, cltt, valid-lft, fqdn-fwd, fqdn-rev,
// hostname and state are required; client-id, pool-id and user-context
// are optional. State 4 (a v6 state) is refused.
func ParseLease(raw []byte) (*lease.Lease, error) {
	var m map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("ha: lease is not a JSON map")
	}
	for _, k := range []string{"ip-address", "subnet-id", "hw-address", "cltt", "valid-lft",
		"fqdn-fwd", "fqdn-rev", "hostname", "state"} {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("ha: lease has no %q", k)
		}
	}
	var l lease.Lease
	var ip, hw string
	var cltt int64
	var state uint32
	steps := []struct {
		key string
		dst any
	}{{"ip-address", &ip}, {"hw-address", &hw}, {"subnet-id", &l.SubnetID}, {"cltt", &cltt},
		{"valid-lft", &l.ValidLft}, {"fqdn-fwd", &l.FqdnFwd}, {"fqdn-rev", &l.FqdnRev},
		{"hostname", &l.Hostname}, {"state", &state}}
	for _, s := range steps {
		if err := json.Unmarshal(m[s.key], s.dst); err != nil {
			return nil, fmt.Errorf("ha: lease %q: %s is not valid", s.key, m[s.key])
		}
	}
	var err error
	if l.Addr, err = netip.ParseAddr(ip); err != nil || !l.Addr.Is4() {
		return nil, fmt.Errorf("ha: lease ip-address %q is not an IPv4 address", ip)
	}
	if l.HWAddr, err = parseHexColon(hw); err != nil {
		return nil, fmt.Errorf("ha: lease %s hw-address: %v", ip, err)
	}
	if len(l.HWAddr) > 20 {
		return nil, fmt.Errorf("ha: lease %s hw-address %q is longer than 20 bytes", ip, hw)
	}
	if cltt < 0 || cltt > math.MaxInt64/2 {
		return nil, fmt.Errorf("ha: lease %s cltt %d is out of range", ip, cltt)
	}
	l.CLTT = time.Unix(cltt, 0)
	if state > uint32(lease.StateReleased) {
		return nil, fmt.Errorf("ha: lease %s state %d is not a DHCPv4 lease state (0..3)", ip, state)
	}
	l.State = lease.State(state)
	if raw, ok := m["client-id"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("ha: lease %s client-id is not a string", ip)
		}
		if l.ClientID, err = parseHexColon(s); err != nil {
			return nil, fmt.Errorf("ha: lease %s client-id: %v", ip, err)
		}
	}
	if raw, ok := m["pool-id"]; ok {
		if err := json.Unmarshal(raw, &l.PoolID); err != nil {
			return nil, fmt.Errorf("ha: lease %s pool-id %s is not valid", ip, raw)
		}
	}
	if raw, ok := m["user-context"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &l.UserContext); err != nil {
			return nil, fmt.Errorf("ha: lease %s user-context is not a map", ip)
		}
	}
	return &l, nil
}
