package leasecmds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// failed answers an argument error: result 4 for Kea 3.x's conflicts,
// result 1 otherwise.
func failed(err error) ctrl.Answer {
	var k keaError
	if errors.As(err, &k) && k.conflict {
		return ctrl.Conflict(k.msg)
	}
	return ctrl.Error("%s", err.Error())
}

// add is lease4-add: a new lease; an address already leased is a
// conflict. force-create is read and ignored, as in Kea.
func (h *handler) add(_ context.Context, raw json.RawMessage) ctrl.Answer {
	a, present, err := decodeArgs(raw)
	if !present {
		return ctrl.Error("no parameters specified for the command")
	}
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	p, err := parseAddArgs(a, h.Subnets(), h.Now())
	if err != nil {
		return failed(err)
	}
	l := p.lease
	defer h.lock(l.Addr)()
	if _, ok := h.Store.Get(l.Addr); ok {
		return ctrl.Conflict("IPv4 lease already exists.")
	}
	if err := storable(l); err != nil {
		return failed(err)
	}
	ok, err := h.apply(nil, lease.Change{New: l})
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	if !ok {
		return ctrl.Conflict(fmt.Sprintf("ResourceBusy: IP address:%s could not be added.", l.Addr))
	}
	return ctrl.Success(fmt.Sprintf("Lease for address %s, subnet-id %d added.", l.Addr, l.SubnetID), nil)
}

// update is lease4-update: the whole lease is replaced by the arguments;
// a missing lease is created only with force-create (HA always sets it).
// A local lease that disagrees (another client's, or one changed while
// the command ran) gives way to the sender's, which is reported to
// Deps.Conflict; with force-create the client's other leases in the
// subnet go too (dropStale).
func (h *handler) update(_ context.Context, raw json.RawMessage) ctrl.Answer {
	return h.updateIn(nil, raw)
}

// updateIn is lease4-update, its changes written at once (tx nil) or by
// the batch tx.
func (h *handler) updateIn(tx *txn, raw json.RawMessage) ctrl.Answer {
	a, present, err := decodeArgsInto(tx.args(), raw)
	if !present {
		return ctrl.Error("no parameters specified for lease4-update command")
	}
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	p, err := parseAddArgs(a, h.Subnets(), h.Now())
	if err != nil {
		return failed(err)
	}
	ans := h.put(tx, p)
	if ans.Result != ctrl.ResultSuccess || !p.forceCreate {
		return ans
	}
	if err := h.dropStale(tx, p.lease); err != nil {
		return ctrl.Error("%s", err.Error())
	}
	return ans
}

// put is lease4-update's change to the lease's own address, under its
// lock.
func (h *handler) put(tx *txn, p addArgs) ctrl.Answer {
	l := p.lease
	defer h.lock(l.Addr)()
	cur, _ := h.Store.Get(l.Addr)
	if cur == nil && !p.forceCreate {
		// Kea 2.2: result 1, "failed to update the lease with address
		// A - no such lease".
		return ctrl.Conflict(fmt.Sprintf("failed to update the lease with address %s either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed", l.Addr))
	}
	if err := storable(l); err != nil {
		return failed(err)
	}
	if h.keeps(p, cur) {
		return kept(cur)
	}
	held := heldByOther(cur, l.HWAddr, l.ClientID, h.Now())
	ok, err := h.apply(tx, lease.Change{Old: cur, New: l})
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	if !ok {
		// A DHCP worker changed the address meanwhile: the sender's
		// lease still wins, once more over what is there now, unless
		// that is a lease this server keeps (Deps.Keep).
		cur, _ = h.Store.Get(l.Addr)
		if cur == nil && !p.forceCreate {
			return ctrl.Conflict(fmt.Sprintf("ResourceBusy: IP address:%s could not be updated.", l.Addr))
		}
		if h.keeps(p, cur) {
			return kept(cur)
		}
		if ok, err = h.apply(tx, lease.Change{Old: cur, New: l}); err != nil {
			return ctrl.Error("%s", err.Error())
		}
		if !ok {
			return ctrl.Conflict(fmt.Sprintf("ResourceBusy: IP address:%s could not be updated.", l.Addr))
		}
		h.resolved(Conflict{Command: "lease4-update", Addr: l.Addr, Reason: reasonChanged, Local: cur})
	} else if held {
		h.resolved(Conflict{Command: "lease4-update", Addr: l.Addr, Local: cur,
			Reason: fmt.Sprintf("%s (%s)", reasonHeld, client(cur))})
	}
	if cur == nil {
		return ctrl.Success("IPv4 lease added.", nil)
	}
	return ctrl.Success("IPv4 lease updated.", nil)
}

