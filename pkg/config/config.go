package config

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/twinleaf/twinleaf/pkg/option"
)

// Config is a parsed and checked configuration file.
type Config struct {
	// Source is the file it was read from.
	Source   string
	Dhcp4    Dhcp4
	Warnings []Warning
	// tree is the parsed document, for Effective.
	tree *Node
}

// Params are the settings a subnet inherits from its shared network and
// from the global scope; nil means "not set here".
type Params struct {
	ValidLifetime, MinValidLifetime, MaxValidLifetime *uint32
	RenewTimer, RebindTimer                           *uint32
	CalculateTeeTimes                                 *bool
	T1Percent, T2Percent                              *float64
	MatchClientID, Authoritative                      *bool
	NextServer                                        *netip.Addr
	ServerHostname, BootFileName                      *string
	ReservationsGlobal, ReservationsInSubnet          *bool
	ReservationsOutOfPool                             *bool
	Allocator                                         *string
	CacheThreshold                                    *float64
	CacheMaxAge                                       *uint32
	// pos records where each key above was set, for checks across keys.
	pos map[string]Pos
}

// Dhcp4 is the "Dhcp4" map.
type Dhcp4 struct {
	Params
	InterfacesConfig       InterfacesConfig
	ControlSockets         []ControlSocket
	LeaseDatabase          LeaseDatabase
	DeclineProbationPeriod uint32
	// ParkedPacketLimit bounds the replies held for the HA partner's
	// acknowledgement; 0 means no limit, as in Kea.
	ParkedPacketLimit          uint32
	EchoClientID               bool
	ExpiredLeasesProcessing    ExpiredLeasesProcessing
	MultiThreading             MultiThreading
	HooksLibraries             []HookLibrary
	LeaseCmds                  bool
	HA                         []HA
	Subnets                    []*Subnet // every subnet, those of shared networks included
	SharedNetworks             []*SharedNetwork
	OptionData                 []OptionData
	OptionDefs                 []option.Def
	Reservations               []Reservation
	HostReservationIdentifiers []string
	ServerTag                  string
	// StatisticDefaultSampleCount and -Age (seconds) are the sample limits
	// every statistic starts with; nil leaves Kea's 20 and 0.
	StatisticDefaultSampleCount *uint32
	StatisticDefaultSampleAge   *uint32
	Loggers                     []Logger
	// Options is the option registry with option-def entries added.
	Options *option.Defs
}

// InterfacesConfig is "interfaces-config".
type InterfacesConfig struct {
	Interfaces                  []string
	DHCPSocketType              string // raw or udp
	OutboundInterface           string // same-as-inbound or use-routing
	ReDetect                    bool
	ServiceSocketsRequireAll    bool
	ServiceSocketsMaxRetries    uint32
	ServiceSocketsRetryWaitTime uint32 // ms
}

// ControlSocket is one control-socket / control-sockets entry.
type ControlSocket struct {
	Pos                            Pos
	Type                           string // unix, http, https
	Name                           string // unix socket path
	Address                        string
	Port                           uint32
	TrustAnchor, CertFile, KeyFile string
	CertRequired                   bool
	Auth                           *Authentication
	Headers                        map[string]string
}

// Authentication is Kea's basic-auth block.
type Authentication struct {
	Type, Realm, Directory string
	Clients                []AuthClient
}

// AuthClient is one basic-auth user; files are read when the socket opens.
type AuthClient struct {
	User, UserFile, Password, PasswordFile string
}

// LeaseDatabase is "lease-database" (memfile only).
type LeaseDatabase struct {
	Type         string
	Name         string
	Persist      bool
	LFCInterval  uint32
	MaxRowErrors uint32
}

// ExpiredLeasesProcessing is Kea's six reclamation settings.
type ExpiredLeasesProcessing struct {
	ReclaimTimerWaitTime        uint32 // s
	FlushReclaimedTimerWaitTime uint32 // s
	HoldReclaimedTime           uint32 // s
	MaxReclaimLeases            uint32
	MaxReclaimTime              uint32 // ms
	UnwarnedReclaimCycles       uint32
}

