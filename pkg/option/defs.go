// Package option knows Kea's DHCPv4 option definitions and turns the
// `data` text of an option-data entry into the bytes sent on the wire, with
// Kea's rules: comma-separated values for arrays, hex when csv-format is
// false.
package option

import (
	"fmt"
	"sort"
	"strings"
)

// Type is one of Kea's option data type names.
type Type string

// Kea's option data types.
const (
	Empty       Type = "empty"
	Binary      Type = "binary"
	Boolean     Type = "boolean"
	Int8        Type = "int8"
	Int16       Type = "int16"
	Int32       Type = "int32"
	Uint8       Type = "uint8"
	Uint16      Type = "uint16"
	Uint32      Type = "uint32"
	IPv4Address Type = "ipv4-address"
	IPv6Address Type = "ipv6-address"
	IPv6Prefix  Type = "ipv6-prefix"
	PSID        Type = "psid"
	String      Type = "string"
	Tuple       Type = "tuple"
	FQDN        Type = "fqdn"
	Record      Type = "record"
	Internal    Type = "internal"
)

var types = map[Type]bool{Empty: true, Binary: true, Boolean: true, Int8: true, Int16: true, Int32: true,
	Uint8: true, Uint16: true, Uint32: true, IPv4Address: true, IPv6Address: true, IPv6Prefix: true,
	PSID: true, String: true, Tuple: true, FQDN: true, Record: true, Internal: true}

// ParseType checks a type name from an option-def entry. "internal" is
// Kea's own type for options with a special text form and cannot be
// given in an option-def.
func ParseType(s string) (Type, error) {
	if !types[Type(s)] || s == string(Internal) {
		return "", fmt.Errorf("%q is not an option data type; expected one of binary, boolean, empty, fqdn, int8, int16, int32, ipv4-address, ipv6-address, ipv6-prefix, psid, record, string, tuple, uint8, uint16, uint32", s)
	}
	return Type(s), nil
}

// Def is one option definition: what Kea's option-def entries and its
// built-in table say about an option code in a space.
type Def struct {
	Name  string
	Code  uint8
	Space string
	Type  Type
	// Array makes the option a list of Type values; for a record, the
	// last field repeats.
	Array       bool
	RecordTypes []Type
	// Encapsulate names the space of the option's sub-options, if any.
	Encapsulate string
}

// The option spaces twinleaf knows.
const (
	SpaceDHCP4     = "dhcp4"
	SpaceAgent     = "dhcp-agent-options-space"
	SpaceVendorEnc = "vendor-encapsulated-options-space"
	SpaceCableLabs = "cablelabs-client-conf"
)

// Defs is a registry of definitions by space, name and code. It is built
// once per configuration and only read afterwards.
type Defs struct {
	byName map[string]map[string]Def
	byCode map[string]map[uint8]Def
	added  map[string]map[uint8]bool // definitions that came from Add
}

// Std returns a fresh registry holding Kea's standard DHCPv4 definitions,
// the relay agent (option 82) sub-options and Kea's last-resort definition
// of option 43.
func Std() *Defs {
	d := &Defs{byName: map[string]map[string]Def{}, byCode: map[string]map[uint8]Def{}, added: map[string]map[uint8]bool{}}
	for _, def := range std {
		d.put(def)
	}
	return d
}

func (d *Defs) put(def Def) {
	if d.byName[def.Space] == nil {
		d.byName[def.Space] = map[string]Def{}
		d.byCode[def.Space] = map[uint8]Def{}
	}
	d.byName[def.Space][def.Name] = def
	d.byCode[def.Space][def.Code] = def
}

