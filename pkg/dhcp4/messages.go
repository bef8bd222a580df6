package dhcp4

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// discover answers a DHCPDISCOVER with an OFFER, or nothing when no
// address can be offered.
func (e *Engine) discover(q *query) Result {
	if q.subnet == nil {
		return Result{Reason: "no subnet for the client"}
	}
	l := e.discoverLease(q)
	if l == nil {
		return Result{Reason: "no address to offer"}
	}
	r := e.newReply(q, dhcpv4.MessageTypeOffer)
	e.grant(q, r, l)
	return e.send(q, r)
}

// request answers a DHCPREQUEST in any client state: SELECTING (server-id
// present), INIT-REBOOT (requested address, no server-id), RENEWING and
// REBINDING (ciaddr, neither option).
func (e *Engine) request(q *query) Result {
	_, hasSID := q.p.Options[optServerID]
	reqAddr, hasReq := optAddr(q.p, optRequestedIP)
	hint := netip.Addr{}
	switch {
	case hasReq:
		hint = reqAddr
	case !q.ciaddr.IsUnspecified():
		hint = q.ciaddr
	}
	initReboot := !hasSID && hasReq
	authoritative := e.net.Authoritative
	if q.subnet != nil {
		authoritative = q.subnet.Authoritative
	}
	if q.subnet == nil {
		if !hasSID && !hasReq && !q.ciaddr.IsUnspecified() && q.req.Dst == bcast {
			return Result{Reason: "REBINDING client on an unknown network"}
		}
		if !initReboot || authoritative {
			return e.nak(q, "no subnet for the client")
		}
		return Result{Reason: "INIT-REBOOT client on an unknown network, not authoritative"}
	}
	if initReboot {
		l := e.findClientLease(q)
		known := l != nil && l.BelongsTo(q.hw, q.cidFor(q.subnet))
		if !authoritative && !known {
			return Result{Reason: "INIT-REBOOT from a client with no lease, not authoritative"}
		}
		if (known && l.Addr != hint) || !known {
			return e.nak(q, "INIT-REBOOT for an address that is not the client's")
		}
	}
	orig := q.subnet
	l := e.requestLease(q, hint)
	if l == nil {
		if q.unknownRequested && !anyPool(orig, hint) {
			return Result{Reason: "requested address outside every pool"}
		}
		return e.nak(q, "requested address not available")
	}
	r := e.newReply(q, dhcpv4.MessageTypeAck)
	e.grant(q, r, l)
	return e.send(q, r)
}

func anyPool(s *Subnet, a netip.Addr) bool {
	for _, o := range s.siblings() {
		if o.pool(a) != nil {
			return true
		}
	}
	return false
}

// release handles a DHCPRELEASE: with lease affinity the lease is kept,
// expired, in state released; without, it is deleted. No reply is sent.
func (e *Engine) release(q *query) Result {
	old, ok := e.store.Get(q.ciaddr)
	if !ok {
		return Result{Reason: "RELEASE for an address with no lease"}
	}
	if !old.BelongsTo(q.hw, q.cid) {
		return Result{Reason: "RELEASE for another client's lease"}
	}
	if old.State != lease.StateDefault {
		return Result{Reason: "RELEASE for a lease not in the default state"}
	}
	if e.net.Affinity && old.ValidLft != infinite {
		nl := old.Clone()
		nl.ValidLft = 0
		nl.State = lease.StateReleased
		if !e.store.CompareAndPut(old, nl) {
			return Result{Reason: "lease changed during RELEASE"}
		}
		q.changes = append(q.changes, lease.Change{Old: old, New: nl})
	} else {
		if !e.store.CompareAndDelete(old) {
			return Result{Reason: "lease changed during RELEASE"}
		}
		q.changes = append(q.changes, lease.Change{Old: old})
	}
	e.poolStat(old.SubnetID, old.Addr, "assigned-addresses", -1)
	e.freed(old)
	return Result{Reason: "RELEASE needs no reply", Changes: q.changes}
}

