package dhcp4

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

var bcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// Option codes the engine reads or writes itself.
const (
	optSubnetMask   = 1
	optRouters      = 3
	optDNS          = 6
	optHostname     = 12
	optDomainName   = 15
	optRequestedIP  = 50
	optLeaseTime    = 51
	optMessageType  = 53
	optServerID     = 54
	optPRL          = 55
	optRenewalT1    = 58
	optRebindingT2  = 59
	optClientID     = 61
	optAgentInfo    = 82
	optSubnetSelect = 118

	subCircuitID      = 1
	subLinkSelection  = 5
	subServerOverride = 11
	subRelayPort      = 19
)

// query is one query being answered: the packet, the client's identity and
// what the engine has decided so far.
type query struct {
	req *Request
	p   *dhcpv4.DHCPv4
	now time.Time

	hw      net.HardwareAddr
	cid     []byte // option 61 data when it is a usable client-id
	key     string // the client's identity for in-flight holds
	giaddr  netip.Addr
	ciaddr  netip.Addr
	relayed bool

	subnet  *Subnet
	classes classSet
	// haClass is the HA scope class (HA_<server>) the scope filter put
	// the query in, or "".
	haClass string
	// classBuf backs classes for the usual few (ALL, HA_<server>, KNOWN
	// or UNKNOWN, a vendor class), sparing two allocations per query.
	classBuf [5]string
	changes  []lease.Change
	// unknownRequested is set when the requested address lies outside
	// every pool (Kea then drops rather than NAKs).
	unknownRequested bool
}

// init starts q afresh for req, received at now.
func (q *query) init(req *Request, now time.Time) {
	p := req.Packet
	*q = query{req: req, p: p, now: now, hw: p.ClientHWAddr}
	q.classes = q.classBuf[:0]
	if cid := p.Options[optClientID]; len(cid) >= 2 {
		q.cid = cid
	}
	if q.cid != nil {
		q.key = "id:" + string(q.cid)
	} else {
		q.key = "hw:" + string(q.hw)
	}
	q.giaddr = addr4(p.GatewayIPAddr)
	q.ciaddr = addr4(p.ClientIPAddr)
	q.relayed = !q.giaddr.IsUnspecified() && q.giaddr != bcast
}

// MessageType is m's DHCP message type (option 53), MessageTypeNone when
// it is absent or not one byte: what m.MessageType() answers, without the
// decoding buffer that method allocates on every call.
func MessageType(m *dhcpv4.DHCPv4) dhcpv4.MessageType {
	if v := m.Options[optMessageType]; len(v) == 1 {
		return dhcpv4.MessageType(v[0])
	}
	return dhcpv4.MessageTypeNone
}

// addr4 converts a packet address field, treating anything unparsable as
// 0.0.0.0.
func addr4(ip net.IP) netip.Addr {
	if a, ok := netip.AddrFromSlice(ip.To4()); ok {
		return a
	}
	return netip.IPv4Unspecified()
}

// optAddr reads an option holding one IPv4 address.
func optAddr(p *dhcpv4.DHCPv4, code uint8) (netip.Addr, bool) {
	v := p.Options[code]
	if len(v) != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v)), true
}

// cidFor is the client-id to match leases by in s: none when the subnet
// sets match-client-id false.
func (q *query) cidFor(s *Subnet) []byte {
	if s == nil || !s.MatchClientID {
		return nil
	}
	return q.cid
}

// subOptions parses option 82 into its sub-options; nil when absent or
// malformed.
func subOptions(p *dhcpv4.DHCPv4) map[uint8][]byte {
	v := p.Options[optAgentInfo]
	if len(v) == 0 {
		return nil
	}
	m := make(map[uint8][]byte)
	for len(v) > 0 {
		if len(v) < 2 || len(v) < 2+int(v[1]) {
			return nil
		}
		m[v[0]] = append(m[v[0]], v[2:2+int(v[1])]...)
		v = v[2+int(v[1]):]
	}
	return m
}

// Handle answers one query. It never blocks on anything but the store and
// never panics on a malformed packet.
func (e *Engine) Handle(req *Request) Result {
	return e.handle(req, new(query))
}