// Add registers an option-def entry after the checks Kea makes: a valid
// name and space, a shape Kea can encode, and no clash with a definition
// already in the space. Standard dhcp4 options cannot be redefined, except
// option 43, whose standard definition is only a last resort. Standard
// definitions in other spaces (the option 82 sub-options, which Kea 2.2
// does not have) give way to the configuration's, so 2.2 configurations
// that define them still load.
func (d *Defs) Add(def Def) error {
	if def.Space == "" {
		def.Space = SpaceDHCP4
	}
	if err := def.check(); err != nil {
		return err
	}
	if def.Space == SpaceDHCP4 && (def.Code == 0 || def.Code == 255) {
		return fmt.Errorf("option definition %q: code %d is reserved for %s; pick a code from 1 to 254",
			def.Name, def.Code, map[uint8]string{0: "PAD", 255: "END"}[def.Code])
	}
	replaceable := func(old Def) bool {
		return !d.added[old.Space][old.Code] && (old.Space != SpaceDHCP4 || old.Code == 43)
	}
	if old, ok := d.byName[def.Space][def.Name]; ok && !replaceable(old) {
		return fmt.Errorf("option definition %q in space %q: the name is already used by option %d; choose another name", def.Name, def.Space, old.Code)
	}
	if old, ok := d.byCode[def.Space][def.Code]; ok && !replaceable(old) {
		return fmt.Errorf("option definition %q in space %q: code %d is already defined as %q; choose another code", def.Name, def.Space, def.Code, old.Name)
	}
	if old, ok := d.byCode[def.Space][def.Code]; ok {
		delete(d.byName[def.Space], old.Name)
	}
	if old, ok := d.byName[def.Space][def.Name]; ok {
		delete(d.byCode[def.Space], old.Code)
	}
	d.put(def)
	if d.added[def.Space] == nil {
		d.added[def.Space] = map[uint8]bool{}
	}
	d.added[def.Space][def.Code] = true
	return nil
}

// check applies Kea's rules for a well-formed definition.
func (def Def) check() error {
	if !validName(def.Name) {
		return fmt.Errorf("option definition %q: invalid name; use letters, digits, '-' and '_', not starting or ending with '-' or '_'", def.Name)
	}
	if !validName(def.Space) {
		return fmt.Errorf("option definition %q: invalid space name %q", def.Name, def.Space)
	}
	if def.Encapsulate != "" && !validName(def.Encapsulate) {
		return fmt.Errorf("option definition %q: invalid encapsulated space name %q", def.Name, def.Encapsulate)
	}
	if !types[def.Type] {
		return fmt.Errorf("option definition %q: unknown type %q", def.Name, def.Type)
	}
	if def.Type != Record {
		if len(def.RecordTypes) > 0 {
			return fmt.Errorf("option definition %q: record-types given for type %s; use type record or drop record-types", def.Name, def.Type)
		}
		if def.Array && (def.Type == String || def.Type == Binary || def.Type == Empty) {
			return fmt.Errorf("option definition %q: an array of %s is not allowed; its items could not be told apart", def.Name, def.Type)
		}
		return nil
	}
	if len(def.RecordTypes) < 2 {
		return fmt.Errorf("option definition %q: a record needs at least 2 record-types, got %d", def.Name, len(def.RecordTypes))
	}
	for i, t := range def.RecordTypes {
		last := i == len(def.RecordTypes)-1
		switch {
		case t == Empty || t == Record || t == Internal || !types[t]:
			return fmt.Errorf("option definition %q: %q cannot be a record field", def.Name, t)
		case (t == String || t == Binary) && !last:
			return fmt.Errorf("option definition %q: a %s field can only be the last field of a record", def.Name, t)
		case (t == String || t == Binary) && def.Array:
			return fmt.Errorf("option definition %q: an array record cannot end in a %s field", def.Name, t)
		}
	}
	return nil
}

