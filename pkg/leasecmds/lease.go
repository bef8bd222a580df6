package leasecmds

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/memfile"
)

// maxState is the highest lease state Kea 3.x accepts: 3 released and
// 4 registered (meant for v6). Kea 2.2 stops at 2 and answers 3 with
// "Invalid state value: 3".
const maxState = 4

// LeaseJSON is the lease as Kea's Lease4::toElement shows it in lease_cmds
// answers and HA lease updates: pool-id only when non-zero, client-id and
// user-context only when set, hw-address "" when empty.
func LeaseJSON(l *lease.Lease) map[string]any {
	m := map[string]any{
		"ip-address": l.Addr.String(),
		"subnet-id":  l.SubnetID,
		"hw-address": memfile.FormatHex(l.HWAddr),
		"cltt":       l.CLTT.Unix(),
		"valid-lft":  l.ValidLft,
		"fqdn-fwd":   l.FqdnFwd,
		"fqdn-rev":   l.FqdnRev,
		"hostname":   l.Hostname,
		"state":      uint32(l.State),
	}
	if l.PoolID != 0 {
		m["pool-id"] = l.PoolID
	}
	if len(l.ClientID) > 0 {
		m["client-id"] = memfile.FormatHex(l.ClientID)
	}
	if l.UserContext != nil {
		m["user-context"] = l.UserContext
	}
	return m
}

// ParseLease is Kea's Lease4::fromElement, the strict form HA's lease sync
// reads pages of leases with: every field LeaseJSON always writes is
// required, client-id, pool-id and user-context are optional. Numbers may
// be json.Number or float64 (integral), so the map can come from either
// kind of decoder.
func ParseLease(m map[string]any) (*lease.Lease, error) {
	l, err := parseLeaseMap(args(m))
	if err != nil {
		return nil, fmt.Errorf("leasecmds: %w", err)
	}
	return l, nil
}

func parseLeaseMap(a args) (*lease.Lease, error) {
	if a == nil {
		return nil, kea("parsed lease data is null")
	}
	l := &lease.Lease{}
	s, ok := a["ip-address"].(string)
	if !ok {
		return nil, kea("ip-address not present in the parsed lease or it is not a string")
	}
	addr, err := parseAddr(s)
	if err != nil {
		return nil, kea("invalid IP address %s in the parsed lease", s)
	}
	if !addr.Is4() {
		return nil, kea("address %s it not an IPv4 address", addr)
	}
	l.Addr = addr

	id, ok := integer(a["subnet-id"])
	switch {
	case !ok:
		return nil, kea("subnet-id not present in the parsed lease or it is not an integer")
	case id <= 0:
		return nil, kea("subnet-id %d is not a positive integer", id)
	case id > math.MaxUint32:
		return nil, kea("subnet-id %d is not a 32 bit unsigned integer", id)
	}
	l.SubnetID = uint32(id)

	if v, present := a["pool-id"]; present {
		id, ok := integer(v)
		switch {
		case !ok:
			return nil, kea("pool-id is not an integer")
		case id <= 0:
			return nil, kea("pool-id %d is not a positive integer", id)
		case id > math.MaxUint32:
			return nil, kea("pool-id %d is not a 32 bit unsigned integer", id)
		}
		l.PoolID = uint32(id)
	}

	v, present := a["hw-address"]
	if !present {
		return nil, kea("hw-address not present in the parsed lease")
	}
	hw, ok := v.(string)
	if !ok {
		return nil, kea("hw-address is not a string in the parsed lease")
	}
	b, err := parseHWAddr(hw)
	if err != nil {
		return nil, kea("invalid hardware address %s in the parsed lease", hw)
	}
	l.HWAddr = hwAddr(b)

	cltt, ok := integer(a["cltt"])
	if !ok {
		return nil, kea("cltt is not present in the parsed lease or it is not an integer")
	}
	if cltt <= 0 {
		return nil, kea("cltt %d is not a positive integer in the parsed lease", cltt)
	}
	l.CLTT = time.Unix(cltt, 0)

	valid, ok := integer(a["valid-lft"])
	switch {
	case !ok:
		return nil, kea("valid-lft is not present in the parsed lease or it is not an integer")
	case valid < 0:
		return nil, kea("valid-lft %d is negative in the parsed lease", valid)
	case valid > math.MaxUint32:
		// Kea truncates silently; a lifetime that does not fit is refused.
		return nil, kea("valid-lft %d is not a 32 bit unsigned integer in the parsed lease", valid)
	}
	l.ValidLft = uint32(valid)

	if l.FqdnFwd, ok = a["fqdn-fwd"].(bool); !ok {
		return nil, kea("fqdn-fwd is not present in the parsed lease or it is not a boolean value")
	}
	if l.FqdnRev, ok = a["fqdn-rev"].(bool); !ok {
		return nil, kea("fqdn-rev is not present in the parsed lease or it is not a boolean value")
	}
	host, ok := a["hostname"].(string)
	if !ok {
		return nil, kea("hostname is not present in the parsed lease or it is not a string value")
	}
	l.Hostname = strings.ToLower(host)

	st, ok := integer(a["state"])
	if !ok {
		return nil, kea("state is not present in the parsed lease or it is not an integer")
	}
	if st < 0 || st > maxState {
		return nil, kea("state %d must be in range [0..%d]", st, maxState)
	}
	l.State = lease.State(st)

	if v, present := a["user-context"]; present {
		ctx, ok := v.(map[string]any)
		if !ok {
			return nil, kea("user context is not a map")
		}
		l.UserContext = ctx
	}

	if v, present := a["client-id"]; present {
		s, ok := v.(string)
		if !ok {
			return nil, kea("client identifier is not a string in the parsed lease")
		}
		cid, err := parseClientID(s)
		if err != nil {
			return nil, kea("invalid client identifier %s in the parsed lease", s)
		}
		l.ClientID = cid
	}
	return l, nil
}