// handle is Handle with q as the query's storage.
func (e *Engine) handle(req *Request, q *query) Result {
	e.stats.Add("pkt4-received", 1)
	if req == nil || req.Packet == nil {
		return e.drop("no packet")
	}
	p := req.Packet
	var haClass string
	if e.scope != nil {
		class, in := e.scope(p)
		if !in {
			return Result{Reason: "outside this server's HA scope"}
		}
		haClass = class
	}
	e.countReceived(MessageType(p))
	q.init(req, e.now())
	q.haClass = haClass
	if reason, ok := e.accept(q); !ok {
		return e.drop(reason)
	}
	if reason, ok := e.sane(q); !ok {
		return e.drop(reason)
	}
	switch MessageType(p) {
	case dhcpv4.MessageTypeDiscover:
		q.subnet = e.selectSubnet(q)
		e.classify(q)
		return e.discover(q)
	case dhcpv4.MessageTypeRequest:
		q.subnet = e.selectSubnet(q)
		e.classify(q)
		return e.request(q)
	case dhcpv4.MessageTypeInform:
		q.subnet = e.selectSubnet(q)
		e.classify(q)
		return e.inform(q)
	case dhcpv4.MessageTypeRelease:
		return e.release(q)
	case dhcpv4.MessageTypeDecline:
		return e.decline(q)
	}
	return e.drop("unsupported message type")
}

// HandleBytes parses a raw query and answers it, counting parse failures
// as Kea does.
//
// The query is parsed into storage the engine reuses for later queries
// (parsing was two fifths of the bytes a pair's primary allocated): the
// Result never points into the query, so that storage is free again once
// the answer is decided.
func (e *Engine) HandleBytes(b []byte, req Request) Result {
	in, _ := e.inbound.Get().(*inbound)
	if in == nil {
		in = &inbound{opts: make(dhcpv4.Options, 8)}
	}
	defer e.inbound.Put(in)
	if err := in.parse(b); err != nil {
		e.stats.Add("pkt4-received", 1)
		e.stats.Add("pkt4-parse-failed", 1)
		e.stats.Add("pkt4-receive-drop", 1)
		return Result{Reason: "parse failed: " + err.Error()}
	}
	in.req = req
	in.req.Packet = &in.msg
	return e.handle(&in.req, &in.q)
}

// inbound is the storage one query is parsed and answered in, reused
// through Engine.inbound.
type inbound struct {
	buf  []byte
	msg  dhcpv4.DHCPv4
	opts dhcpv4.Options
	req  Request
	q    query
}

// parse decodes b into in, copying it into in's buffer.
func (in *inbound) parse(b []byte) error {
	if err := checkHeader(b); err != nil {
		return err
	}
	in.buf = append(in.buf[:0], b...)
	clear(in.opts)
	return decode(&in.msg, in.buf, in.opts)
}

func (e *Engine) drop(reason string) Result {
	e.stats.Add("pkt4-receive-drop", 1)
	return Result{Reason: reason}
}

func (e *Engine) countReceived(t dhcpv4.MessageType) {
	name := "pkt4-unknown-received"
	switch t {
	case dhcpv4.MessageTypeDiscover:
		name = "pkt4-discover-received"
	case dhcpv4.MessageTypeOffer:
		name = "pkt4-offer-received"
	case dhcpv4.MessageTypeRequest:
		name = "pkt4-request-received"
	case dhcpv4.MessageTypeAck:
		name = "pkt4-ack-received"
	case dhcpv4.MessageTypeNak:
		name = "pkt4-nak-received"
	case dhcpv4.MessageTypeRelease:
		name = "pkt4-release-received"
	case dhcpv4.MessageTypeDecline:
		name = "pkt4-decline-received"
	case dhcpv4.MessageTypeInform:
		name = "pkt4-inform-received"
	}
	e.stats.Add(name, 1)
}

// accept applies Kea's checks before processing: message type, direct
// requests and the server identifier.
func (e *Engine) accept(q *query) (string, bool) {
	switch MessageType(q.p) {
	case dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeRelease,
		dhcpv4.MessageTypeDecline, dhcpv4.MessageTypeInform:
	default:
		return "unsupported message type " + MessageType(q.p).String(), false
	}
	if !q.relayed {
		if MessageType(q.p) == dhcpv4.MessageTypeInform && q.ciaddr.IsUnspecified() &&
			(!q.req.Src.Addr().IsValid() || q.req.Src.Addr().IsUnspecified()) {
			return "direct INFORM with no ciaddr and no source address", false
		}
		if q.req.Dst == bcast && e.selectSubnet(q) == nil {
			return "broadcast from a direct client on an interface with no subnet", false
		}
	}
	if !e.serverIDOK(q) {
		return "server identifier is not ours", false
	}
	return "", true
}

// serverIDOK reports whether option 54, when present, names this server.
func (e *Engine) serverIDOK(q *query) bool {
	v, present := q.p.Options[optServerID]
	if !present {
		return true
	}
	if len(v) != 4 {
		return false
	}
	id := netip.AddrFrom4([4]byte(v))
	if o := subOptions(q.p)[subServerOverride]; bytes.Equal(o, v) {
		return true
	}
	if e.net.IgnoreServerID {
		return true
	}
	for _, p := range q.req.IfaceAddrs {
		if p.Addr() == id {
			return true
		}
	}
	if slices.Contains(q.req.ServerAddrs, id) {
		return true
	}
	return e.configuredServerID(v)
}