// decline handles a DHCPDECLINE: the address goes to probation for
// decline-probation-period, owned by nobody. No reply is sent.
func (e *Engine) decline(q *query) Result {
	addr, ok := optAddr(q.p, optRequestedIP)
	if !ok {
		return e.drop("DECLINE without a requested address")
	}
	old, ok := e.store.Get(addr)
	if !ok {
		return Result{Reason: "DECLINE for an address with no lease"}
	}
	if old.Expired(q.now) || old.State != lease.StateDefault || !old.BelongsTo(q.hw, q.cid) {
		return Result{Reason: "DECLINE for a lease that is not the client's active lease"}
	}
	nl := old.Clone()
	nl.HWAddr = net.HardwareAddr{}
	nl.ClientID = nil
	nl.CLTT = q.now.Truncate(1e9)
	nl.ValidLft = uint32(e.net.DeclineProbation.Seconds())
	nl.State = lease.StateDeclined
	nl.Hostname = ""
	nl.FqdnFwd, nl.FqdnRev = false, false
	if !e.store.CompareAndPut(old, nl) {
		return Result{Reason: "lease changed during DECLINE"}
	}
	q.changes = append(q.changes, lease.Change{Old: old, New: nl})
	e.stats.Add("declined-addresses", 1)
	e.poolStat(old.SubnetID, old.Addr, "declined-addresses", 1)
	return Result{Reason: "DECLINE needs no reply", Changes: q.changes}
}

// inform answers a DHCPINFORM with an ACK carrying configuration only.
func (e *Engine) inform(q *query) Result {
	r := e.newReply(q, dhcpv4.MessageTypeAck)
	e.addOptions(q, r, nil)
	e.setFixedFields(q, r)
	res := e.send(q, r)
	if res.Dst.Addr() != q.giaddr {
		// Answered directly, not through the relay.
		r.HopCount = 0
		r.GatewayIPAddr = net.IPv4zero
		delete(r.Options, optAgentInfo)
	}
	return res
}

// nak builds a DHCPNAK.
func (e *Engine) nak(q *query, why string) Result {
	r := e.newReply(q, dhcpv4.MessageTypeNak)
	res := e.send(q, r)
	res.Reason = why
	return res
}

// newReply starts a reply carrying what Kea copies from every query.
func (e *Engine) newReply(q *query, t dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	p := q.p
	r, _ := e.replies.Get().(*dhcpv4.DHCPv4)
	var opts dhcpv4.Options
	var hw net.HardwareAddr
	if r != nil {
		opts, hw = r.Options, r.ClientHWAddr[:0]
		clear(opts)
	} else {
		r = new(dhcpv4.DHCPv4)
		// Sized for a typical reply's options, so adding them does not
		// grow the map step by step.
		opts = make(dhcpv4.Options, 8)
	}
	*r = dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        p.HWType,
		HopCount:      p.HopCount,
		TransactionID: p.TransactionID,
		Flags:         p.Flags,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: q.giaddr.AsSlice(),
		ClientHWAddr:  append(hw, p.ClientHWAddr...),
		Options:       opts,
	}
	r.Options[optMessageType] = []byte{byte(t)}
	if MessageType(p) == dhcpv4.MessageTypeInform {
		r.ClientIPAddr = q.ciaddr.AsSlice()
	}
	// Echoed values are copies: the query's storage is reused once the
	// answer is decided, and the reply outlives it.
	if cid, ok := p.Options[optClientID]; ok && e.net.EchoClientID {
		r.Options[optClientID] = slices.Clone(cid)
	}
	if v, ok := p.Options[optSubnetSelect]; ok {
		r.Options[optSubnetSelect] = slices.Clone(v)
	}
	if v := p.Options[optAgentInfo]; len(v) > 0 {
		r.Options[optAgentInfo] = slices.Clone(v)
	}
	return r
}