func hwAddr(b []byte) net.HardwareAddr {
	if len(b) == 0 {
		return nil
	}
	return net.HardwareAddr(b)
}

// keaError is an error whose text is Kea's answer text word for word,
// capitalized and punctuated as Kea writes it (so not in Go's style).
// conflict marks the errors Kea 3.x answers with result 4
// (LeaseCmdsConflict) and Kea 2.2 with result 1.
type keaError struct {
	msg      string
	conflict bool
}

func (e keaError) Error() string { return e.msg }

// kea builds an answer text error.
func kea(format string, a ...any) error {
	return keaError{msg: fmt.Sprintf(format, a...)}
}

func conflictf(format string, a ...any) error {
	return keaError{msg: fmt.Sprintf(format, a...), conflict: true}
}

// addArgs is a parsed lease4-add or lease4-update request.
type addArgs struct {
	lease       *lease.Lease
	forceCreate bool
	// fromPartner: the update says it comes from an HA partner
	// ("origin": "ha-partner", as Kea 3.x and twinleaf send them).
	fromPartner bool
}

// parseAddArgs is Kea's Lease4Parser, the lenient form lease4-add and
// lease4-update take: only ip-address and hw-address are required; the
// subnet comes from the address when not given, valid-lft from the subnet,
// cltt from expire or now. An update replaces the whole lease, so a field
// left out takes its default.
func parseAddArgs(a args, subnets []SubnetInfo, now time.Time) (addArgs, error) {
	s, err := a.getString("ip-address")
	if err != nil {
		return addArgs{}, err
	}
	addr, err := parseAddr(s)
	if err != nil {
		return addArgs{}, kea("Failed to convert '%s' to address: %v", s, err)
	}
	if !addr.Is4() {
		return addArgs{}, kea("Non-IPv4 address specified: %s", addr)
	}
	hwText, err := a.getString("hw-address")
	if err != nil {
		return addArgs{}, err
	}
	hw, err := parseHWAddr(hwText)
	if err != nil {
		return addArgs{}, err
	}
	var subnetID, poolID int64
	if a.has("subnet-id") {
		if subnetID, err = a.getUint("subnet-id", math.MaxUint32); err != nil {
			return addArgs{}, err
		}
	}
	if a.has("pool-id") {
		// Kea 2.2 ignores pool-id; 3.x stores it.
		if poolID, err = a.getUint("pool-id", math.MaxUint32); err != nil {
			return addArgs{}, err
		}
	}
	sn, err := leaseSubnet(addr, uint32(subnetID), subnets)
	if err != nil {
		return addArgs{}, err
	}
	l := &lease.Lease{Addr: addr, HWAddr: hwAddr(hw), SubnetID: sn.ID, PoolID: uint32(poolID)}

	if a.has("client-id") {
		s, err := a.getString("client-id")
		if err != nil {
			return addArgs{}, err
		}
		if l.ClientID, err = parseClientID(s); err != nil {
			return addArgs{}, err
		}
	}
	l.ValidLft = sn.ValidLifetime
	if a.has("valid-lft") {
		v, err := a.getUint("valid-lft", math.MaxUint32)
		if err != nil {
			return addArgs{}, err
		}
		l.ValidLft = uint32(v)
	}
	l.CLTT = time.Unix(now.Unix(), 0)
	if a.has("expire") {
		exp, err := a.getInteger("expire")
		if err != nil {
			return addArgs{}, err
		}
		switch {
		case exp <= 0:
			return addArgs{}, kea("expiration time must be positive for address %s", addr)
		case exp < int64(l.ValidLft):
			return addArgs{}, kea("expiration time must be greater than valid lifetime for address %s", addr)
		}
		l.CLTT = time.Unix(exp-int64(l.ValidLft), 0)
	}
	if err := parseNames(a, l); err != nil {
		return addArgs{}, err
	}
	if a.has("state") {
		st, err := a.getUint("state", math.MaxUint8)
		if err != nil {
			return addArgs{}, err
		}
		if st > maxState {
			return addArgs{}, kea("Invalid state value: %d, supported values are: 0 (default), 1 (declined), 2 (expired-reclaimed), 3 (released) and 4 (registered)", st)
		}
		l.State = lease.State(st)
	}
	if l.UserContext, err = parseContext(a); err != nil {
		return addArgs{}, err
	}
	out := addArgs{lease: l}
	if a.has("force-create") {
		if out.forceCreate, err = a.getBool("force-create"); err != nil {
			return addArgs{}, err
		}
	}
	if a.has("origin") {
		origin, err := a.getString("origin")
		if err != nil {
			return addArgs{}, err
		}
		out.fromPartner = origin == "ha-partner"
	}
	return out, nil
}

