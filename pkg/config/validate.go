package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// validate makes the checks Kea makes across keys, and assigns subnet ids
// that were left out.
func validate(d *dec, c *Dhcp4) {
	d.checkLifetimes(&c.Params, "Dhcp4")
	d.assignIDs(c)
	for i, s := range c.Subnets {
		d.checkSubnet(s)
		for _, o := range c.Subnets[:i] {
			switch {
			case s.Prefix == o.Prefix:
				d.errs = append(d.errs, &Error{Pos: s.Pos, Path: s.path + "/subnet",
					Msg: fmt.Sprintf("subnet %s is already defined at %s; merge the two entries", s.Prefix, o.Pos)})
			case s.Prefix.Overlaps(o.Prefix):
				// Kea accepts this; clients are matched to the first.
				d.warnf(s.Pos, s.path+"/subnet", "subnet %s overlaps subnet %s (%s); a client may be placed in either", s.Prefix, o.Prefix, o.Pos)
			}
		}
	}
	d.checkPoolOverlaps(c.Subnets)
	d.checkHosts(c.Reservations, nil)
	for _, sn := range c.SharedNetworks {
		d.checkLifetimes(&sn.Params, sn.path)
		d.checkInterfaces(sn)
		var auth *bool
		for _, s := range sn.Subnets {
			if s.Authoritative != nil {
				if auth != nil && *auth != *s.Authoritative {
					d.errs = append(d.errs, &Error{Pos: s.Pos, Path: s.path + "/authoritative",
						Msg: fmt.Sprintf("every subnet of shared network %q must agree on authoritative", sn.Name)})
				}
				auth = s.Authoritative
			}
		}
	}
	for i := range c.HA {
		d.checkHAListener(c, &c.HA[i])
	}
	d.checkRelationships(c.HA)
	for _, h := range c.HA {
		d.checkSharedPools(h, c.Subnets)
	}
	if len(c.HA) > 0 && !c.LeaseCmds {
		d.errs = append(d.errs, &Error{Pos: c.HA[0].Pos, Path: "Dhcp4/hooks-libraries",
			Msg: "libdhcp_ha.so needs libdhcp_lease_cmds.so loaded too: the partner's lease updates arrive as lease commands"})
	}
}

func (d *dec) checkSubnet(s *Subnet) {
	d.checkLifetimes(&s.Params, s.path)
	for _, p := range s.Pools {
		if !s.Prefix.Contains(p.First) || !s.Prefix.Contains(p.Last) {
			d.errs = append(d.errs, &Error{Pos: p.Pos, Path: p.path + "/pool",
				Msg: fmt.Sprintf("pool %s-%s is not inside subnet %s", p.First, p.Last, s.Prefix)})
		}
	}
	d.checkHosts(s.Reservations, s)
}

// checkLifetimes applies Kea's rules: min <= valid <= max, and a warning
// (Kea ignores the renew-timer) when renew > rebind. It also refuses
// reservation-mode next to the flags that replace it, as Kea does.
func (d *dec) checkLifetimes(p *Params, where string) {
	if at, old := p.pos["reservation-mode"]; old {
		for _, k := range []string{"reservations-global", "reservations-in-subnet", "reservations-out-of-pool"} {
			if _, set := p.pos[k]; set {
				d.errs = append(d.errs, &Error{Pos: at, Path: where + "/reservation-mode",
					Msg: fmt.Sprintf("reservation-mode cannot be used together with %s; keep only the reservations-* flags", k)})
				break
			}
		}
	}
	if p.ValidLifetime != nil {
		if p.MinValidLifetime != nil && *p.MinValidLifetime > *p.ValidLifetime {
			d.errs = append(d.errs, &Error{Pos: p.pos["min-valid-lifetime"], Path: where + "/min-valid-lifetime",
				Msg: fmt.Sprintf("min-valid-lifetime %d is greater than valid-lifetime %d", *p.MinValidLifetime, *p.ValidLifetime)})
		}
		if p.MaxValidLifetime != nil && *p.MaxValidLifetime < *p.ValidLifetime {
			d.errs = append(d.errs, &Error{Pos: p.pos["max-valid-lifetime"], Path: where + "/max-valid-lifetime",
				Msg: fmt.Sprintf("max-valid-lifetime %d is less than valid-lifetime %d", *p.MaxValidLifetime, *p.ValidLifetime)})
		}
	}
	if p.RenewTimer != nil && p.RebindTimer != nil && *p.RenewTimer > *p.RebindTimer {
		d.warnf(p.pos["renew-timer"], where+"/renew-timer", "in %s, the value of renew-timer %d is greater than the value of rebind-timer %d, ignoring renew-timer", where, *p.RenewTimer, *p.RebindTimer)
	}
}

