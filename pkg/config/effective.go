package config

import (
	"encoding/json"
	"strconv"
)

// Effective is the configuration as Kea's config-get returns it:
// {"Dhcp4": {...}} with the file's settings, comments gone, subnet ids
// assigned, and Kea's defaults filled in for global settings left out.
func (c *Config) Effective() map[string]any {
	dhcp4, _ := toAny(c.tree.Get("Dhcp4")).(map[string]any)
	if dhcp4 == nil {
		dhcp4 = map[string]any{}
	}
	d := &c.Dhcp4
	e := d.ExpiredLeasesProcessing
	defaults := map[string]any{
		"valid-lifetime":               7200,
		"decline-probation-period":     d.DeclineProbationPeriod,
		"echo-client-id":               d.EchoClientID,
		"match-client-id":              true,
		"authoritative":                false,
		"next-server":                  "0.0.0.0",
		"server-hostname":              "",
		"boot-file-name":               "",
		"server-tag":                   d.ServerTag,
		"calculate-tee-times":          false,
		"t1-percent":                   0.5,
		"t2-percent":                   0.875,
		"reservations-global":          false,
		"reservations-in-subnet":       true,
		"reservations-out-of-pool":     false,
		"host-reservation-identifiers": []any{"hw-address", "duid", "circuit-id", "client-id"},
		"option-data":                  []any{},
		"option-def":                   []any{},
		"shared-networks":              []any{},
		"subnet4":                      []any{},
		"hooks-libraries":              []any{},
		"expired-leases-processing": map[string]any{
			"reclaim-timer-wait-time":         e.ReclaimTimerWaitTime,
			"flush-reclaimed-timer-wait-time": e.FlushReclaimedTimerWaitTime,
			"hold-reclaimed-time":             e.HoldReclaimedTime,
			"max-reclaim-leases":              e.MaxReclaimLeases,
			"max-reclaim-time":                e.MaxReclaimTime,
			"unwarned-reclaim-cycles":         e.UnwarnedReclaimCycles,
		},
		"multi-threading": map[string]any{
			"enable-multi-threading": d.MultiThreading.Enable,
			"thread-pool-size":       d.MultiThreading.ThreadPoolSize,
			"packet-queue-size":      d.MultiThreading.PacketQueueSize,
		},
		"lease-database": map[string]any{
			"type": d.LeaseDatabase.Type, "name": d.LeaseDatabase.Name, "persist": d.LeaseDatabase.Persist,
			"lfc-interval": d.LeaseDatabase.LFCInterval, "max-row-errors": d.LeaseDatabase.MaxRowErrors,
		},
		"interfaces-config": map[string]any{
			"interfaces":                      []any{},
			"dhcp-socket-type":                d.InterfacesConfig.DHCPSocketType,
			"outbound-interface":              d.InterfacesConfig.OutboundInterface,
			"re-detect":                       d.InterfacesConfig.ReDetect,
			"service-sockets-require-all":     d.InterfacesConfig.ServiceSocketsRequireAll,
			"service-sockets-max-retries":     d.InterfacesConfig.ServiceSocketsMaxRetries,
			"service-sockets-retry-wait-time": d.InterfacesConfig.ServiceSocketsRetryWaitTime,
		},
	}
	for k, v := range defaults {
		cur, ok := dhcp4[k]
		if !ok {
			dhcp4[k] = jsonValue(v)
			continue
		}
		// Fill missing keys inside maps that were given in part.
		if cm, ok := cur.(map[string]any); ok {
			if dm, ok := v.(map[string]any); ok {
				for dk, dv := range dm {
					if _, set := cm[dk]; !set {
						cm[dk] = jsonValue(dv)
					}
				}
			}
		}
	}
	// Subnet ids as assigned, in file order (subnets of shared networks
	// live inside their network's map).
	i := 0
	setIDs := func(list any) {
		l, _ := list.([]any)
		for _, s := range l {
			if m, ok := s.(map[string]any); ok && i < len(d.Subnets) {
				m["id"] = json.Number(strconv.FormatUint(uint64(d.Subnets[i].ID), 10))
				i++
			}
		}
	}
	for _, sn := range toList(dhcp4["shared-networks"]) {
		if m, ok := sn.(map[string]any); ok {
			setIDs(m["subnet4"])
		}
	}
	setIDs(dhcp4["subnet4"])
	return map[string]any{"Dhcp4": dhcp4}
}

func toList(v any) []any { l, _ := v.([]any); return l }

// jsonValue turns Go numbers into json.Number so the document encodes
// without float formatting surprises.
func jsonValue(v any) any {
	switch t := v.(type) {
	case int:
		return json.Number(strconv.Itoa(t))
	case uint32:
		return json.Number(strconv.FormatUint(uint64(t), 10))
	case float64:
		return json.Number(strconv.FormatFloat(t, 'f', -1, 64))
	case map[string]any:
		m := map[string]any{}
		for k, e := range t {
			m[k] = jsonValue(e)
		}
		return m
	}
	return v
}

// toAny converts a parsed node to plain Go values, comments already gone.
func toAny(n *Node) any {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case Object:
		m := make(map[string]any, len(n.Members))
		for _, mem := range n.Members {
			m[mem.Key] = toAny(mem.Value)
		}
		return m
	case Array:
		l := make([]any, len(n.Items))
		for i, it := range n.Items {
			l[i] = toAny(it)
		}
		return l
	case String:
		return n.Text
	case Number:
		return json.Number(n.Text)
	case Bool:
		return n.Bool
	}
	return nil
}