// find returns the lease a lease4-get or lease4-del query names, or nil.
// Identifier queries return the lowest address the client holds in the
// subnet, as one lease is all Kea's lookup returns.
func (h *handler) find(q query) *lease.Lease {
	var ls []*lease.Lease
	switch q.kind {
	case byAddr:
		l, _ := h.Store.Get(q.addr)
		return l
	case byHWAddr:
		ls = h.Store.ByHWAddr(q.subnetID, q.ident)
	case byClientID:
		ls = h.Store.ByClientID(q.subnetID, q.ident)
	}
	var first *lease.Lease
	for _, l := range ls {
		if first == nil || l.Addr.Less(first.Addr) {
			first = l
		}
	}
	return first
}

// get is lease4-get, by address or by identifier and subnet.
func (h *handler) get(_ context.Context, raw json.RawMessage) ctrl.Answer {
	a, present, err := decodeArgs(raw)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	q, err := parseQuery(a, present)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	if q.kind == byDUID {
		return ctrl.Error("Query by duid is not allowed in v4.")
	}
	l := h.find(q)
	if l == nil {
		return ctrl.Empty("Lease not found.", nil)
	}
	return ctrl.Success("IPv4 lease found.", LeaseJSON(l))
}

// del is lease4-del. update-ddns is checked and has nothing to do, as
// twinleaf sends no DNS updates.
func (h *handler) del(_ context.Context, raw json.RawMessage) ctrl.Answer {
	return h.delIn(nil, raw)
}

// delIn is lease4-del, its change written at once (tx nil) or by the
// batch tx.
func (h *handler) delIn(tx *txn, raw json.RawMessage) ctrl.Answer {
	a, present, err := decodeArgsInto(tx.args(), raw)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	q, err := parseQuery(a, present)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	if q.kind == byDUID {
		return ctrl.Error("Delete by duid is not allowed in v4.")
	}
	l := h.find(q)
	if l == nil {
		return ctrl.Empty("IPv4 lease not found.", nil)
	}
	defer h.lock(l.Addr)()
	// Another command may have changed the address before the lock was
	// ours; delete what is there now.
	if l, _ = h.Store.Get(l.Addr); l == nil {
		return ctrl.Empty("IPv4 lease not found.", nil)
	}
	ok, err := h.apply(tx, lease.Change{Old: l})
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	reason := ""
	if !ok {
		// Changed meanwhile: the sender's deletion still wins, once.
		if l, _ = h.Store.Get(l.Addr); l == nil {
			return ctrl.Empty("IPv4 lease not found.", nil)
		}
		if ok, err = h.apply(tx, lease.Change{Old: l}); err != nil {
			return ctrl.Error("%s", err.Error())
		}
		if !ok {
			return ctrl.Empty("IPv4 lease not found.", nil)
		}
		reason = reasonChanged
	} else if hw, cid, named := delClient(a); named && heldByOther(l, hw, cid, h.Now()) {
		reason = fmt.Sprintf("%s (%s)", reasonHeld, client(l))
	}
	if reason != "" {
		h.resolved(Conflict{Command: "lease4-del", Addr: l.Addr, Reason: reason, Local: l})
	}
	return ctrl.Success("IPv4 lease deleted.", nil)
}

// delClient is the client a lease4-del by address names, as HA's
// deletions carry the whole lease; an operator's usually names none.
func delClient(a args) (hw, clientID []byte, named bool) {
	s, ok := a["hw-address"].(string)
	if !ok {
		return nil, nil, false
	}
	hw, err := parseHWAddr(s)
	if err != nil {
		return nil, nil, false
	}
	if s, ok := a["client-id"].(string); ok {
		clientID, _ = parseClientID(s)
	}
	return hw, clientID, true
}

// list answers with leases the way every lease4-get-* listing does:
// result 3 with the same arguments when there are none.
func list(ls []*lease.Lease, withCount bool) ctrl.Answer {
	out := make([]any, len(ls))
	for i, l := range ls {
		out[i] = LeaseJSON(l)
	}
	args := map[string]any{"leases": out}
	if withCount {
		args["count"] = len(ls)
	}
	text := fmt.Sprintf("%d IPv4 lease(s) found.", len(ls))
	if len(ls) == 0 {
		return ctrl.Empty(text, args)
	}
	return ctrl.Success(text, args)
}

// getAll is lease4-get-all, of every subnet or of the listed ones (in the
// order listed).
func (h *handler) getAll(_ context.Context, raw json.RawMessage) ctrl.Answer {
	a, present, err := decodeArgs(raw)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	all := h.Store.All()
	if !present {
		return list(all, false)
	}
	v, ok := a["subnets"]
	if !ok {
		return ctrl.Error("'subnets' parameter not specified")
	}
	ids, ok := v.([]any)
	if !ok {
		return ctrl.Error("'subnets' parameter must be a list")
	}
	var out []*lease.Lease
	for _, idv := range ids {
		id, ok := integer(idv)
		if !ok {
			return ctrl.Error("listed subnet identifiers must be numbers")
		}
		for _, l := range all {
			if int64(l.SubnetID) == id {
				out = append(out, l)
			}
		}
	}
	return list(out, false)
}

