package dhcp4

import (
	"fmt"
	"time"

	"github.com/twinleaf/twinleaf/pkg/alloc"
	"github.com/twinleaf/twinleaf/pkg/config"
)

// Kea 3.x's defaults for the inheritable parameters (GLOBAL4_DEFAULTS).
const (
	defaultValid          = 7200
	defaultT1Percent      = 0.5
	defaultT2Percent      = 0.875
	defaultCacheThreshold = 0.25
)

// NewNetwork compiles a parsed configuration into the engine's model:
// every inheritable parameter resolved from subnet, shared network and
// global scope, options kept per scope with their encoded payloads.
func NewNetwork(cfg *config.Dhcp4) (*Network, error) {
	n := &Network{
		Options:          options(cfg.OptionData),
		DeclineProbation: time.Duration(cfg.DeclineProbationPeriod) * time.Second,
		Affinity: cfg.ExpiredLeasesProcessing.FlushReclaimedTimerWaitTime > 0 &&
			cfg.ExpiredLeasesProcessing.HoldReclaimedTime > 0,
		EchoClientID:   cfg.EchoClientID,
		DirectResponse: cfg.InterfacesConfig.DHCPSocketType != "udp",
		Authoritative:  pick(false, cfg.Authoritative),
	}
	for _, name := range cfg.HostReservationIdentifiers {
		id, err := ParseIdentifier(name)
		if err != nil {
			return nil, fmt.Errorf("dhcp4: host-reservation-identifiers: %w", err)
		}
		n.HostIdentifiers = append(n.HostIdentifiers, id)
	}
	n.Reservations = reservations(cfg.Reservations)
	shared := make(map[*config.SharedNetwork]*SharedNetwork)
	for _, cs := range cfg.SharedNetworks {
		sn := &SharedNetwork{
			Name:      cs.Name,
			Interface: cs.Interface,
			Relay:     cs.Relay,
			Options:   options(cs.OptionData),
		}
		shared[cs] = sn
		n.SharedNetworks = append(n.SharedNetworks, sn)
	}
	for _, cs := range cfg.Subnets {
		s, err := subnet(cfg, cs)
		if err != nil {
			return nil, err
		}
		if cs.SharedNetwork != nil {
			s.Network = shared[cs.SharedNetwork]
			s.Network.Subnets = append(s.Network.Subnets, s)
		}
		n.Subnets = append(n.Subnets, s)
	}
	return n, nil
}

