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

// ParseType checks a type name from an option-def entry.
func ParseType(s string) (Type, error) {
	if !types[Type(s)] || s == string(Internal) {
		return "", fmt.Errorf("%q is not an option data type; expected one of binary, boolean, empty, fqdn, int8, int16, int32, ipv4-address, ipv6-address, ipv6-prefix, psid, record, string, tuple, uint8, uint16, uint32", s)
	}
	return Type(s), nil
}

// Def is one option definition.
type Def struct {
	Name        string
	Code        uint8
	Space       string
	Type        Type
	Array       bool
	RecordTypes []Type
	Encapsulate string
}

// The option spaces twinleaf knows.
const (
	SpaceDHCP4     = "dhcp4"
	SpaceAgent     = "dhcp-agent-options-space"
	SpaceVendorEnc = "vendor-encapsulated-options-space"
)

// Defs is a registry of definitions by space, name and code.
type Defs struct {
	byName map[string]map[string]Def
	byCode map[string]map[uint8]Def
}

// Std returns a fresh registry holding Kea's standard DHCPv4 definitions
// and the relay agent sub-options.
func Std() *Defs {
	d := &Defs{byName: map[string]map[string]Def{}, byCode: map[string]map[uint8]Def{}}
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

// Add registers an option-def entry. As in Kea, a definition may not reuse
// a standard option's name or code in the dhcp4 space, nor clash with an
// earlier definition.
func (d *Defs) Add(def Def) error {
	if def.Space == "" {
		def.Space = SpaceDHCP4
	}
	if def.Name == "" {
		return fmt.Errorf("option definition has no name")
	}
	if old, ok := d.byName[def.Space][def.Name]; ok {
		return fmt.Errorf("option definition %q in space %q clashes with the definition of option %d", def.Name, def.Space, old.Code)
	}
	if old, ok := d.byCode[def.Space][def.Code]; ok {
		return fmt.Errorf("option code %d in space %q is already defined as %q", def.Code, def.Space, old.Name)
	}
	if def.Space == SpaceDHCP4 && (def.Code == 0 || def.Code == 255) {
		return fmt.Errorf("option code %d is reserved (pad/end)", def.Code)
	}
	if def.Type == Record && len(def.RecordTypes) == 0 {
		return fmt.Errorf("option definition %q has type record but no record-types", def.Name)
	}
	d.put(def)
	return nil
}

// ByName finds a definition.
func (d *Defs) ByName(space, name string) (Def, bool) {
	def, ok := d.byName[space][name]
	return def, ok
}

// ByCode finds a definition.
func (d *Defs) ByCode(space string, code uint8) (Def, bool) {
	def, ok := d.byCode[space][code]
	return def, ok
}

// Names lists the option names of a space, sorted, for "did you mean".
func (d *Defs) Names(space string) []string {
	var out []string
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

// std is Kea's standard DHCPv4 option table (std_option_defs.h) and the
// option 82 sub-options.
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
	d4(78, "slp-directory-agent", Record, false, Boolean, IPv4Address), d4(79, "slp-service-scope", Record, false, Boolean, String),
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
	d4(124, "vivco-suboptions", Record, false, Uint32, Binary),
	d4(125, "vivso-suboptions", Uint32, false),
	d4(136, "pana-agent", IPv4Address, true), d4(137, "v4-lost", FQDN, false),
	d4(138, "capwap-ac-v4", IPv4Address, true), d4(141, "sip-ua-cs-domains", FQDN, true),
	d4(146, "rdnss-selection", Record, false, Uint8, IPv4Address, IPv4Address, FQDN),
	d4(159, "v4-portparams", Record, false, Uint8, PSID),
	d4(212, "option-6rd", Record, false, Uint8, Uint8, IPv6Address, IPv4Address),
	d4(213, "v4-access-domain", FQDN, false),

	agent(1, "circuit-id", Binary), agent(2, "remote-id", Binary), agent(4, "docsis-device-class", Uint32),
	agent(5, "link-selection", IPv4Address), agent(6, "subscriber-id", Binary), agent(7, "radius", Binary),
	agent(8, "auth", Binary), agent(9, "vendor-specific-info", Binary), agent(10, "relay-flags", Binary),
	agent(11, "server-id-override", IPv4Address), agent(12, "relay-id", Binary),
	agent(13, "access-techno-type", Uint16), agent(14, "access-network-name", String),
	agent(15, "access-point-name", String), agent(16, "access-point-bssid", Binary),
	agent(17, "operator-id", Uint32), agent(18, "operator-realm", String), agent(19, "relay-port", Uint16),
	agent(151, "virtual-subnet-select", Binary), agent(152, "virtual-subnet-select-ctrl", Empty),
}