// getPage is lease4-get-page: up to limit leases after from, ascending.
func (h *handler) getPage(_ context.Context, raw json.RawMessage) ctrl.Answer {
	a, present, err := decodeArgs(raw)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	p, err := parsePage(a, present)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	return list(h.Store.Page(p.from, p.limit), true)
}

// stringArg reads the one mandatory string argument of the lookups by
// hardware address, client-id and hostname.
func stringArg(raw json.RawMessage, name string) (string, error) {
	a, present, err := decodeArgs(raw)
	if !present || err != nil {
		return "", kea("Command arguments missing or a not a map.")
	}
	v, ok := a[name]
	if !ok {
		return "", kea("'%s' parameter not specified", name)
	}
	s, ok := v.(string)
	if !ok {
		return "", kea("'%s' parameter must be a string", name)
	}
	return s, nil
}

// getByHWAddr is lease4-get-by-hw-address, in every subnet.
func (h *handler) getByHWAddr(_ context.Context, raw json.RawMessage) ctrl.Answer {
	return getByID(raw, "hw-address", parseHWAddr, func(hw []byte) []*lease.Lease { return h.Store.ByHWAddrAny(hw) })
}

// getByClientID is lease4-get-by-client-id, in every subnet.
func (h *handler) getByClientID(_ context.Context, raw json.RawMessage) ctrl.Answer {
	return getByID(raw, "client-id", parseClientID, h.Store.ByClientIDAny)
}

// getByID lists the leases whose identifier, the string argument name
// parsed by parse, is found by lookup.
func getByID(raw json.RawMessage, name string, parse func(string) ([]byte, error), lookup func([]byte) []*lease.Lease) ctrl.Answer {
	s, err := stringArg(raw, name)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	id, err := parse(s)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	return list(lookup(id), false)
}

// getByHostname is lease4-get-by-hostname. Kea compares lower-cased
// names, and stores them lower-cased.
func (h *handler) getByHostname(_ context.Context, raw json.RawMessage) ctrl.Answer {
	s, err := stringArg(raw, "hostname")
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	if s == "" {
		return ctrl.Error("'hostname' parameter is empty")
	}
	return list(h.Store.ByHostname(strings.ToLower(s)), false)
}

// wipe is lease4-wipe: every lease of one subnet, or (without a subnet-id,
// or with 0) of every configured subnet. Kea's wording lists the subnets
// wiped; result 3 when nothing was.
func (h *handler) wipe(_ context.Context, raw json.RawMessage) ctrl.Answer {
	a, present, err := decodeArgs(raw)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	var id int64
	if present && a.has("subnet-id") {
		if id, err = a.getUint("subnet-id", math.MaxUint32); err != nil {
			return ctrl.Error("%s", err.Error())
		}
	}
	var ids []uint32
	if id != 0 {
		ids = []uint32{uint32(id)}
	} else {
		for _, s := range h.Subnets() {
			ids = append(ids, s.ID)
		}
	}
	in := make(map[uint32]bool, len(ids))
	var names strings.Builder
	for _, id := range ids {
		in[id] = true
		fmt.Fprintf(&names, " %d", id)
	}
	n := 0
	for _, l := range h.Store.All() {
		if !in[l.SubnetID] {
			continue
		}
		ok, err := h.deleteLocked(nil, l)
		if err != nil {
			return ctrl.Error("%s", err.Error())
		}
		if ok {
			n++
		}
	}
	text := fmt.Sprintf("Deleted %d IPv4 lease(s) from subnet(s)%s", n, names.String())
	if n == 0 {
		return ctrl.Empty(text, nil)
	}
	return ctrl.Success(text, nil)
}

func (h *handler) deleteLocked(tx *txn, l *lease.Lease) (bool, error) {
	defer h.lock(l.Addr)()
	return h.apply(tx, lease.Change{Old: l})
}

// resendDDNS is lease4-resend-ddns. twinleaf has no DHCP-DDNS client, so
// after checking the address it answers as Kea does with DDNS updates
// disabled: result 4 on 3.x (2.2: result 1), the same text.
func (h *handler) resendDDNS(_ context.Context, raw json.RawMessage) ctrl.Answer {
	a, _, err := decodeArgs(raw)
	if err != nil {
		return ctrl.Error("%s", err.Error())
	}
	v, ok := a["ip-address"]
	if !ok {
		return ctrl.Error("'ip-address' parameter is missing.")
	}
	s, ok := v.(string)
	if !ok {
		return ctrl.Error("'ip-address' is not a string.")
	}
	addr, err := parseAddr(s)
	if err != nil {
		return ctrl.Error("'%s' is not a valid IP address.", s)
	}
	if !addr.Is4() {
		return ctrl.Error("Invalid IPv4 address specified: %s", s)
	}
	return ctrl.Conflict("DDNS updating is not enabled")
}