func (d *dec) checkPoolOverlaps(subnets []*Subnet) {
	type span struct {
		p *Pool
		s *Subnet
	}
	var seen []span
	for _, s := range subnets {
		for i := range s.Pools {
			p := &s.Pools[i]
			for _, o := range seen {
				if !p.Last.Less(o.p.First) && !o.p.Last.Less(p.First) {
					d.errs = append(d.errs, &Error{Pos: p.Pos, Path: p.path + "/pool",
						Msg: fmt.Sprintf("pool %s-%s overlaps pool %s-%s (%s)", p.First, p.Last, o.p.First, o.p.Last, o.p.Pos)})
				}
			}
			seen = append(seen, span{p, s})
		}
	}
}

// checkHosts checks reservations of one scope: addresses inside the subnet
// and not reserved twice, identifiers not used twice.
func (d *dec) checkHosts(rs []Reservation, s *Subnet) {
	addrs := map[netip.Addr]string{}
	ids := map[string]string{}
	for _, r := range rs {
		if r.IPAddress.IsValid() {
			if s != nil && !s.Prefix.Contains(r.IPAddress) {
				d.errs = append(d.errs, &Error{Pos: r.Pos, Path: r.path + "/ip-address",
					Msg: fmt.Sprintf("reserved address %s is not inside subnet %s", r.IPAddress, s.Prefix)})
			}
			if where, dup := addrs[r.IPAddress]; dup {
				d.errs = append(d.errs, &Error{Pos: r.Pos, Path: r.path + "/ip-address",
					Msg: fmt.Sprintf("address %s is already reserved at %s", r.IPAddress, where)})
			}
			addrs[r.IPAddress] = r.Pos.String()
		}
		for kind, v := range map[string][]byte{"hw-address": r.HWAddr, "client-id": r.ClientID, "duid": r.DUID,
			"circuit-id": r.CircuitID, "flex-id": r.FlexID} {
			if len(v) == 0 {
				continue
			}
			key := kind + "=" + string(v)
			if where, dup := ids[key]; dup {
				d.errs = append(d.errs, &Error{Pos: r.Pos, Path: r.path + "/" + kind,
					Msg: fmt.Sprintf("this %s already has a reservation at %s", kind, where)})
			}
			ids[key] = r.Pos.String()
		}
	}
}

// checkHAListener: with the dedicated listener on, this server's peer URL
// must not share a port with a control socket (Kea refuses it).
func (d *dec) checkHAListener(c *Dhcp4, h *HA) {
	me := h.This()
	if me == nil || me.URL == nil || !h.MultiThreading.Enable || !h.MultiThreading.DedicatedListener || !c.MultiThreading.Enable {
		return
	}
	for _, cs := range c.ControlSockets {
		if cs.Type != "unix" && uint32(me.Addr.Port()) == cs.Port {
			d.errs = append(d.errs, &Error{Pos: me.Pos, Path: me.path + "/url",
				Msg: fmt.Sprintf("the HA listener at %s uses port %d, as the control socket at %s does; give them different ports", me.URL, cs.Port, cs.Pos)})
		}
	}
}

// assignIDs numbers the subnets that have no "id" as Kea 2.2 does: a
// counter from 1, taken by each such subnet in the order Kea parses them
// (the subnets of shared-networks first, then subnet4), never skipping the
// ids given explicitly. A clash is an error in Kea 2.2 and here, and the
// lease file's subnet_id column depends on matching Kea exactly.
func (d *dec) assignIDs(c *Dhcp4) {
	var order []*Subnet
	for _, sn := range c.SharedNetworks {
		order = append(order, sn.Subnets...)
	}
	for _, s := range c.Subnets {
		if s.SharedNetwork == nil {
			order = append(order, s)
		}
	}
	next := uint32(1)
	used := map[uint32]*Subnet{}
	for _, s := range order {
		auto := s.ID == 0
		if auto {
			s.ID = next
			next++
		}
		o, dup := used[s.ID]
		switch {
		case dup && auto:
			d.errs = append(d.errs, &Error{Pos: s.Pos, Path: s.path,
				Msg: fmt.Sprintf("this subnet would be numbered %d, as Kea 2.2 numbers subnets without an \"id\", but %s (%s) has that id; give every subnet an explicit \"id\"", s.ID, o.Prefix, o.Pos)})
		case dup:
			d.errs = append(d.errs, &Error{Pos: s.Pos, Path: s.path + "/id",
				Msg: fmt.Sprintf("subnet id %d is already used by %s (%s); subnet ids must be unique", s.ID, o.Prefix, o.Pos)})
		default:
			used[s.ID] = s
		}
	}
}

