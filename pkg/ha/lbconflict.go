package ha

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/leasecmds"
	"github.com/twinleaf/twinleaf/pkg/memfile"
)

// Load-balancing conflicts (README, "Load-balancing conflicts"). In
// load-balancing both servers allocate, so two of them can give one
// address to two clients, each its own, at the same moment; each then
// receives the other's update. Applying it, as Kea's memfile does, swaps
// the two servers' views and leaves both clients on the address. Between
// two twinleaf servers that offer LBConflictProtocol, both apply one rule
// instead: the lease granted first keeps the address (in the same second,
// the one whose client is in the primary's scope). The server whose
// client lost refuses nothing and holds back that client's reply, so the
// client asks again and is refused the address.

// errConflictLost is a lease update refused because the partner gave the
// address to a client of its own first: the client's reply is held back,
// and the partner stays available.
var errConflictLost = errors.New("ha: the partner gave the address to a client of its own first")

// KeepLocal is leasecmds.Deps.Keep: whether an update from the partner
// (sent) must not replace local, the active lease of another client at
// the same address. Only a load-balancing pair that both apply
// LBConflictProtocol keeps anything, and only when local's client is in
// this server's scope and sent's in the partner's: both servers gave
// the address. The earlier grant wins, and in the same second the
// primary's client. Everything else gives way to the sender, which serves
// the client (README, "Conflicting lease updates").
func (m *Machine) KeepLocal(local, sent *lease.Lease) bool {
	if m.ha.Mode != "load-balancing" || m.partner == nil {
		return false
	}
	m.cmu.Lock()
	agreed := m.verKnown && m.partnerLB >= LBConflictProtocol
	m.cmu.Unlock()
	if !agreed {
		return false
	}
	mine, ok1 := m.scopeFor(local.ClientID, local.HWAddr)
	theirs, ok2 := m.scopeFor(sent.ClientID, sent.HWAddr)
	if !ok1 || !ok2 || m.peers[mine].Name != m.self.Name || m.peers[theirs].Name != m.partner.Name {
		return false
	}
	keep := local.CLTT.Before(sent.CLTT) || (local.CLTT.Equal(sent.CLTT) && m.self.Role == "primary")
	if keep {
		m.cmu.Lock()
		m.comm.conflictsKept++
		m.cmu.Unlock()
		m.log.Warn(fmt.Sprintf("HA_LEASE_UPDATE_CONFLICT_KEPT %s: lease update from %s gives %s to hw-address %s, which this server gave hw-address %s first (cltt %d, theirs %d): refused, the partner moves its client",
			m.self.Name, m.partner.Name, local.Addr, memfile.FormatHex(sent.HWAddr), memfile.FormatHex(local.HWAddr), local.CLTT.Unix(), sent.CLTT.Unix()))
	}
	return keep
}

// keptLease reads the lease a conflict answer says the partner kept, if
// it carries one (a twinleaf partner's KeepLocal refusal).
func keptLease(a Answer) (*lease.Lease, bool) {
	if a.Result != 4 || len(a.Arguments) == 0 {
		return nil, false
	}
	var args map[string]json.RawMessage
	if json.Unmarshal(a.Arguments, &args) != nil || args[leasecmds.KeptArg] == nil {
		return nil, false
	}
	l, err := ParseLease(args[leasecmds.KeptArg])
	if err != nil {
		return nil, false
	}
	return l, true
}

// conflictLost handles an update the partner refused with its kept
// lease: counted, logged, and the kept lease handed to Config.Adopt with
// the lease that lost (the one c carries), so this server refuses the
// address to its own client too.
func (m *Machine) conflictLost(c Command, peer string, kept *lease.Lease) error {
	m.cmu.Lock()
	m.comm.conflictsLost++
	m.cmu.Unlock()
	var lost lease.Lease
	if c.lease != nil {
		lost = *c.lease.l
	}
	m.log.Warn(fmt.Sprintf("HA_LEASE_UPDATE_CONFLICT_LOST %s: lease update %s for [hwtype=1 %s], cid=[%s] sent to %s was refused: %s holds %s for hw-address %s since cltt %d; the client's reply is held back and the partner's lease is taken",
		m.self.Name, c.Command, lost.HWAddr, memfile.FormatHex(lost.ClientID), peer, peer, kept.Addr, memfile.FormatHex(kept.HWAddr), kept.CLTT.Unix()))
	if m.cfg.Adopt != nil && c.lease != nil {
		m.cfg.Adopt(kept, c.lease.l)
	}
	return errConflictLost
}

// BacklogConflictLost is LeaseBacklog.Lost: a replayed update the partner
// refused for its own earlier lease. Its client was answered when the
// update was queued; adopting the kept lease refuses it the address at
// its next request.
func (m *Machine) BacklogConflictLost(c Command, kept *lease.Lease) {
	if m.partner == nil {
		return
	}
	_ = m.conflictLost(c, m.partner.Name, kept)
}