// grant fills an OFFER or ACK for lease l.
func (e *Engine) grant(q *query, r *dhcpv4.DHCPv4, l *lease.Lease) {
	r.YourIPAddr = l.Addr.AsSlice()
	if MessageType(q.p) == dhcpv4.MessageTypeRequest {
		r.ClientIPAddr = q.ciaddr.AsSlice()
	}
	if b, ok := q.p.Options[optFQDN]; ok {
		reserved := ""
		if h := e.currentHost(q); h != nil {
			reserved = h.Hostname
		}
		if f, ok := fqdnReply(b, reserved); ok {
			r.Options[optFQDN] = f.marshal()
		}
	} else if l.Hostname != "" {
		r.Options[optHostname] = []byte(l.Hostname)
	}
	r.Options[optLeaseTime] = u32(l.ValidLft)
	r.Options[optSubnetMask] = net.CIDRMask(q.subnet.Prefix.Bits(), 32)
	e.setTimers(q.subnet, r, l.ValidLft)
	e.addOptions(q, r, q.subnet.pool(l.Addr))
	e.setFixedFields(q, r)
}

// setTimers adds T1 and T2 by Kea's rules: configured timers win, else
// they are computed when calculate-tee-times is on; each is sent only when
// it is below the one after it.
func (e *Engine) setTimers(s *Subnet, r *dhcpv4.DHCPv4, valid uint32) {
	var t2 uint32
	switch {
	case s.T2.Set:
		t2 = s.T2.Secs
	case s.CalculateTee:
		t2 = roundPct(s.T2Percent, valid)
	}
	ceiling := valid
	if t2 > 0 && t2 < ceiling {
		r.Options[optRebindingT2] = u32(t2)
		ceiling = t2
	}
	var t1 uint32
	switch {
	case s.T1.Set:
		t1 = s.T1.Secs
	case s.CalculateTee:
		t1 = roundPct(s.T1Percent, valid)
	}
	if t1 > 0 && t1 < ceiling {
		r.Options[optRenewalT1] = u32(t1)
	}
}

func roundPct(pct float64, valid uint32) uint32 {
	return uint32(pct*float64(valid) + 0.5)
}

func u32(v uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, v)
}

// setFixedFields fills siaddr, sname and file from the subnet, then from
// the client's reservation.
func (e *Engine) setFixedFields(q *query, r *dhcpv4.DHCPv4) {
	s := q.subnet
	if s == nil {
		return
	}
	if s.NextServer.IsValid() && !s.NextServer.IsUnspecified() {
		r.ServerIPAddr = s.NextServer.AsSlice()
	}
	if s.ServerHostname != "" {
		r.ServerHostName = s.ServerHostname
	}
	if s.BootFileName != "" {
		r.BootFileName = s.BootFileName
	}
	h := e.currentHost(q)
	if h == nil {
		return
	}
	if h.NextServer.IsValid() && !h.NextServer.IsUnspecified() {
		r.ServerIPAddr = h.NextServer.AsSlice()
	}
	if h.ServerHostname != "" {
		r.ServerHostName = h.ServerHostname
	}
	if h.BootFileName != "" {
		r.BootFileName = h.BootFileName
	}
}

// basicOptions are added whenever configured, requested or not.
var basicOptions = []uint8{optRouters, optDNS, optDomainName, optServerID}

// addOptions adds configured options: those the client asked for in
// option 55 plus always-send ones, minus never-send ones, each taken from
// the most specific scope that has it (reservation, pool, subnet, shared
// network, global). Options already in the reply are left alone.
func (e *Engine) addOptions(q *query, r *dhcpv4.DHCPv4, pool *Pool) {
	s := q.subnet
	if s == nil {
		return
	}
	// At most five scopes: room on the stack for all of them.
	scopes := make([][]Option, 0, 5)
	if h := e.currentHost(q); h != nil {
		scopes = append(scopes, h.Options)
	}
	if pool != nil {
		scopes = append(scopes, pool.Options)
	}
	scopes = append(scopes, s.Options)
	if s.Network != nil {
		scopes = append(scopes, s.Network.Options)
	}
	scopes = append(scopes, e.net.Options)

	var wanted, cancelled [256]bool
	for _, c := range q.p.Options[optPRL] {
		wanted[c] = true
	}
	for _, b := range basicOptions {
		wanted[b] = true
	}
	for _, sc := range scopes {
		for _, o := range sc {
			if !allowed(o.ClientClasses, q.classes) {
				continue
			}
			wanted[o.Code] = wanted[o.Code] || o.AlwaysSend
			cancelled[o.Code] = cancelled[o.Code] || o.NeverSend
		}
	}
	for c := range 256 {
		if !wanted[c] || cancelled[c] {
			continue
		}
		if _, ok := r.Options[uint8(c)]; ok {
			continue
		}
		if o, ok := lookup(scopes, uint8(c), q.classes); ok {
			r.Options[uint8(c)] = o.Data
		}
	}
}