// subnet resolves one subnet's parameters: its own, else its shared
// network's, else the global ones, else Kea's defaults.
func subnet(cfg *config.Dhcp4, cs *config.Subnet) (*Subnet, error) {
	scopes := []*config.Params{&cs.Params}
	if cs.SharedNetwork != nil {
		scopes = append(scopes, &cs.SharedNetwork.Params)
	}
	scopes = append(scopes, &cfg.Params)
	u32 := func(get func(*config.Params) *uint32) *uint32 {
		for _, p := range scopes {
			if v := get(p); v != nil {
				return v
			}
		}
		return nil
	}
	boolean := func(def bool, get func(*config.Params) *bool) bool {
		for _, p := range scopes {
			if v := get(p); v != nil {
				return *v
			}
		}
		return def
	}
	float := func(def float64, get func(*config.Params) *float64) float64 {
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

	s := &Subnet{
		ID:                    cs.ID,
		Prefix:                cs.Prefix,
		Interface:             cs.Interface,
		Relay:                 cs.Relay,
		Options:               options(cs.OptionData),
		Reservations:          reservations(cs.Reservations),
		CalculateTee:          boolean(false, func(p *config.Params) *bool { return p.CalculateTeeTimes }),
		T1Percent:             float(defaultT1Percent, func(p *config.Params) *float64 { return p.T1Percent }),
		T2Percent:             float(defaultT2Percent, func(p *config.Params) *float64 { return p.T2Percent }),
		CacheThreshold:        float(defaultCacheThreshold, func(p *config.Params) *float64 { return p.CacheThreshold }),
		MatchClientID:         boolean(true, func(p *config.Params) *bool { return p.MatchClientID }),
		Authoritative:         boolean(false, func(p *config.Params) *bool { return p.Authoritative }),
		ReservationsGlobal:    boolean(false, func(p *config.Params) *bool { return p.ReservationsGlobal }),
		ReservationsInSubnet:  boolean(true, func(p *config.Params) *bool { return p.ReservationsInSubnet }),
		ReservationsOutOfPool: boolean(false, func(p *config.Params) *bool { return p.ReservationsOutOfPool }),
		ServerHostname:        str(func(p *config.Params) *string { return p.ServerHostname }),
		BootFileName:          str(func(p *config.Params) *string { return p.BootFileName }),
	}
	s.Valid = Lifetime{Default: defaultValid, Min: defaultValid, Max: defaultValid}
	for _, p := range scopes {
		// The triplet is inherited whole from the most specific scope
		// that sets any part of it.
		if lt, ok, err := triplet(p); err != nil {
			return nil, fmt.Errorf("dhcp4: subnet %d (%s): %w", cs.ID, cs.Prefix, err)
		} else if ok {
			s.Valid = lt
			break
		}
	}
	if v := u32(func(p *config.Params) *uint32 { return p.RenewTimer }); v != nil {
		s.T1 = Timer{Set: true, Secs: *v}
	}
	if v := u32(func(p *config.Params) *uint32 { return p.RebindTimer }); v != nil {
		s.T2 = Timer{Set: true, Secs: *v}
	}
	if v := u32(func(p *config.Params) *uint32 { return p.CacheMaxAge }); v != nil {
		s.CacheMaxAge = Timer{Set: true, Secs: *v}
	}
	for _, p := range scopes {
		if p.NextServer != nil {
			s.NextServer = *p.NextServer
			break
		}
	}
	kind, err := alloc.ParseKind(str(func(p *config.Params) *string { return p.Allocator }))
	if err != nil {
		return nil, fmt.Errorf("dhcp4: subnet %d (%s): %w", cs.ID, cs.Prefix, err)
	}
	s.Allocator = kind
	if cs.ClientClass != "" {
		s.ClientClasses = []string{cs.ClientClass}
	}
	for _, cp := range cs.Pools {
		s.Pools = append(s.Pools, &Pool{
			First:         cp.First,
			Last:          cp.Last,
			ID:            cp.ID,
			Options:       options(cp.OptionData),
			ClientClasses: cp.ClientClasses,
		})
	}
	return s, nil
}

// triplet reads one scope's valid-lifetime triplet as Kea's
// parseIntTriplet does: missing bounds default to the value, a missing
// value to the single bound given.
func triplet(p *config.Params) (Lifetime, bool, error) {
	v, lo, hi := p.ValidLifetime, p.MinValidLifetime, p.MaxValidLifetime
	switch {
	case v == nil && lo == nil && hi == nil:
		return Lifetime{}, false, nil
	case v != nil:
		lt := Lifetime{Default: *v, Min: *v, Max: *v}
		if lo != nil {
			lt.Min = *lo
		}
		if hi != nil {
			lt.Max = *hi
		}
		if lt.Default < lt.Min || lt.Default > lt.Max {
			return Lifetime{}, false, fmt.Errorf("valid-lifetime %d is not between min-valid-lifetime %d and max-valid-lifetime %d", lt.Default, lt.Min, lt.Max)
		}
		return lt, true, nil
	case lo != nil && hi != nil:
		return Lifetime{}, false, fmt.Errorf("min-valid-lifetime and max-valid-lifetime are set but valid-lifetime is not; set it too")
	case lo != nil:
		return Lifetime{Default: *lo, Min: *lo, Max: *lo}, true, nil
	}
	return Lifetime{Default: *hi, Min: *hi, Max: *hi}, true, nil
}

// options keeps the dhcp4-space options; their payloads are already
// encoded by the config parser.
func options(ods []config.OptionData) []Option {
	var out []Option
	for _, od := range ods {
		if od.Space != "" && od.Space != "dhcp4" {
			continue
		}
		out = append(out, Option{
			Code:       od.Code,
			Data:       od.Payload,
			AlwaysSend: od.AlwaysSend,
			NeverSend:  od.NeverSend,
		})
	}
	return out
}

func reservations(crs []config.Reservation) []*Reservation {
	out := make([]*Reservation, 0, len(crs))
	for _, cr := range crs {
		out = append(out, &Reservation{
			HWAddr:         cr.HWAddr,
			DUID:           cr.DUID,
			CircuitID:      cr.CircuitID,
			ClientID:       cr.ClientID,
			FlexID:         cr.FlexID,
			Addr:           cr.IPAddress,
			Hostname:       cr.Hostname,
			Options:        options(cr.OptionData),
			NextServer:     cr.NextServer,
			ServerHostname: cr.ServerHostname,
			BootFileName:   cr.BootFileName,
			ClientClasses:  cr.ClientClasses,
		})
	}
	return out
}

func pick(def bool, v *bool) bool {
	if v == nil {
		return def
	}
	return *v
}