// MultiThreading is "multi-threading".
type MultiThreading struct {
	Enable          bool
	ThreadPoolSize  uint32
	PacketQueueSize uint32
}

// HookLibrary is one hooks-libraries entry, mapped to a built-in module.
type HookLibrary struct {
	Library string
	Module  string // lease_cmds or ha
}

// Subnet is one subnet4 entry.
type Subnet struct {
	Params
	Pos          Pos
	ID           uint32
	Prefix       netip.Prefix
	Interface    string
	Relay        []netip.Addr
	Pools        []Pool
	OptionData   []OptionData
	Reservations []Reservation
	ClientClass  string
	// ClientClasses is Kea 3's list form; ClientClass is Kea 2.2's.
	ClientClasses []string
	SharedNetwork *SharedNetwork
	path          string
}

// SharedNetwork is one shared-networks entry.
type SharedNetwork struct {
	Params
	Name       string
	Interface  string
	Relay      []netip.Addr
	OptionData []OptionData
	Subnets    []*Subnet
	Pos        Pos
	path       string
}

// Pool is one pools entry, in range form.
type Pool struct {
	Pos           Pos
	First, Last   netip.Addr
	ID            uint32
	OptionData    []OptionData
	ClientClasses []string
	path          string
}

// OptionData is one option-data entry, already encoded.
type OptionData struct {
	Name       string
	Code       uint8
	Space      string
	Data       string
	CSVFormat  bool
	AlwaysSend bool
	NeverSend  bool
	Payload    []byte
}

// Reservation is one host reservation.
type Reservation struct {
	Pos            Pos
	HWAddr         net.HardwareAddr
	ClientID       []byte
	DUID           []byte
	CircuitID      []byte
	FlexID         []byte
	IPAddress      netip.Addr
	Hostname       string
	OptionData     []OptionData
	NextServer     netip.Addr
	ServerHostname string
	BootFileName   string
	ClientClasses  []string
	path           string
}

// Logger is one loggers entry.
type Logger struct {
	Name       string
	Severity   string
	DebugLevel int
	Outputs    []LogOutput
}

// LogOutput is one output-options entry.
type LogOutput struct {
	Output  string
	MaxSize uint64
	MaxVer  int
	Flush   bool
	Pattern string
}

// Load reads, checks and fills in defaults for the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for a file already in memory; includes are relative to
// file's directory.
func Parse(file string, data []byte) (*Config, error) {
	tree, err := parseJSON(file, data)
	if err != nil {
		return nil, Errors{err.(*Error)}
	}
	d := &dec{}
	c := &Config{Source: file, tree: tree}
	c.Dhcp4 = defaults()
	d.object(tree, "", map[string]field{
		"Dhcp4": func(v *Node, p string) { d.dhcp4(v, "Dhcp4", &c.Dhcp4) },
		// Kea's other daemons' sections may share the file; kea-dhcp4
		// skips them and so do we.
		"Dhcp6":         d.ignored("the Dhcp6 section belongs to kea-dhcp6"),
		"DhcpDdns":      d.ignored("the DhcpDdns section belongs to kea-dhcp-ddns"),
		"Control-agent": d.ignored("the Control-agent section belongs to kea-ctrl-agent"),
	})
	if tree.Kind == Object && tree.Get("Dhcp4") == nil {
		d.errf(tree, "", "no \"Dhcp4\" map; a kea-dhcp4 configuration is { \"Dhcp4\": { ... } }")
	}
	if len(d.errs) == 0 {
		validate(d, &c.Dhcp4)
	}
	c.Warnings = d.warns
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return c, nil
}