// checkRelationships applies Kea 3's rules for several high-availability
// entries: all hot-standby, and no server named in two of them. Kea 2.2
// takes exactly one entry, so a warning says the file is 3.x only.
func (d *dec) checkRelationships(has []HA) {
	if len(has) < 2 {
		return
	}
	d.warnf(has[1].Pos, has[1].path, "several high-availability relationships need Kea 3; Kea 2.2 takes exactly one")
	names := map[string]Pos{}
	for _, h := range has {
		if h.Mode != "hot-standby" {
			d.errs = append(d.errs, &Error{Pos: h.Pos, Path: h.path + "/mode",
				Msg: fmt.Sprintf("with several relationships every one must be hot-standby, as Kea requires; this one is %s", h.Mode)})
		}
		for _, p := range h.Peers {
			if at, dup := names[p.Name]; dup {
				d.errs = append(d.errs, &Error{Pos: p.Pos, Path: p.path,
					Msg: fmt.Sprintf("server %q is already a peer of another relationship (%s); each server belongs to one relationship", p.Name, at)})
				continue
			}
			names[p.Name] = p.Pos
		}
	}
}

// checkInterfaces: the subnets of a shared network sit on one link, so
// Kea refuses subnets that name different interfaces.
func (d *dec) checkInterfaces(sn *SharedNetwork) {
	var first *Subnet
	for _, s := range sn.Subnets {
		if s.Interface == "" {
			continue
		}
		if first != nil && s.Interface != first.Interface {
			d.errs = append(d.errs, &Error{Pos: s.Pos, Path: s.path + "/interface",
				Msg: fmt.Sprintf("interface %q differs from %q of subnet %s (%s); the subnets of shared network %q must share one interface", s.Interface, first.Interface, first.Prefix, first.Pos, sn.Name)})
			continue
		}
		first = s
	}
}

// checkSharedPools warns of the pools both servers of a load-balancing
// pair allocate from: those restricted neither by their own classes nor
// by their subnet's to one server's scope class (ScopeClass). Kea's
// documentation asks such pairs to split their pools this way, since two
// servers serving at once from one pool can give an address to two
// clients, but Kea does not check it. In the other modes one server
// allocates at a time.
func (d *dec) checkSharedPools(h HA, subnets []*Subnet) {
	if h.Mode != "load-balancing" {
		return
	}
	var names []string
	for _, p := range h.Peers {
		if p.Role != "backup" {
			names = append(names, fmt.Sprintf("%q", ScopeClass(p.Name)))
		}
	}
	for _, s := range subnets {
		sub := s.ClientClasses
		if s.ClientClass != "" {
			sub = []string{s.ClientClass}
		}
		for _, p := range s.Pools {
			if oneScope(h, p.ClientClasses) || oneScope(h, sub) {
				continue
			}
			d.warnf(p.Pos, p.path, "pool %s-%s is open to both servers of load-balancing relationship %q, so both may give one address to two clients at once; "+
				"split it between the servers with \"client-class\" %s, as Kea's documentation asks (between two twinleaf servers the earlier lease keeps the address "+
				"and the other client is refused on its next request)", p.First, p.Last, h.ThisServerName, strings.Join(names, " or "))
		}
	}
}

// oneScope reports whether classes let in the clients of one active
// peer's scope only: each class named is that peer's scope class.
func oneScope(h HA, classes []string) bool {
	if len(classes) == 0 {
		return false
	}
	var scope string
	for _, c := range classes {
		i := slices.IndexFunc(h.Peers, func(p Peer) bool { return p.Role != "backup" && ScopeClass(p.Name) == c })
		if i < 0 || (scope != "" && scope != h.Peers[i].Name) {
			return false
		}
		scope = h.Peers[i].Name
	}
	return true
}