// configuredServerID reports whether option 54 with data v is configured
// in any subnet, shared network or globally.
func (e *Engine) configuredServerID(v []byte) bool {
	has := func(opts []Option) bool {
		for _, o := range opts {
			if o.Code == optServerID && bytes.Equal(o.Data, v) {
				return true
			}
		}
		return false
	}
	if has(e.net.Options) {
		return true
	}
	for _, s := range e.net.Subnets {
		if has(s.Options) || (s.Network != nil && has(s.Network.Options)) {
			return true
		}
	}
	return false
}

// sane applies Kea's sanityCheck: no server-id in a DISCOVER, and some way
// to tell the client apart.
func (e *Engine) sane(q *query) (string, bool) {
	if _, ok := q.p.Options[optServerID]; ok && MessageType(q.p) == dhcpv4.MessageTypeDiscover {
		return "DISCOVER carries a server identifier", false
	}
	if len(q.hw) == 0 && q.cid == nil {
		return "neither a hardware address nor a client-id", false
	}
	return "", true
}

// selectSubnet picks the subnet for a query as Kea's CfgSubnets4 does:
// link selection or subnet-selection option, relay address, then ciaddr,
// source address or the receiving interface.
func (e *Engine) selectSubnet(q *query) *Subnet {
	if a, ok := e.selectAddr(q); ok {
		return e.subnetFor(a, q)
	}
	if q.relayed {
		for _, s := range e.net.Subnets {
			if s.hasRelay(q.giaddr) && supports(s, q) {
				return s
			}
		}
	}
	var a netip.Addr
	src := q.req.Src.Addr()
	switch {
	case q.relayed:
		a = q.giaddr
	case !q.ciaddr.IsUnspecified() && q.req.Dst != bcast:
		a = q.ciaddr
	case src.IsValid() && !src.IsUnspecified() && q.req.Dst != bcast:
		a = src
	case q.req.Iface != "":
		for _, s := range e.net.Subnets {
			iface := s.Interface
			if iface == "" && s.Network != nil {
				iface = s.Network.Interface
			}
			if iface == q.req.Iface && supports(s, q) {
				return s
			}
		}
		for _, p := range q.req.IfaceAddrs {
			if p.Addr().Is4() {
				a = p.Addr()
				break
			}
		}
	}
	if !a.IsValid() || a.IsUnspecified() {
		return nil
	}
	return e.subnetFor(a, q)
}

// selectAddr returns the address named by option 82's link-selection or
// by option 118.
func (e *Engine) selectAddr(q *query) (netip.Addr, bool) {
	if !e.net.IgnoreLinkSelection {
		if v := subOptions(q.p)[subLinkSelection]; len(v) == 4 {
			return netip.AddrFrom4([4]byte(v)), true
		}
	}
	if a, ok := optAddr(q.p, optSubnetSelect); ok && !a.IsUnspecified() {
		return a, true
	}
	return netip.Addr{}, false
}

func (e *Engine) subnetFor(a netip.Addr, q *query) *Subnet {
	for _, s := range e.net.Subnets {
		if s.Prefix.Contains(a) && supports(s, q) {
			return s
		}
	}
	return nil
}

// supports reports whether a subnet restricted to client classes takes
// the client. Only the classes known before subnet selection count: ALL,
// the HA scope class and VENDOR_CLASS_<option 60>, as in Kea.
func supports(s *Subnet, q *query) bool {
	if len(s.ClientClasses) == 0 {
		return true
	}
	pre := classSet{"ALL"}
	if q.haClass != "" {
		pre = append(pre, q.haClass)
	}
	if v := q.p.Options[optVendorClass]; len(v) > 0 {
		pre = append(pre, "VENDOR_CLASS_"+string(v))
	}
	return allowed(s.ClientClasses, pre)
}

// hostname is the name to record for the client. A client sending a
// Client FQDN option gets the name Kea answers it with (final dot
// included); otherwise its reservation's name, else the one it sent in
// option 12, cleaned as Kea's default hostname-char-set does.
func (e *Engine) hostname(q *query) string {
	h := e.currentHost(q)
	if b, ok := q.p.Options[optFQDN]; ok {
		reserved := ""
		if h != nil {
			reserved = h.Hostname
		}
		if f, ok := fqdnReply(b, reserved); ok {
			return f.text()
		}
		return ""
	}
	if h != nil && h.Hostname != "" {
		return strings.ToLower(h.Hostname)
	}
	return strings.ToLower(scrub(strings.TrimSpace(string(q.p.Options[optHostname]))))
}