// lookup finds the first option with code, in scope order, that the
// client's classes allow.
func lookup(scopes [][]Option, code uint8, classes classSet) (Option, bool) {
	for _, sc := range scopes {
		for _, o := range sc {
			if o.Code == code && allowed(o.ClientClasses, classes) {
				return o, true
			}
		}
	}
	return Option{}, false
}

// send addresses a reply (Kea's adjustIfaceData and adjustRemoteAddr),
// adds the server identifier and counts it.
func (e *Engine) send(q *query, r *dhcpv4.DHCPv4) Result {
	res := Result{Reply: r, Changes: q.changes}
	res.Src = q.req.Dst
	if !res.Src.IsValid() || res.Src == bcast || res.Src.IsUnspecified() {
		res.Src = netip.Addr{}
		for _, p := range q.req.IfaceAddrs {
			if p.Addr().Is4() {
				res.Src = p.Addr()
				break
			}
		}
	}
	if _, ok := r.Options[optServerID]; !ok && res.Src.IsValid() {
		r.Options[optServerID] = res.Src.AsSlice()
	}
	res.Dst = e.destination(q, r)
	res.DstMAC = q.req.SrcMAC
	if !q.relayed && r.IsBroadcast() {
		res.Broadcast = true
		res.DstMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	e.stats.Add("pkt4-sent", 1)
	switch MessageType(r) {
	case dhcpv4.MessageTypeOffer:
		e.stats.Add("pkt4-offer-sent", 1)
	case dhcpv4.MessageTypeAck:
		e.stats.Add("pkt4-ack-sent", 1)
	case dhcpv4.MessageTypeNak:
		e.stats.Add("pkt4-nak-sent", 1)
	}
	return res
}

// Ports of the DHCPv4 server and client.
const (
	ServerPort = 67
	ClientPort = 68
)

// destination is the address and port the reply goes to, per the
// reply-addressing rules of Kea 3.x.
func (e *Engine) destination(q *query, r *dhcpv4.DHCPv4) netip.AddrPort {
	relayPort := uint16(ServerPort)
	if _, ok := subOptions(q.p)[subRelayPort]; ok && q.req.Src.Port() != 0 {
		relayPort = q.req.Src.Port()
	}
	yiaddr := addr4(r.YourIPAddr)
	src := q.req.Src.Addr()
	if !src.IsValid() {
		src = netip.IPv4Unspecified()
	}
	if MessageType(q.p) == dhcpv4.MessageTypeInform {
		switch {
		case !q.ciaddr.IsUnspecified():
			return netip.AddrPortFrom(q.ciaddr, ClientPort)
		case q.relayed:
			r.SetBroadcast()
			return netip.AddrPortFrom(q.giaddr, relayPort)
		}
		return netip.AddrPortFrom(src, ClientPort)
	}
	switch {
	case q.relayed:
		return netip.AddrPortFrom(q.giaddr, relayPort)
	case !q.ciaddr.IsUnspecified():
		return netip.AddrPortFrom(q.ciaddr, ClientPort)
	case MessageType(r) == dhcpv4.MessageTypeNak:
		return netip.AddrPortFrom(bcast, ClientPort)
	case !yiaddr.IsUnspecified() && (q.p.IsBroadcast() || !e.net.DirectResponse):
		return netip.AddrPortFrom(bcast, ClientPort)
	case !yiaddr.IsUnspecified():
		return netip.AddrPortFrom(yiaddr, ClientPort)
	}
	return netip.AddrPortFrom(src, ClientPort)
}
