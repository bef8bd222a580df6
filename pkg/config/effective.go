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
		"parked-packet-limit":          d.ParkedPacketLimit,
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
		// Kea 2.2 prints the database and interface keys that were
		// configured, plus these.
		"lease-database": map[string]any{"type": d.LeaseDatabase.Type},
		"interfaces-config": map[string]any{
			"interfaces": []any{},
			"re-detect":  d.InterfacesConfig.ReDetect,
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
	for k, v := range kea22Globals {
		if _, ok := dhcp4[k]; !ok {
			dhcp4[k] = jsonValue(v)
		}
	}
	fillOptions(toList(dhcp4["option-data"]), d.OptionData)
	fillLoggers(maps(dhcp4["loggers"]))
	fillHosts(toList(dhcp4["reservations"]), d.Reservations)
	// The typed subnets and networks are in file order, as are the maps.
	var top []*Subnet
	for _, s := range d.Subnets {
		if s.SharedNetwork == nil {
			top = append(top, s)
		}
	}
	for i, m := range maps(dhcp4["shared-networks"]) {
		if i < len(d.SharedNetworks) {
			fillNetwork(m, d.SharedNetworks[i], &d.Params)
		}
	}
	for i, m := range maps(dhcp4["subnet4"]) {
		if i < len(top) {
			fillSubnet(m, top[i], &d.Params)
		}
	}
	return map[string]any{"Dhcp4": dhcp4}
}

// kea22Globals are the global settings Kea 2.2's config-get prints that
// the defaults above do not cover (checked against kea-dhcp4 2.2.0).
var kea22Globals = map[string]any{
	"ddns-generated-prefix":            "myhost",
	"ddns-override-client-update":      false,
	"ddns-override-no-update":          false,
	"ddns-qualifying-suffix":           "",
	"ddns-replace-client-name":         "never",
	"ddns-send-updates":                true,
	"ddns-update-on-renew":             false,
	"ddns-use-conflict-resolution":     true,
	"dhcp-ddns":                        map[string]any{"enable-updates": false, "max-queue-size": 1024, "ncr-format": "JSON", "ncr-protocol": "UDP", "sender-ip": "0.0.0.0", "sender-port": 0, "server-ip": "127.0.0.1", "server-port": 53001},
	"dhcp-queue-control":               map[string]any{"capacity": 64, "enable-queue": false, "queue-type": "kea-ring4"},
	"dhcp4o6-port":                     0,
	"early-global-reservations-lookup": false,
	"hostname-char-replacement":        "",
	"hostname-char-set":                "[^A-Za-z0-9.-]",
	"ip-reservations-unique":           true,
	"reservations-lookup-first":        false,
	"sanity-checks":                    map[string]any{"lease-checks": "warn"},
	"statistic-default-sample-age":     0,
	"statistic-default-sample-count":   20,
	"store-extended-info":              false,
}

