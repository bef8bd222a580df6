package main

import (
	"fmt"
	"time"

	"github.com/twinleaf/twinleaf/pkg/alloc"
	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/dhcp4"
)

// network compiles a checked configuration into the engine's model,
// resolving each subnet's settings through its shared network and the
// global scope (most specific wins), with Kea's defaults underneath.
func network(c *config.Dhcp4) (*dhcp4.Network, error) {
	n := &dhcp4.Network{
		Options:          engineOptions(c.OptionData),
		DeclineProbation: time.Duration(c.DeclineProbationPeriod) * time.Second,
		Affinity:         c.ExpiredLeasesProcessing.FlushReclaimedTimerWaitTime > 0 && c.ExpiredLeasesProcessing.HoldReclaimedTime > 0,
		EchoClientID:     c.EchoClientID,
		DirectResponse:   c.InterfacesConfig.DHCPSocketType == "raw",
		Authoritative:    boolOr(false, c.Authoritative),
	}
	for _, id := range c.HostReservationIdentifiers {
		t, err := dhcp4.ParseIdentifier(id)
		if err != nil {
			return nil, err
		}
		n.HostIdentifiers = append(n.HostIdentifiers, t)
	}
	n.Reservations = reservations(c.Reservations)
	shared := map[*config.SharedNetwork]*dhcp4.SharedNetwork{}
	for _, sn := range c.SharedNetworks {
		s := &dhcp4.SharedNetwork{Name: sn.Name, Interface: sn.Interface, Relay: sn.Relay, Options: engineOptions(sn.OptionData)}
		shared[sn] = s
		n.SharedNetworks = append(n.SharedNetworks, s)
	}
	for _, cs := range c.Subnets {
		s, err := subnet(c, cs)
		if err != nil {
			return nil, err
		}
		if cs.SharedNetwork != nil {
			s.Network = shared[cs.SharedNetwork]
			s.Network.Subnets = append(s.Network.Subnets, s)
			if s.Interface == "" {
				s.Interface = cs.SharedNetwork.Interface
			}
			if len(s.Relay) == 0 {
				s.Relay = cs.SharedNetwork.Relay
			}
		}
		n.Subnets = append(n.Subnets, s)
	}
	return n, nil
}

func subnet(c *config.Dhcp4, cs *config.Subnet) (*dhcp4.Subnet, error) {
	scopes := []*config.Params{&cs.Params}
	if cs.SharedNetwork != nil {
		scopes = append(scopes, &cs.SharedNetwork.Params)
	}
	scopes = append(scopes, &c.Params)
	u32 := func(get func(*config.Params) *uint32) *uint32 {
		for _, p := range scopes {
			if v := get(p); v != nil {
				return v
			}
		}
		return nil
	}
	b := func(def bool, get func(*config.Params) *bool) bool {
		for _, p := range scopes {
			if v := get(p); v != nil {
				return *v
			}
		}
		return def
	}
	f := func(def float64, get func(*config.Params) *float64) float64 {
		for _, p := range scopes {
			if v := get(p); v != nil {
				return *v
			}
		}
		return def
	}
	str := func(get func(*config.Params) *string) string {
		for _, p := range scopes {
			if v := get(p); v != nil {
				return *v
			}
		}
		return ""
	}
	valid := uint32(7200)
	if v := u32(func(p *config.Params) *uint32 { return p.ValidLifetime }); v != nil {
		valid = *v
	}
	lt := dhcp4.Lifetime{Default: valid, Min: valid, Max: valid}
	if v := u32(func(p *config.Params) *uint32 { return p.MinValidLifetime }); v != nil {
		lt.Min = *v
	}
	if v := u32(func(p *config.Params) *uint32 { return p.MaxValidLifetime }); v != nil {
		lt.Max = *v
	}
	timer := func(v *uint32) dhcp4.Timer {
		if v == nil {
			return dhcp4.Timer{}
		}
		return dhcp4.Timer{Set: true, Secs: *v}
	}
	kind, err := alloc.ParseKind(str(func(p *config.Params) *string { return p.Allocator }))
	if err != nil {
		return nil, fmt.Errorf("subnet %s: %w", cs.Prefix, err)
	}
	s := &dhcp4.Subnet{
		ID: cs.ID, Prefix: cs.Prefix, Interface: cs.Interface, Relay: cs.Relay,
		Options:      engineOptions(cs.OptionData),
		Reservations: reservations(cs.Reservations),
		Valid:        lt,
		T1:           timer(u32(func(p *config.Params) *uint32 { return p.RenewTimer })),
		T2:           timer(u32(func(p *config.Params) *uint32 { return p.RebindTimer })),
		CalculateTee: b(false, func(p *config.Params) *bool { return p.CalculateTeeTimes }),
		T1Percent:    f(0.5, func(p *config.Params) *float64 { return p.T1Percent }),
		T2Percent:    f(0.875, func(p *config.Params) *float64 { return p.T2Percent }),
		// Kea 3.x caches leases by default (threshold 0.25).
		CacheThreshold:        f(0.25, func(p *config.Params) *float64 { return p.CacheThreshold }),
		CacheMaxAge:           timer(u32(func(p *config.Params) *uint32 { return p.CacheMaxAge })),
		MatchClientID:         b(true, func(p *config.Params) *bool { return p.MatchClientID }),
		Authoritative:         b(false, func(p *config.Params) *bool { return p.Authoritative }),
		ReservationsGlobal:    b(false, func(p *config.Params) *bool { return p.ReservationsGlobal }),
		ReservationsInSubnet:  b(true, func(p *config.Params) *bool { return p.ReservationsInSubnet }),
		ReservationsOutOfPool: b(false, func(p *config.Params) *bool { return p.ReservationsOutOfPool }),
		ServerHostname:        str(func(p *config.Params) *string { return p.ServerHostname }),
		BootFileName:          str(func(p *config.Params) *string { return p.BootFileName }),
		Allocator:             kind,
	}
	for _, p := range scopes {
		if p.NextServer != nil {
			s.NextServer = *p.NextServer
			break
		}
	}
	for _, p := range cs.Pools {
		s.Pools = append(s.Pools, &dhcp4.Pool{First: p.First, Last: p.Last, ID: p.ID,
			Options: engineOptions(p.OptionData), ClientClasses: p.ClientClasses})
	}
	return s, nil
}

func boolOr(def bool, v *bool) bool {
	if v != nil {
		return *v
	}
	return def
}

func engineOptions(ods []config.OptionData) []dhcp4.Option {
	var out []dhcp4.Option
	for _, o := range ods {
		if o.Space != "dhcp4" {
			continue // sub-option spaces are encapsulated by their parent option
		}
		out = append(out, dhcp4.Option{Code: o.Code, Data: o.Payload, AlwaysSend: o.AlwaysSend, NeverSend: o.NeverSend})
	}
	return out
}

func reservations(rs []config.Reservation) []*dhcp4.Reservation {
	var out []*dhcp4.Reservation
	for _, r := range rs {
		out = append(out, &dhcp4.Reservation{HWAddr: r.HWAddr, DUID: r.DUID, CircuitID: r.CircuitID,
			ClientID: r.ClientID, FlexID: r.FlexID, Addr: r.IPAddress, Hostname: r.Hostname,
			Options: engineOptions(r.OptionData), NextServer: r.NextServer, ServerHostname: r.ServerHostname,
			BootFileName: r.BootFileName, ClientClasses: r.ClientClasses})
	}
	return out
}

