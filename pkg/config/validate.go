package config

import (
	"fmt"
	"net/netip"
)

// validate makes the checks Kea makes across keys, and assigns subnet ids
// that were left out, as Kea 2.2 does (1, 2, ... in file order, skipping
// ids given explicitly).
func validate(d *dec, c *Dhcp4) {
	d.checkLifetimes(&c.Params, Pos{}, "Dhcp4")
	used := map[uint32]*Subnet{}
	for _, s := range c.Subnets {
		if s.ID == 0 {
			continue
		}
		if o, dup := used[s.ID]; dup {
			d.errs = append(d.errs, &Error{Pos: s.Pos, Path: s.path + "/id",
				Msg: fmt.Sprintf("subnet id %d is already used by %s (%s); subnet ids must be unique", s.ID, o.Prefix, o.Pos)})
			continue
		}
		used[s.ID] = s
	}
	next := uint32(1)
	for _, s := range c.Subnets {
		if s.ID != 0 {
			continue
		}
		for used[next] != nil {
			next++
		}
		s.ID = next
		used[next] = s
	}
	for i, s := range c.Subnets {
		d.checkSubnet(s)
		for _, o := range c.Subnets[:i] {
			if s.Prefix.Overlaps(o.Prefix) {
				d.errs = append(d.errs, &Error{Pos: s.Pos, Path: s.path + "/subnet",
					Msg: fmt.Sprintf("subnet %s overlaps subnet %s (%s); each address may belong to one subnet", s.Prefix, o.Prefix, o.Pos)})
			}
		}
	}
	d.checkPoolOverlaps(c.Subnets)
	d.checkHosts(c.Reservations, nil)
	for _, sn := range c.SharedNetworks {
		d.checkLifetimes(&sn.Params, Pos{}, "shared network "+sn.Name)
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
	if len(c.HA) > 0 && !c.LeaseCmds {
		d.errs = append(d.errs, &Error{Pos: c.HA[0].Pos, Path: "Dhcp4/hooks-libraries",
			Msg: "libdhcp_ha.so needs libdhcp_lease_cmds.so loaded too: the partner's lease updates arrive as lease commands"})
	}
}

func (d *dec) checkSubnet(s *Subnet) {
	d.checkLifetimes(&s.Params, s.Pos, s.path)
	for _, p := range s.Pools {
		if !s.Prefix.Contains(p.First) || !s.Prefix.Contains(p.Last) {
			d.errs = append(d.errs, &Error{Pos: p.Pos, Path: p.path + "/pool",
				Msg: fmt.Sprintf("pool %s-%s is not inside subnet %s", p.First, p.Last, s.Prefix)})
		}
	}
	d.checkHosts(s.Reservations, s)
}

// checkLifetimes applies Kea's rules: min <= valid <= max, and a warning
// (Kea ignores the renew-timer) when renew > rebind.
func (d *dec) checkLifetimes(p *Params, pos Pos, where string) {
	if p.ValidLifetime != nil {
		if p.MinValidLifetime != nil && *p.MinValidLifetime > *p.ValidLifetime {
			d.errs = append(d.errs, &Error{Pos: pos, Path: where + "/min-valid-lifetime",
				Msg: fmt.Sprintf("min-valid-lifetime %d is greater than valid-lifetime %d", *p.MinValidLifetime, *p.ValidLifetime)})
		}
		if p.MaxValidLifetime != nil && *p.MaxValidLifetime < *p.ValidLifetime {
			d.errs = append(d.errs, &Error{Pos: pos, Path: where + "/max-valid-lifetime",
				Msg: fmt.Sprintf("max-valid-lifetime %d is less than valid-lifetime %d", *p.MaxValidLifetime, *p.ValidLifetime)})
		}
	}
	if p.RenewTimer != nil && p.RebindTimer != nil && *p.RenewTimer > *p.RebindTimer {
		d.warnf(pos, where+"/renew-timer", "in %s, the value of renew-timer %d is greater than the value of rebind-timer %d, ignoring renew-timer", where, *p.RenewTimer, *p.RebindTimer)
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
			d.errs = append(d.errs, &Error{Pos: me.Pos, Path: "Dhcp4/hooks-libraries/high-availability/peers/url",
				Msg: fmt.Sprintf("the HA listener at %s uses port %d, as the control socket at %s does; give them different ports", me.URL, cs.Port, cs.Pos)})
		}
	}
}
