package dhcp4

import "net/netip"

// identifier returns the client's value for one host identifier type, or
// nil when the query carries none.
func (q *query) identifier(t Identifier) []byte {
	switch t {
	case HWAddress:
		return q.hw
	case DUID:
		// RFC 4361 client-id: type 255, a 4-byte IAID, then the DUID.
		if len(q.cid) > 5 && q.cid[0] == 0xff {
			return q.cid[5:]
		}
	case CircuitID:
		return subOptions(q.p)[subCircuitID]
	case ClientID:
		return q.cid
	case FlexID:
		return q.req.FlexID
	}
	return nil
}

// find returns the scope's reservation for the client, trying identifiers
// in host-reservation-identifiers order.
func (e *Engine) find(h hostIndex, q *query) *Reservation {
	for _, t := range e.net.HostIdentifiers {
		if v := q.identifier(t); len(v) > 0 {
			if r, ok := h.byID[idKey(t, v)]; ok {
				return r
			}
		}
	}
	return nil
}

// currentHost is Kea's ClientContext4::currentHost: the client's
// reservation in the selected subnet when in-subnet reservations are on,
// else its global one when global reservations are.
func (e *Engine) currentHost(q *query) *Reservation {
	s := q.subnet
	if s == nil {
		return nil
	}
	if s.ReservationsInSubnet {
		if r := e.find(s.hosts, q); r != nil {
			return r
		}
	}
	if s.ReservationsGlobal {
		return e.find(e.global, q)
	}
	return nil
}

// reservedAddr returns the client's reserved address, moving q.subnet to
// the subnet of the shared network it belongs in, as Kea's
// hasAddressReservation does.
func (e *Engine) reservedAddr(q *query) (netip.Addr, bool) {
	if q.subnet == nil {
		return netip.Addr{}, false
	}
	sibs := q.subnet.siblings()
	for _, s := range sibs {
		if !s.ReservationsInSubnet {
			continue
		}
		r := e.find(s.hosts, q)
		if r == nil {
			continue
		}
		if !r.Addr.IsValid() || r.Addr.IsUnspecified() {
			// A reservation without an address still pins the subnet.
			q.subnet = s
			return netip.Addr{}, false
		}
		if !s.ReservationsOutOfPool || s.pool(r.Addr) == nil {
			q.subnet = s
			return r.Addr, true
		}
	}
	g := e.find(e.global, q)
	if g == nil || !g.Addr.IsValid() || g.Addr.IsUnspecified() {
		return netip.Addr{}, false
	}
	for _, s := range sibs {
		if s.ReservationsGlobal && s.Prefix.Contains(g.Addr) {
			q.subnet = s
			return g.Addr, true
		}
	}
	return netip.Addr{}, false
}

// reservedForOther reports whether addr is reserved in s for a host that
// is not this client (Kea's addressReserved).
func (e *Engine) reservedForOther(s *Subnet, addr netip.Addr, q *query) bool {
	if s == nil || !s.ReservationsInSubnet {
		return false
	}
	if s.ReservationsOutOfPool && s.pool(addr) != nil {
		return false
	}
	r, ok := s.hosts.byAddr[addr]
	if !ok {
		return false
	}
	k, _ := r.key()
	for _, t := range e.net.HostIdentifiers {
		if v := q.identifier(t); len(v) > 0 && idKey(t, v) == k {
			return false
		}
	}
	return true
}

// optVendorClass is the vendor class identifier option.
const optVendorClass = 60

// classify puts the client in Kea's built-in classes: ALL, its HA scope
// class (HA_<server>) when HA filters queries, VENDOR_CLASS_<option 60>,
// KNOWN when it has a reservation in the selected subnet, its shared
// network or (where enabled) globally, else UNKNOWN, plus the classes its
// reservation names.
func (e *Engine) classify(q *query) {
	q.classes = append(q.classes[:0], "ALL")
	if q.haClass != "" {
		q.classes = append(q.classes, q.haClass)
	}
	if v := q.p.Options[optVendorClass]; len(v) > 0 {
		q.classes = append(q.classes, "VENDOR_CLASS_"+string(v))
	}
	var hosts []*Reservation
	if q.subnet != nil {
		for _, s := range q.subnet.siblings() {
			if s.ReservationsInSubnet {
				if r := e.find(s.hosts, q); r != nil {
					hosts = append(hosts, r)
				}
			}
		}
		if q.subnet.ReservationsGlobal {
			if r := e.find(e.global, q); r != nil {
				hosts = append(hosts, r)
			}
		}
	}
	if len(hosts) == 0 {
		q.classes = append(q.classes, "UNKNOWN")
		return
	}
	q.classes = append(q.classes, "KNOWN")
	for _, r := range hosts {
		q.classes = append(q.classes, r.ClientClasses...)
	}
}