// validName is Kea's rule for option and space names.
func validName(s string) bool {
	if s == "" || strings.ContainsAny(s[:1], "-_") || strings.ContainsAny(s[len(s)-1:], "-_") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// ByName finds a definition by space and name.
func (d *Defs) ByName(space, name string) (Def, bool) {
	def, ok := d.byName[space][name]
	return def, ok
}

// ByCode finds a definition by space and code.
func (d *Defs) ByCode(space string, code uint8) (Def, bool) {
	def, ok := d.byCode[space][code]
	return def, ok
}

// Names lists the option names of a space, sorted, for "did you mean".
func (d *Defs) Names(space string) []string {
	out := make([]string, 0, len(d.byName[space]))
	for n := range d.byName[space] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// String describes a definition as Kea's docs do: "routers (3, ipv4-address array)".
func (def Def) String() string {
	t := string(def.Type)
	if def.Type == Record {
		parts := make([]string, len(def.RecordTypes))
		for i, r := range def.RecordTypes {
			parts[i] = string(r)
		}
		t = "record(" + strings.Join(parts, ", ") + ")"
	}
	if def.Array {
		t += " array"
	}
	return fmt.Sprintf("%s (%d, %s)", def.Name, def.Code, t)
}

func d4(code uint8, name string, t Type, array bool, rec ...Type) Def {
	return Def{Name: name, Code: code, Space: SpaceDHCP4, Type: t, Array: array, RecordTypes: rec}
}

func agent(code uint8, name string, t Type) Def {
	return Def{Name: name, Code: code, Space: SpaceAgent, Type: t}
}

// std is Kea's standard DHCPv4 option table as of Kea 3.0 (2.2 lacks 121,
// 122, 143, 151-157 and 162, and the option 82 sub-options), the option 82
// sub-options, and the last-resort definition of option 43. Arrays of
// records repeat their last field.
var std = []Def{
	d4(1, "subnet-mask", IPv4Address, false), d4(2, "time-offset", Int32, false),
	d4(3, "routers", IPv4Address, true), d4(4, "time-servers", IPv4Address, true),
	d4(5, "name-servers", IPv4Address, true), d4(6, "domain-name-servers", IPv4Address, true),
	d4(7, "log-servers", IPv4Address, true), d4(8, "cookie-servers", IPv4Address, true),
	d4(9, "lpr-servers", IPv4Address, true), d4(10, "impress-servers", IPv4Address, true),
	d4(11, "resource-location-servers", IPv4Address, true), d4(12, "host-name", String, false),
	d4(13, "boot-size", Uint16, false), d4(14, "merit-dump", String, false),
	d4(15, "domain-name", String, false), d4(16, "swap-server", IPv4Address, false),
	d4(17, "root-path", String, false), d4(18, "extensions-path", String, false),
	d4(19, "ip-forwarding", Boolean, false), d4(20, "non-local-source-routing", Boolean, false),
	d4(21, "policy-filter", IPv4Address, true), d4(22, "max-dgram-reassembly", Uint16, false),
	d4(23, "default-ip-ttl", Uint8, false), d4(24, "path-mtu-aging-timeout", Uint32, false),
	d4(25, "path-mtu-plateau-table", Uint16, true), d4(26, "interface-mtu", Uint16, false),
	d4(27, "all-subnets-local", Boolean, false), d4(28, "broadcast-address", IPv4Address, false),
	d4(29, "perform-mask-discovery", Boolean, false), d4(30, "mask-supplier", Boolean, false),
	d4(31, "router-discovery", Boolean, false), d4(32, "router-solicitation-address", IPv4Address, false),
	d4(33, "static-routes", IPv4Address, true), d4(34, "trailer-encapsulation", Boolean, false),
	d4(35, "arp-cache-timeout", Uint32, false), d4(36, "ieee802-3-encapsulation", Boolean, false),
	d4(37, "default-tcp-ttl", Uint8, false), d4(38, "tcp-keepalive-interval", Uint32, false),
	d4(39, "tcp-keepalive-garbage", Boolean, false), d4(40, "nis-domain", String, false),
	d4(41, "nis-servers", IPv4Address, true), d4(42, "ntp-servers", IPv4Address, true),
	{Name: "vendor-encapsulated-options", Code: 43, Space: SpaceDHCP4, Type: Empty, Encapsulate: SpaceVendorEnc},
	d4(44, "netbios-name-servers", IPv4Address, true), d4(45, "netbios-dd-server", IPv4Address, true),
	d4(46, "netbios-node-type", Uint8, false), d4(47, "netbios-scope", String, false),
	d4(48, "font-servers", IPv4Address, true), d4(49, "x-display-manager", IPv4Address, true),
	d4(50, "dhcp-requested-address", IPv4Address, false), d4(51, "dhcp-lease-time", Uint32, false),
	d4(52, "dhcp-option-overload", Uint8, false), d4(53, "dhcp-message-type", Uint8, false),
	d4(54, "dhcp-server-identifier", IPv4Address, false), d4(55, "dhcp-parameter-request-list", Uint8, true),
	d4(56, "dhcp-message", String, false), d4(57, "dhcp-max-message-size", Uint16, false),
	d4(58, "dhcp-renewal-time", Uint32, false), d4(59, "dhcp-rebinding-time", Uint32, false),
	d4(60, "vendor-class-identifier", String, false), d4(61, "dhcp-client-identifier", Binary, false),
	d4(62, "nwip-domain-name", String, false), d4(63, "nwip-suboptions", Binary, false),
	d4(64, "nisplus-domain-name", String, false), d4(65, "nisplus-servers", IPv4Address, true),
	d4(66, "tftp-server-name", String, false), d4(67, "boot-file-name", String, false),
	d4(68, "mobile-ip-home-agent", IPv4Address, true), d4(69, "smtp-server", IPv4Address, true),
	d4(70, "pop-server", IPv4Address, true), d4(71, "nntp-server", IPv4Address, true),
	d4(72, "www-server", IPv4Address, true), d4(73, "finger-server", IPv4Address, true),
	d4(74, "irc-server", IPv4Address, true), d4(75, "streettalk-server", IPv4Address, true),
	d4(76, "streettalk-directory-assistance-server", IPv4Address, true), d4(77, "user-class", Binary, false),
	d4(78, "slp-directory-agent", Record, true, Boolean, IPv4Address), d4(79, "slp-service-scope", Record, false, Boolean, String),
	d4(81, "fqdn", Record, false, Uint8, Uint8, Uint8, FQDN),
	{Name: "dhcp-agent-options", Code: 82, Space: SpaceDHCP4, Type: Empty, Encapsulate: SpaceAgent},
	d4(85, "nds-servers", IPv4Address, true), d4(86, "nds-tree-name", String, false),
	d4(87, "nds-context", String, false), d4(88, "bcms-controller-names", FQDN, true),
	d4(89, "bcms-controller-address", IPv4Address, true), d4(90, "authenticate", Binary, false),
	d4(91, "client-last-transaction-time", Uint32, false), d4(92, "associated-ip", IPv4Address, true),
	d4(93, "client-system", Uint16, true), d4(94, "client-ndi", Record, false, Uint8, Uint8, Uint8),
	d4(97, "uuid-guid", Record, false, Uint8, Binary), d4(98, "uap-servers", String, false),
	d4(99, "geoconf-civic", Binary, false), d4(100, "pcode", String, false), d4(101, "tcode", String, false),
	d4(108, "v6-only-preferred", Uint32, false), d4(112, "netinfo-server-address", IPv4Address, true),
	d4(113, "netinfo-server-tag", String, false), d4(114, "v4-captive-portal", String, false),
	d4(116, "auto-config", Uint8, false), d4(117, "name-service-search", Uint16, true),
	d4(118, "subnet-selection", IPv4Address, false), d4(119, "domain-search", FQDN, true),
	d4(121, "classless-static-route", Internal, false),
	{Name: "cablelabs-client-conf", Code: 122, Space: SpaceDHCP4, Type: Empty, Encapsulate: SpaceCableLabs},
	d4(124, "vivco-suboptions", Record, false, Uint32, Binary),
	d4(125, "vivso-suboptions", Uint32, false),
	d4(136, "pana-agent", IPv4Address, true), d4(137, "v4-lost", FQDN, false),
	d4(138, "capwap-ac-v4", IPv4Address, true), d4(141, "sip-ua-cs-domains", FQDN, true),
	d4(143, "v4-sztp-redirect", Tuple, true),
	d4(146, "rdnss-selection", Record, true, Uint8, IPv4Address, IPv4Address, FQDN),
	d4(151, "status-code", Record, false, Uint8, String), d4(152, "base-time", Uint32, false),
	d4(153, "start-time-of-state", Uint32, false), d4(154, "query-start-time", Uint32, false),
	d4(155, "query-end-time", Uint32, false), d4(156, "dhcp-state", Uint8, false),
	d4(157, "data-source", Uint8, false),
	d4(159, "v4-portparams", Record, false, Uint8, PSID),
	d4(162, "v4-dnr", Internal, false),
	d4(212, "option-6rd", Record, true, Uint8, Uint8, IPv6Address, IPv4Address),
	d4(213, "v4-access-domain", FQDN, false),

	agent(1, "circuit-id", Binary), agent(2, "remote-id", Binary), agent(4, "docsis-device-class", Uint32),
	agent(5, "link-selection", IPv4Address), agent(6, "subscriber-id", String), agent(7, "radius", Binary),
	agent(8, "auth", Binary), agent(9, "vendor-specific-info", Binary), agent(10, "relay-flags", Uint8),
	agent(11, "server-id-override", IPv4Address), agent(12, "relay-id", Binary),
	agent(13, "access-techno-type", Uint16), agent(14, "access-network-name", String),
	agent(15, "access-point-name", String), agent(16, "access-point-bssid", Binary),
	agent(17, "operator-id", Uint32), agent(18, "operator-realm", String), agent(19, "relay-port", Uint16),
	agent(151, "virtual-subnet-select", Binary), agent(152, "virtual-subnet-select-ctrl", Empty),
}
