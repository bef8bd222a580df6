package leasecmds

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/memfile"
)

// Conflict is a lease4-update or lease4-del that disagreed with the local
// store and was applied in favour of its sender. In an HA pair the sender
// is the server serving the client, so its view of the lease wins (pkg/ha
// README, "Conflicting lease updates").
type Conflict struct {
	Command string     // lease4-update or lease4-del
	Addr    netip.Addr // the address the command was applied to
	// Reason says what disagreed, for the log.
	Reason string
	// Local is the lease the command replaced or removed.
	Local *lease.Lease
}

// Conflict reasons.
const (
	reasonHeld    = "the address is held by another client"
	reasonChanged = "the local lease changed while the command was applied"
	reasonStale   = "the client held another address in the subnet"
)

// heldByOther reports whether cur is an active lease (or a declined
// address) that is not the client's: applying the sender's lease takes it
// away from its holder.
func heldByOther(cur *lease.Lease, hw, clientID []byte, now time.Time) bool {
	if cur == nil || cur.State == lease.StateReleased || cur.State == lease.StateReclaimed || cur.Expired(now) {
		return false
	}
	return !cur.BelongsTo(hw, clientID)
}

// KeptArg is the argument of a refused lease4-update's answer (result 4)
// that carries the lease Deps.Keep kept, in lease4-get's form, so the
// sender can take it.
const KeptArg = "twinleaf-kept-lease"

// keeps reports whether Deps.Keep keeps cur over the update p. Only an HA
// partner's update (origin ha-partner) for an address another client
// holds here is asked about: an operator's lease4-update is applied as
// Kea applies it.
func (h *handler) keeps(p addArgs, cur *lease.Lease) bool {
	return p.fromPartner && h.Keep != nil && heldByOther(cur, p.lease.HWAddr, p.lease.ClientID, h.Now()) && h.Keep(cur, p.lease)
}

// kept is the answer to a lease4-update refused for cur (Deps.Keep).
func kept(cur *lease.Lease) ctrl.Answer {
	return ctrl.Answer{Result: ctrl.ResultConflict,
		Text:      fmt.Sprintf("IPv4 lease %s is held by %s, given first by this server: kept", cur.Addr, client(cur)),
		Arguments: map[string]any{KeptArg: LeaseJSON(cur)}}
}

// resolved tells Deps.Conflict about c.
func (h *handler) resolved(c Conflict) {
	if h.Conflict != nil {
		h.Conflict(c)
	}
}

// dropStale removes the client's other active leases in l's subnet. A
// lease4-update with force-create (every HA update, from Kea 2.2, 3.x and
// twinleaf) says the client holds l now; a second lease left here would
// make this server offer the stale address if it took over. Called
// without l's lock held, as the other address may share its stripe.
func (h *handler) dropStale(tx *txn, l *lease.Lease) error {
	if l.State != lease.StateDefault {
		return nil
	}
	var mine []*lease.Lease
	if len(l.ClientID) > 0 {
		mine = append(mine, h.Store.ByClientID(l.SubnetID, l.ClientID)...)
	}
	mine = append(mine, h.Store.ByHWAddr(l.SubnetID, l.HWAddr)...)
	seen := map[netip.Addr]bool{l.Addr: true}
	for _, o := range mine {
		if seen[o.Addr] || o.State != lease.StateDefault || o.Expired(h.Now()) || !o.BelongsTo(l.HWAddr, l.ClientID) {
			continue
		}
		seen[o.Addr] = true
		ok, err := h.deleteLocked(tx, o)
		if err != nil {
			return err
		}
		if ok {
			h.resolved(Conflict{Command: "lease4-update", Addr: l.Addr, Local: o,
				Reason: fmt.Sprintf("%s (%s, removed here)", reasonStale, o.Addr)})
		}
	}
	return nil
}

// client names a lease's client for a conflict's reason.
func client(l *lease.Lease) string {
	if len(l.ClientID) > 0 {
		return fmt.Sprintf("hw-address %s, client-id %s", memfile.FormatHex(l.HWAddr), memfile.FormatHex(l.ClientID))
	}
	return "hw-address " + memfile.FormatHex(l.HWAddr)
}