// defaults are Kea's global defaults (kea-facts §6.7 and the parsers).
func defaults() Dhcp4 {
	return Dhcp4{
		InterfacesConfig: InterfacesConfig{DHCPSocketType: "raw", OutboundInterface: "same-as-inbound",
			ReDetect: true, ServiceSocketsMaxRetries: 0, ServiceSocketsRetryWaitTime: 5000},
		LeaseDatabase:          LeaseDatabase{Type: "memfile", Name: "/var/lib/kea/kea-leases4.csv", Persist: true, LFCInterval: 3600},
		DeclineProbationPeriod: 86400,
		ParkedPacketLimit:      256,
		EchoClientID:           true,
		ExpiredLeasesProcessing: ExpiredLeasesProcessing{ReclaimTimerWaitTime: 10, FlushReclaimedTimerWaitTime: 25,
			HoldReclaimedTime: 3600, MaxReclaimLeases: 100, MaxReclaimTime: 250, UnwarnedReclaimCycles: 5},
		MultiThreading: MultiThreading{Enable: false, ThreadPoolSize: 0, PacketQueueSize: 64},
		Options:        option.Std(),
	}
}

// params decodes the inheritable keys of a scope, remembering where each
// was set so that checks across keys can point at them.
func (d *dec) params(p *Params) map[string]field {
	fields := d.paramFields(p)
	for k, f := range fields {
		fields[k] = func(v *Node, path string) {
			if p.pos == nil {
				p.pos = map[string]Pos{}
			}
			p.pos[k] = v.Pos
			f(v, path)
		}
	}
	return fields
}

func (d *dec) paramFields(p *Params) map[string]field {
	return map[string]field{
		"valid-lifetime":           d.u32p(&p.ValidLifetime),
		"min-valid-lifetime":       d.u32p(&p.MinValidLifetime),
		"max-valid-lifetime":       d.u32p(&p.MaxValidLifetime),
		"renew-timer":              d.u32p(&p.RenewTimer),
		"rebind-timer":             d.u32p(&p.RebindTimer),
		"calculate-tee-times":      d.boolp(&p.CalculateTeeTimes),
		"t1-percent":               d.f64p(&p.T1Percent, 0, 1),
		"t2-percent":               d.f64p(&p.T2Percent, 0, 1),
		"match-client-id":          d.boolp(&p.MatchClientID),
		"authoritative":            d.boolp(&p.Authoritative),
		"next-server":              d.addrp(&p.NextServer),
		"server-hostname":          d.strp(&p.ServerHostname),
		"boot-file-name":           d.strp(&p.BootFileName),
		"reservations-global":      d.boolp(&p.ReservationsGlobal),
		"reservations-in-subnet":   d.boolp(&p.ReservationsInSubnet),
		"reservations-out-of-pool": d.boolp(&p.ReservationsOutOfPool),
		"allocator": func(v *Node, path string) {
			var s string
			d.oneOf(&s, "iterative", "random", "flq")(v, path)
			if s != "" {
				p.Allocator = &s
			}
		},
		"cache-threshold": d.f64p(&p.CacheThreshold, 0, 1),
		"cache-max-age":   d.u32p(&p.CacheMaxAge),
	}
}