// leaseSubnet finds the lease's subnet as Lease4Parser does: the given id
// must name a configured subnet holding addr; without one (or with 0) the
// first subnet whose prefix holds addr is taken.
func leaseSubnet(addr netip.Addr, id uint32, subnets []SubnetInfo) (SubnetInfo, error) {
	if id != 0 {
		for _, s := range subnets {
			if s.ID != id {
				continue
			}
			if !s.Prefix.Contains(addr) {
				return SubnetInfo{}, conflictf("The address %s does not belong to subnet %s, subnet-id=%d", addr, s.Prefix, id)
			}
			return s, nil
		}
		return SubnetInfo{}, conflictf("Invalid subnet-id: No IPv4 subnet with subnet-id=%d currently configured.", id)
	}
	for _, s := range subnets {
		if s.Prefix.Contains(addr) {
			return s, nil
		}
	}
	return SubnetInfo{}, conflictf("subnet-id not specified and failed to find a subnet for address %s", addr)
}

// parseNames reads fqdn-fwd, fqdn-rev and hostname; a DNS update flag
// without a name is refused. The name is kept lower-case, as Kea's Lease
// constructor does.
func parseNames(a args, l *lease.Lease) error {
	var err error
	if a.has("fqdn-fwd") {
		if l.FqdnFwd, err = a.getBool("fqdn-fwd"); err != nil {
			return err
		}
	}
	if a.has("fqdn-rev") {
		if l.FqdnRev, err = a.getBool("fqdn-rev"); err != nil {
			return err
		}
	}
	if a.has("hostname") {
		h, err := a.getString("hostname")
		if err != nil {
			return err
		}
		l.Hostname = strings.ToLower(h)
	}
	if l.Hostname == "" && (l.FqdnFwd || l.FqdnRev) {
		return kea("No hostname specified and either forward or reverse fqdn was set to true.")
	}
	return nil
}

// parseContext reads user-context and folds a top-level comment into it.
func parseContext(a args) (map[string]any, error) {
	var ctx map[string]any
	if v, ok := a["user-context"]; ok {
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, kea("Invalid user context '%s' is not a JSON map.", memfile.KeaJSON(v))
		}
		ctx = m
	}
	comment, ok := a["comment"]
	if !ok {
		return ctx, nil
	}
	if _, dup := ctx["comment"]; dup {
		return nil, kea("Duplicated comment entry '%s' in user context '%s'", memfile.KeaJSON(comment), memfile.KeaJSON(ctx))
	}
	merged := make(map[string]any, len(ctx)+1)
	for k, v := range ctx {
		merged[k] = v
	}
	merged["comment"] = comment
	return merged, nil
}

// stateNames are Kea's Lease::basicStatesToText.
var stateNames = []string{"default", "declined", "expired-reclaimed", "released", "registered"}

// storable refuses what Kea's memfile refuses to write: a lease that is
// not declined yet has neither a hardware address nor a client-id (its
// loader would drop the row). Kea checks it when writing the row, after
// the command's own checks, so it comes last here too; Kea with
// persist false has no such check.
func storable(l *lease.Lease) error {
	if len(l.HWAddr) > 0 || len(l.ClientID) > 0 || l.State == lease.StateDeclined {
		return nil
	}
	name := fmt.Sprintf("unknown (%d)", l.State)
	if int(l.State) < len(stateNames) {
		name = stateNames[l.State]
	}
	return kea("Lease4: %s, state: %s has neither hardware address or client id", l.Addr, name)
}