func maps(v any) []map[string]any {
	var out []map[string]any
	for _, e := range toList(v) {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func setDefault(m map[string]any, k string, v any) {
	if _, ok := m[k]; !ok {
		m[k] = jsonValue(v)
	}
}

// inherited fills a network's or subnet's lifetimes and T1/T2 settings
// with what it inherits, as Kea's config-get shows them.
func inherited(m map[string]any, scopes ...*Params) {
	valid := uint32(7200)
	if v := firstU32(scopes, func(p *Params) *uint32 { return p.ValidLifetime }); v != nil {
		valid = *v
	}
	setDefault(m, "valid-lifetime", valid)
	// Kea 2.2 prints the renew and rebind timers a subnet inherits.
	for _, k := range []struct {
		key string
		get func(*Params) *uint32
	}{{"renew-timer", func(p *Params) *uint32 { return p.RenewTimer }},
		{"rebind-timer", func(p *Params) *uint32 { return p.RebindTimer }}} {
		if v := firstU32(scopes, k.get); v != nil {
			setDefault(m, k.key, *v)
		}
	}
	for _, k := range []struct {
		key string
		get func(*Params) *uint32
	}{{"min-valid-lifetime", func(p *Params) *uint32 { return p.MinValidLifetime }},
		{"max-valid-lifetime", func(p *Params) *uint32 { return p.MaxValidLifetime }}} {
		if v := firstU32(scopes, k.get); v != nil {
			setDefault(m, k.key, *v)
		} else {
			setDefault(m, k.key, valid)
		}
	}
	calc := false
	t1, t2 := 0.5, 0.875
	for i := len(scopes) - 1; i >= 0; i-- {
		p := scopes[i]
		if p.CalculateTeeTimes != nil {
			calc = *p.CalculateTeeTimes
		}
		if p.T1Percent != nil {
			t1 = *p.T1Percent
		}
		if p.T2Percent != nil {
			t2 = *p.T2Percent
		}
	}
	setDefault(m, "calculate-tee-times", calc)
	setDefault(m, "t1-percent", t1)
	setDefault(m, "t2-percent", t2)
	setDefault(m, "store-extended-info", false)
}

// firstU32 returns the value of the innermost scope that sets it.
func firstU32(scopes []*Params, get func(*Params) *uint32) *uint32 {
	for _, p := range scopes {
		if v := get(p); v != nil {
			return v
		}
	}
	return nil
}

func fillNetwork(m map[string]any, sn *SharedNetwork, global *Params) {
	inherited(m, &sn.Params, global)
	setDefault(m, "option-data", []any{})
	fillOptions(toList(m["option-data"]), sn.OptionData)
	fillRelay(m)
	for i, sm := range maps(m["subnet4"]) {
		if i < len(sn.Subnets) {
			fillSubnet(sm, sn.Subnets[i], global)
		}
	}
}

func fillSubnet(m map[string]any, s *Subnet, global *Params) {
	scopes := []*Params{&s.Params}
	if s.SharedNetwork != nil {
		scopes = append(scopes, &s.SharedNetwork.Params)
	}
	inherited(m, append(scopes, global)...)
	m["id"] = jsonValue(s.ID)
	m["subnet"] = s.Prefix.String()
	for _, k := range []string{"4o6-interface", "4o6-interface-id", "4o6-subnet"} {
		setDefault(m, k, "")
	}
	for _, k := range []string{"option-data", "pools", "reservations"} {
		setDefault(m, k, []any{})
	}
	fillOptions(toList(m["option-data"]), s.OptionData)
	for i, pm := range maps(m["pools"]) {
		setDefault(pm, "option-data", []any{})
		if i < len(s.Pools) {
			fillOptions(toList(pm["option-data"]), s.Pools[i].OptionData)
		}
	}
	fillHosts(toList(m["reservations"]), s.Reservations)
	fillRelay(m)
}

// fillRelay writes relay in Kea's list form, whichever form was given.
func fillRelay(m map[string]any) {
	r, _ := m["relay"].(map[string]any)
	addrs := toList(r["ip-addresses"])
	if a, ok := r["ip-address"]; ok {
		addrs = append(addrs, a)
	}
	if addrs == nil {
		addrs = []any{}
	}
	m["relay"] = map[string]any{"ip-addresses": addrs}
}

func fillOptions(list []any, opts []OptionData) {
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok || i >= len(opts) {
			continue
		}
		o := opts[i]
		m["name"], m["code"], m["space"] = o.Name, jsonValue(int(o.Code)), o.Space
		setDefault(m, "csv-format", true)
		setDefault(m, "always-send", false)
		setDefault(m, "data", "")
	}
}

func fillHosts(list []any, hosts []Reservation) {
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		for k, v := range map[string]any{"boot-file-name": "", "client-classes": []any{}, "hostname": "",
			"next-server": "0.0.0.0", "option-data": []any{}, "server-hostname": ""} {
			setDefault(m, k, v)
		}
		if i < len(hosts) {
			fillOptions(toList(m["option-data"]), hosts[i].OptionData)
		}
	}
}

func toList(v any) []any { l, _ := v.([]any); return l }

// jsonValue turns Go numbers into json.Number so the document encodes
// without float formatting surprises.
func jsonValue(v any) any {
	switch t := v.(type) {
	case int:
		return json.Number(strconv.Itoa(t))
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = jsonValue(e)
		}
		return l
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

// fillLoggers writes each logger's defaults, under whichever spelling of
// output options the file used.
func fillLoggers(loggers []map[string]any) {
	for _, l := range loggers {
		setDefault(l, "debuglevel", 0)
		setDefault(l, "severity", "INFO")
		for _, k := range []string{"output_options", "output-options"} {
			for _, o := range maps(l[k]) {
				setDefault(o, "flush", true)
				setDefault(o, "pattern", "")
				// Rotation applies to files only, and Kea prints it only there.
				switch out, _ := o["output"].(string); {
				case out == "stdout", out == "stderr", out == "syslog", len(out) > 7 && out[:7] == "syslog:":
				default:
					setDefault(o, "maxsize", 10240000)
					setDefault(o, "maxver", 1)
				}
			}
		}
	}
}