func merge(dst, src map[string]field) map[string]field {
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

func (d *dec) dhcp4(n *Node, path string, c *Dhcp4) {
	// option-def first, so option-data below can use the definitions.
	if od := n.Get("option-def"); n.Kind == Object && od != nil {
		d.optionDefs(od, path+"/option-def", c)
	}
	fields := merge(d.params(&c.Params), map[string]field{
		"interfaces-config":              func(v *Node, p string) { d.interfaces(v, p, &c.InterfacesConfig) },
		"control-socket":                 func(v *Node, p string) { d.controlSocket(v, p, c) },
		"control-sockets":                func(v *Node, p string) { d.list(v, p, func(_ int, e *Node, ep string) { d.controlSocket(e, ep, c) }) },
		"lease-database":                 func(v *Node, p string) { d.leaseDatabase(v, p, &c.LeaseDatabase) },
		"decline-probation-period":       d.u32(&c.DeclineProbationPeriod, 0, math.MaxUint32),
		"parked-packet-limit":            d.u32(&c.ParkedPacketLimit, 0, math.MaxUint32),
		"echo-client-id":                 d.boolean(&c.EchoClientID),
		"expired-leases-processing":      func(v *Node, p string) { d.expired(v, p, &c.ExpiredLeasesProcessing) },
		"multi-threading":                func(v *Node, p string) { d.multiThreading(v, p, &c.MultiThreading) },
		"hooks-libraries":                func(v *Node, p string) { d.hooks(v, p, c) },
		"subnet4":                        func(v *Node, p string) { d.subnets(v, p, c, nil) },
		"shared-networks":                func(v *Node, p string) { d.sharedNetworks(v, p, c) },
		"option-data":                    func(v *Node, p string) { c.OptionData = d.optionData(v, p, c.Options) },
		"option-def":                     func(*Node, string) {}, // decoded above
		"reservations":                   func(v *Node, p string) { c.Reservations = d.reservations(v, p, c.Options) },
		"host-reservation-identifiers":   func(v *Node, p string) { d.hostIDs(v, p, c) },
		"server-tag":                     d.str(&c.ServerTag),
		"statistic-default-sample-count": d.u32p(&c.StatisticDefaultSampleCount),
		"statistic-default-sample-age":   d.u32p(&c.StatisticDefaultSampleAge),
		"loggers":                        func(v *Node, p string) { d.loggers(v, p, c) },
		"reservation-mode":               func(v *Node, p string) { d.reservationMode(v, p, &c.Params) },
	})
	d.object(n, path, d.withKeaDefaults(fields, kea22Globals))
	if n.Kind == Object && n.Get("control-socket") != nil && n.Get("control-sockets") != nil {
		d.errf(n.Get("control-sockets"), path+"/control-sockets", "use either control-socket (Kea 2.2) or control-sockets (Kea 3), not both")
	}
}

// keaSubnetDefaults and keaNetworkDefaults are, like kea22Globals, keys
// Kea's config-get prints in subnets and shared networks at defaults that
// twinleaf's behaviour already matches.
var (
	keaSubnetDefaults  = map[string]any{"4o6-interface": "", "4o6-interface-id": "", "4o6-subnet": "", "store-extended-info": false}
	keaNetworkDefaults = map[string]any{"store-extended-info": false}
)

// withKeaDefaults accepts the keys Kea's config-get prints at their
// defaults, so a file written by config-write (Kea's or ours) loads: at
// the default value they change nothing; any other value is not yet
// handled and is refused.
func (d *dec) withKeaDefaults(fields map[string]field, defaults map[string]any) map[string]field {
	for k, def := range defaults {
		if _, ok := fields[k]; !ok {
			fields[k] = d.atDefault(k, def)
		}
	}
	return fields
}

// atDefault accepts a key only at Kea's default value.
func (d *dec) atDefault(key string, def any) field {
	return func(v *Node, path string) {
		want, _ := json.Marshal(jsonValue(def))
		got, _ := json.Marshal(toAny(v))
		if !jsonEqual(want, got) {
			d.errs = append(d.errs, &Error{Pos: v.Pos, Path: path,
				Msg: fmt.Sprintf("supported by Kea, not yet by twinleaf: %s; remove it, or leave it at Kea's default %s (see the README for what twinleaf supports)", key, want)})
		}
	}
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func (d *dec) interfaces(n *Node, path string, ic *InterfacesConfig) {
	d.object(n, path, map[string]field{
		"interfaces":                      d.strList(&ic.Interfaces),
		"dhcp-socket-type":                d.oneOf(&ic.DHCPSocketType, "raw", "udp"),
		"outbound-interface":              d.oneOf(&ic.OutboundInterface, "same-as-inbound", "use-routing"),
		"re-detect":                       d.boolean(&ic.ReDetect),
		"service-sockets-require-all":     d.boolean(&ic.ServiceSocketsRequireAll),
		"service-sockets-max-retries":     d.u32(&ic.ServiceSocketsMaxRetries, 0, math.MaxUint32),
		"service-sockets-retry-wait-time": d.u32(&ic.ServiceSocketsRetryWaitTime, 0, math.MaxUint32),
	})
	if n.Kind == Object && n.Get("interfaces") == nil {
		d.errf(n, path, "\"interfaces\" is missing; list the interfaces to serve, e.g. [ \"eth0\" ]")
	}
	for i, s := range ic.Interfaces {
		name, addr, ok := strings.Cut(s, "/")
		if name == "" {
			d.errf(n.Get("interfaces").Items[i], fmt.Sprintf("%s/interfaces[%d]", path, i), "%q has no interface name", s)
			continue
		}
		if ok {
			if a, err := netip.ParseAddr(addr); err != nil || !a.Is4() {
				d.errf(n.Get("interfaces").Items[i], fmt.Sprintf("%s/interfaces[%d]", path, i),
					"%q: %q is not an IPv4 address; use the form \"eth0/192.168.1.2\"", s, addr)
			}
		}
	}
}

func (d *dec) controlSocket(n *Node, path string, c *Dhcp4) {
	cs := ControlSocket{Pos: n.Pos, Address: "127.0.0.1", Port: 8000, CertRequired: true}
	d.object(n, path, map[string]field{
		"socket-type":    d.oneOf(&cs.Type, "unix", "http", "https"),
		"socket-name":    d.str(&cs.Name),
		"socket-address": d.str(&cs.Address),
		"socket-port":    d.u32(&cs.Port, 1, 65535),
		"trust-anchor":   d.str(&cs.TrustAnchor),
		"cert-file":      d.str(&cs.CertFile),
		"key-file":       d.str(&cs.KeyFile),
		"cert-required":  d.boolean(&cs.CertRequired),
		"authentication": func(v *Node, p string) { cs.Auth = d.authentication(v, p) },
		"http-headers": func(v *Node, p string) {
			cs.Headers = map[string]string{}
			d.list(v, p, func(_ int, e *Node, ep string) {
				var name, value string
				d.object(e, ep, map[string]field{"name": d.str(&name), "value": d.str(&value)})
				cs.Headers[name] = value
			})
		},
	})
	if n.Kind != Object {
		return
	}
	switch cs.Type {
	case "":
		d.errf(n, path, "\"socket-type\" is missing; use unix, http or https")
	case "unix":
		if cs.Name == "" {
			d.errf(n, path, "a unix control socket needs \"socket-name\", the socket's path")
		}
	default:
		if n.Get("socket-name") != nil {
			d.errf(n.Get("socket-name"), path+"/socket-name", "\"socket-name\" is for unix sockets; an %s socket uses socket-address and socket-port", cs.Type)
		}
		if a, err := netip.ParseAddr(cs.Address); err != nil {
			d.errf(n, path+"/socket-address", "%q is not an IP address", cs.Address)
		} else {
			cs.Address = a.String()
		}
		set := 0
		for _, f := range []string{cs.TrustAnchor, cs.CertFile, cs.KeyFile} {
			if f != "" {
				set++
			}
		}
		if set != 0 && set != 3 {
			d.errf(n, path, "TLS needs all three of trust-anchor, cert-file and key-file, or none")
		}
		if cs.Type == "https" && set != 3 {
			d.errf(n, path, "an https control socket needs trust-anchor, cert-file and key-file")
		}
		if set == 0 && cs.Auth == nil {
			d.warnf(n.Pos, path, "HTTP control socket on %s:%d has neither TLS nor authentication: anyone who can reach it controls the server", cs.Address, cs.Port)
		}
	}
	c.ControlSockets = append(c.ControlSockets, cs)
}

func (d *dec) authentication(n *Node, path string) *Authentication {
	a := &Authentication{Realm: "kea-dhcpv4-server"}
	d.object(n, path, map[string]field{
		"type":      d.oneOf(&a.Type, "basic"),
		"realm":     d.str(&a.Realm),
		"directory": d.str(&a.Directory),
		"clients": func(v *Node, p string) {
			d.list(v, p, func(_ int, e *Node, ep string) {
				var cl AuthClient
				d.object(e, ep, map[string]field{"user": d.str(&cl.User), "user-file": d.str(&cl.UserFile),
					"password": d.str(&cl.Password), "password-file": d.str(&cl.PasswordFile)})
				// A password-file alone holds "user:password", as in Kea.
				if cl.User == "" && cl.UserFile == "" && cl.PasswordFile == "" {
					d.errf(e, ep, "a client needs \"user\" or \"user-file\" (or a \"password-file\" holding user:password)")
				}
				if strings.Contains(cl.User, ":") {
					d.errf(e, ep+"/user", "user names may not contain ':'")
				}
				a.Clients = append(a.Clients, cl)
			})
		},
	})
	if n.Kind == Object && a.Type == "" {
		d.errf(n, path, "\"type\" is missing; Kea supports \"basic\"")
	}
	return a
}

func (d *dec) leaseDatabase(n *Node, path string, l *LeaseDatabase) {
	d.object(n, path, map[string]field{
		"type": func(v *Node, p string) {
			if v.Kind == String && (v.Text == "mysql" || v.Text == "postgresql") {
				d.errf(v, p, "supported by Kea, not yet by twinleaf: lease-database type %q; use \"memfile\"", v.Text)
				return
			}
			d.oneOf(&l.Type, "memfile")(v, p)
		},
		"name":                d.str(&l.Name),
		"persist":             d.boolean(&l.Persist),
		"lfc-interval":        d.u32(&l.LFCInterval, 0, math.MaxUint32),
		"max-row-errors":      d.u32(&l.MaxRowErrors, 0, math.MaxUint32),
		"max-reconnect-tries": d.ignored("meaningless for memfile"),
		"reconnect-wait-time": d.ignored("meaningless for memfile"),
	})
	if n.Kind == Object && n.Get("type") == nil {
		d.errf(n, path, "\"type\" is missing; twinleaf keeps leases in \"memfile\"")
	}
}

func (d *dec) expired(n *Node, path string, e *ExpiredLeasesProcessing) {
	d.object(n, path, map[string]field{
		"reclaim-timer-wait-time":         d.u32(&e.ReclaimTimerWaitTime, 0, 65535),
		"flush-reclaimed-timer-wait-time": d.u32(&e.FlushReclaimedTimerWaitTime, 0, 65535),
		"hold-reclaimed-time":             d.u32(&e.HoldReclaimedTime, 0, math.MaxUint32),
		"max-reclaim-leases":              d.u32(&e.MaxReclaimLeases, 0, math.MaxUint32),
		"max-reclaim-time":                d.u32(&e.MaxReclaimTime, 0, 10000),
		"unwarned-reclaim-cycles":         d.u32(&e.UnwarnedReclaimCycles, 0, 65535),
	})
}

func (d *dec) multiThreading(n *Node, path string, m *MultiThreading) {
	d.object(n, path, map[string]field{
		"enable-multi-threading": d.boolean(&m.Enable),
		"thread-pool-size":       d.u32(&m.ThreadPoolSize, 0, 65535),
		"packet-queue-size":      d.u32(&m.PacketQueueSize, 0, 65535),
	})
}

func (d *dec) hooks(n *Node, path string, c *Dhcp4) {
	d.list(n, path, func(_ int, e *Node, ep string) {
		var h HookLibrary
		var params *Node
		d.object(e, ep, map[string]field{
			"library":    d.str(&h.Library),
			"parameters": func(v *Node, p string) { params = v },
		})
		if e.Kind != Object {
			return
		}
		if h.Library == "" {
			d.errf(e, ep, "\"library\" is missing; give the hook library's path, e.g. \"libdhcp_ha.so\"")
			return
		}
		switch filepath.Base(h.Library) {
		case "libdhcp_lease_cmds.so":
			h.Module = "lease_cmds"
			c.LeaseCmds = true
			if params != nil {
				d.object(params, ep+"/parameters", map[string]field{})
			}
		case "libdhcp_ha.so":
			h.Module = "ha"
			if params == nil {
				d.errf(e, ep, "libdhcp_ha.so needs \"parameters\" with a \"high-availability\" list")
			} else {
				d.object(params, ep+"/parameters", map[string]field{
					"high-availability": func(v *Node, p string) {
						d.list(v, p, func(_ int, he *Node, hp string) { c.HA = append(c.HA, d.ha(he, hp)) })
					},
				})
			}
		default:
			d.errf(e.Get("library"), ep+"/library", "%s: twinleaf has libdhcp_lease_cmds.so and libdhcp_ha.so built in; it cannot load other hook libraries", h.Library)
			return
		}
		c.HooksLibraries = append(c.HooksLibraries, h)
	})
}

func (d *dec) hostIDs(n *Node, path string, c *Dhcp4) {
	d.strList(&c.HostReservationIdentifiers)(n, path)
	for i, id := range c.HostReservationIdentifiers {
		switch id {
		case "hw-address", "duid", "circuit-id", "client-id", "flex-id":
		default:
			d.errf(n.Items[i], fmt.Sprintf("%s[%d]", path, i), "%q is not a host identifier; use hw-address, duid, circuit-id, client-id or flex-id", id)
		}
	}
}

// reservationMode maps Kea 2.2's reservation-mode onto the 3.x flags.
func (d *dec) reservationMode(n *Node, path string, p *Params) {
	var mode string
	d.oneOf(&mode, "all", "out-of-pool", "global", "disabled")(n, path)
	t, f := true, false
	switch mode {
	case "all":
		p.ReservationsInSubnet, p.ReservationsOutOfPool, p.ReservationsGlobal = &t, &f, &f
	case "out-of-pool":
		p.ReservationsInSubnet, p.ReservationsOutOfPool, p.ReservationsGlobal = &t, &t, &f
	case "global":
		p.ReservationsInSubnet, p.ReservationsOutOfPool, p.ReservationsGlobal = &f, &f, &t
	case "disabled":
		p.ReservationsInSubnet, p.ReservationsOutOfPool, p.ReservationsGlobal = &f, &f, &f
	}
	if mode != "" {
		if p.pos == nil {
			p.pos = map[string]Pos{}
		}
		p.pos["reservation-mode"] = n.Pos
		d.warnf(n.Pos, path, "reservation-mode is Kea 2.2's form (Kea 3 removed it); prefer reservations-in-subnet, reservations-out-of-pool and reservations-global")
	}
}

func (d *dec) loggers(n *Node, path string, c *Dhcp4) {
	d.list(n, path, func(_ int, e *Node, ep string) {
		l := Logger{Severity: "INFO"}
		outputs := func(v *Node, p string) {
			d.list(v, p, func(_ int, o *Node, op string) {
				out := LogOutput{Flush: true, MaxSize: 10240000, MaxVer: 1}
				var maxsize uint32
				set := false
				d.object(o, op, map[string]field{
					"output":  d.str(&out.Output),
					"maxsize": func(v *Node, p string) { set = true; d.u32(&maxsize, 0, math.MaxUint32)(v, p) },
					"maxver":  d.intf(&out.MaxVer, 0, 2147483647),
					"flush":   d.boolean(&out.Flush),
					"pattern": d.str(&out.Pattern),
				})
				if set {
					out.MaxSize = uint64(maxsize)
				}
				if o.Kind == Object && out.Output == "" {
					d.errf(o, op, "\"output\" is missing; use a file path, stdout, stderr or syslog")
				}
				l.Outputs = append(l.Outputs, out)
			})
		}
		d.object(e, ep, map[string]field{
			"name":           d.str(&l.Name),
			"severity":       d.oneOf(&l.Severity, "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "NONE"),
			"debuglevel":     d.intf(&l.DebugLevel, 0, 99),
			"output-options": outputs,
			"output_options": outputs,
		})
		if e.Kind == Object && l.Name == "" {
			d.errf(e, ep, "\"name\" is missing; the DHCPv4 server's logger is \"kea-dhcp4\"")
		}
		if e.Kind == Object && e.Get("output-options") != nil && e.Get("output_options") != nil {
			d.errf(e.Get("output_options"), ep+"/output_options", "give output-options (Kea 3) or output_options (Kea 2.2), not both")
		}
		c.Loggers = append(c.Loggers, l)
	})
}

func (d *dec) optionDefs(n *Node, path string, c *Dhcp4) {
	d.list(n, path, func(_ int, e *Node, ep string) {
		var def option.Def
		var code uint32
		var typ, rec string
		d.object(e, ep, map[string]field{
			"name":         d.str(&def.Name),
			"code":         d.u32(&code, 1, 254),
			"type":         d.str(&typ),
			"array":        d.boolean(&def.Array),
			"record-types": d.str(&rec),
			"space":        d.str(&def.Space),
			"encapsulate":  d.str(&def.Encapsulate),
		})
		if e.Kind != Object {
			return
		}
		def.Code = uint8(code)
		t, err := option.ParseType(typ)
		if err != nil {
			d.errf(e, ep+"/type", "%v", err)
			return
		}
		def.Type = t
		for _, r := range strings.Split(rec, ",") {
			if r = strings.TrimSpace(r); r != "" {
				rt, err := option.ParseType(r)
				if err != nil {
					d.errf(e, ep+"/record-types", "%v", err)
					return
				}
				def.RecordTypes = append(def.RecordTypes, rt)
			}
		}
		if err := c.Options.Add(def); err != nil {
			d.errf(e, ep, "%v", err)
			return
		}
		c.OptionDefs = append(c.OptionDefs, def)
	})
}

func (d *dec) optionData(n *Node, path string, defs *option.Defs) []OptionData {
	var out []OptionData
	d.list(n, path, func(_ int, e *Node, ep string) {
		od := OptionData{Space: option.SpaceDHCP4, CSVFormat: true}
		var code uint32
		hasCode := false
		d.object(e, ep, map[string]field{
			"name":           d.str(&od.Name),
			"code":           func(v *Node, p string) { hasCode = true; d.u32(&code, 1, 254)(v, p) },
			"space":          d.str(&od.Space),
			"data":           d.str(&od.Data),
			"csv-format":     d.boolean(&od.CSVFormat),
			"always-send":    d.boolean(&od.AlwaysSend),
			"never-send":     d.boolean(&od.NeverSend),
			"client-classes": d.ignored("client-classes on options are evaluated with built-in classes only"),
		})
		if e.Kind != Object {
			return
		}
		var def option.Def
		var ok bool
		switch {
		case od.Name != "":
			def, ok = defs.ByName(od.Space, od.Name)
			if !ok {
				msg := fmt.Sprintf("no option %q in space %q", od.Name, od.Space)
				if s := suggest(od.Name, defs.Names(od.Space)); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else {
					msg += "; define it with option-def or use its code"
				}
				d.errf(e.Get("name"), ep+"/name", "%s", msg)
				return
			}
			if hasCode && uint32(def.Code) != code {
				d.errf(e.Get("code"), ep+"/code", "option %q has code %d, not %d", od.Name, def.Code, code)
				return
			}
		case hasCode:
			def, ok = defs.ByCode(od.Space, uint8(code))
			if !ok {
				if od.CSVFormat {
					d.errf(e, ep, "option code %d has no definition, so its data cannot be read as csv; set \"csv-format\": false and give hex data, or add an option-def", code)
					return
				}
				def = option.Def{Code: uint8(code), Space: od.Space, Type: option.Binary, Name: fmt.Sprintf("option-%d", code)}
			}
		default:
			d.errf(e, ep, "an option needs \"name\" or \"code\"")
			return
		}
		od.Name, od.Code = def.Name, def.Code
		payload, err := option.Encode(def, od.Data, od.CSVFormat)
		if err != nil {
			at := e.Get("data")
			if at == nil {
				at = e
			}
			d.errf(at, ep+"/data", "%v", err)
			return
		}
		od.Payload = payload
		out = append(out, od)
	})
	return out
}
