package config

import "strings"

// keaKeys are the configuration keys kea-dhcp4 knows (from its parser's
// keyword list). A key in this set that twinleaf does not handle where it
// appears is refused as "supported by Kea, not yet by twinleaf" rather than
// as unknown.
var keaKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range []string{
		"4o6-interface", "4o6-interface-id", "4o6-subnet", "Dhcp4", "adaptive-lease-time-threshold", "allocator", "always-send", "array", "authentication", "authoritative", "basic", "boot-file-name", "cache-max-age", "cache-threshold", "calculate-tee-times", "capacity", "cert-file", "cert-required", "cipher-list", "circuit-id", "client-class", "client-classes", "client-id", "clients", "code", "comment", "compatibility", "config-control", "config-databases", "config-fetch-wait-time", "connect-timeout", "control-sockets", "csv-format", "data", "ddns-conflict-resolution-mode", "ddns-generated-prefix", "ddns-override-client-update", "ddns-override-no-update", "ddns-qualifying-suffix", "ddns-replace-client-name", "ddns-send-updates", "ddns-ttl", "ddns-ttl-max", "ddns-ttl-min", "ddns-ttl-percent", "ddns-update-on-renew", "ddns-use-conflict-resolution", "debuglevel", "decline-probation-period", "dhcp-ddns", "dhcp-queue-control", "dhcp-socket-type", "dhcp4o6-port", "directory", "disable", "duid", "early-global-reservations-lookup", "echo-client-id", "enable-multi-threading", "enable-queue", "enable-updates", "encapsulate", "evaluate-additional-classes", "exclude-first-last-24", "expired-leases-processing", "extended-info-checks", "flex-id", "flush", "flush-reclaimed-timer-wait-time", "hold-reclaimed-time", "hooks-libraries", "host", "host-reservation-identifiers", "hostname", "hostname-char-replacement", "hostname-char-set", "hosts-database", "hosts-databases", "http", "http-headers", "https", "hw-address", "id", "ignore-dhcp-server-identifier", "ignore-rai-link-selection", "interface", "interfaces", "interfaces-config", "ip-address", "ip-addresses", "ip-reservations-unique", "key-file", "lease-checks", "lease-database", "lenient-option-parsing", "lfc-interval", "library", "loggers", "match-client-id", "max-queue-size", "max-reclaim-leases", "max-reclaim-time", "max-reconnect-tries", "max-row-errors", "max-valid-lifetime", "maxsize", "maxver", "min-valid-lifetime", "multi-threading", "name", "ncr-format", "ncr-protocol", "never-send", "next-server", "offer-lifetime", "on-fail", "only-if-required", "only-in-additional-list", "option-data", "option-def", "outbound-interface", "output", "output-options", "output_options", "packet-queue-size", "parameters", "parked-packet-limit", "password", "password-file", "pattern", "persist", "pool", "pool-id", "pools", "port", "prefer", "queue-type", "raw", "re-detect", "read-timeout", "readonly", "realm", "rebind-timer", "reclaim-timer-wait-time", "reconnect-wait-time", "record-types", "relay", "renew-timer", "require", "require-client-classes", "reservations", "reservations-global", "reservations-in-subnet", "reservations-lookup-first", "reservations-out-of-pool", "retry-on-startup", "same-as-inbound", "sanity-checks", "sender-ip", "sender-port", "serve-retry-continue", "serve-retry-exit", "server-hostname", "server-ip", "server-port", "server-tag", "service-sockets-max-retries", "service-sockets-require-all", "service-sockets-retry-wait-time", "severity", "shared-networks", "socket-address", "socket-name", "socket-port", "socket-type", "space", "ssl-mode", "stash-agent-options", "statistic-default-sample-age", "statistic-default-sample-count", "stop-retry-exit", "store-extended-info", "subnet", "subnet4", "t1-percent", "t2-percent", "tcp-user-timeout", "template-test", "test", "thread-pool-size", "trust-anchor", "type", "udp", "unix", "unwarned-reclaim-cycles", "use-routing", "user", "user-context", "user-file", "valid-lifetime", "value", "verify-ca", "verify-full", "write-timeout",
		"control-socket", "reservation-mode", "hostname-char-set", "hostname-char-replacement",
		"dhcp4o6-port", "client-classes", "option-def", "config-control",
	} {
		m[k] = true
	}
	return m
}()

// keaKeysAt are the keys Kea's parser accepts in each kind of map (the
// union of Kea 2.2's and 3.0's grammars). Where the kind of map is known,
// a key Kea takes elsewhere but not here is unknown, not "not yet".
var keaKeysAt = map[string]map[string]bool{
	"global":         set("allocator", "authoritative", "boot-file-name", "cache-max-age", "cache-threshold", "calculate-tee-times", "client-classes", "comment", "compatibility", "config-control", "control-socket", "control-sockets", "ddns-conflict-resolution-mode", "ddns-generated-prefix", "ddns-override-client-update", "ddns-override-no-update", "ddns-qualifying-suffix", "ddns-replace-client-name", "ddns-send-updates", "ddns-ttl", "ddns-ttl-max", "ddns-ttl-min", "ddns-ttl-percent", "ddns-update-on-renew", "ddns-use-conflict-resolution", "decline-probation-period", "dhcp-ddns", "dhcp-queue-control", "dhcp4o6-port", "early-global-reservations-lookup", "echo-client-id", "expired-leases-processing", "hooks-libraries", "host-reservation-identifiers", "hostname-char-replacement", "hostname-char-set", "hosts-database", "hosts-databases", "interfaces-config", "ip-reservations-unique", "lease-database", "loggers", "match-client-id", "max-valid-lifetime", "min-valid-lifetime", "multi-threading", "next-server", "offer-lifetime", "option-data", "option-def", "parked-packet-limit", "rebind-timer", "renew-timer", "reservation-mode", "reservations", "reservations-global", "reservations-in-subnet", "reservations-lookup-first", "reservations-out-of-pool", "sanity-checks", "server-hostname", "server-tag", "shared-networks", "stash-agent-options", "statistic-default-sample-age", "statistic-default-sample-count", "store-extended-info", "subnet4", "t1-percent", "t2-percent", "user-context", "valid-lifetime"),
	"subnet":         set("4o6-interface", "4o6-interface-id", "4o6-subnet", "allocator", "authoritative", "boot-file-name", "cache-max-age", "cache-threshold", "calculate-tee-times", "client-class", "client-classes", "comment", "ddns-conflict-resolution-mode", "ddns-generated-prefix", "ddns-override-client-update", "ddns-override-no-update", "ddns-qualifying-suffix", "ddns-replace-client-name", "ddns-send-updates", "ddns-ttl", "ddns-ttl-max", "ddns-ttl-min", "ddns-ttl-percent", "ddns-update-on-renew", "ddns-use-conflict-resolution", "evaluate-additional-classes", "hostname-char-replacement", "hostname-char-set", "id", "interface", "match-client-id", "max-valid-lifetime", "min-valid-lifetime", "next-server", "offer-lifetime", "option-data", "pools", "rebind-timer", "relay", "renew-timer", "require-client-classes", "reservation-mode", "reservations", "reservations-global", "reservations-in-subnet", "reservations-out-of-pool", "server-hostname", "store-extended-info", "subnet", "t1-percent", "t2-percent", "user-context", "valid-lifetime"),
	"shared":         set("allocator", "authoritative", "boot-file-name", "cache-max-age", "cache-threshold", "calculate-tee-times", "client-class", "client-classes", "comment", "ddns-conflict-resolution-mode", "ddns-generated-prefix", "ddns-override-client-update", "ddns-override-no-update", "ddns-qualifying-suffix", "ddns-replace-client-name", "ddns-send-updates", "ddns-ttl", "ddns-ttl-max", "ddns-ttl-min", "ddns-ttl-percent", "ddns-update-on-renew", "ddns-use-conflict-resolution", "evaluate-additional-classes", "hostname-char-replacement", "hostname-char-set", "interface", "match-client-id", "max-valid-lifetime", "min-valid-lifetime", "name", "next-server", "offer-lifetime", "option-data", "rebind-timer", "relay", "renew-timer", "require-client-classes", "reservation-mode", "reservations-global", "reservations-in-subnet", "reservations-out-of-pool", "server-hostname", "store-extended-info", "subnet4", "t1-percent", "t2-percent", "user-context", "valid-lifetime"),
	"pool":           set("client-class", "client-classes", "comment", "ddns-conflict-resolution-mode", "ddns-generated-prefix", "ddns-override-client-update", "ddns-override-no-update", "ddns-qualifying-suffix", "ddns-replace-client-name", "ddns-send-updates", "ddns-ttl", "ddns-ttl-max", "ddns-ttl-min", "ddns-ttl-percent", "ddns-update-on-renew", "evaluate-additional-classes", "hostname-char-replacement", "hostname-char-set", "option-data", "pool", "pool-id", "require-client-classes", "user-context"),
	"reservation":    set("boot-file-name", "circuit-id", "client-classes", "client-id", "comment", "duid", "flex-id", "hostname", "hw-address", "ip-address", "next-server", "option-data", "server-hostname", "user-context"),
	"optionData":     set("always-send", "client-classes", "code", "comment", "csv-format", "data", "name", "never-send", "space", "user-context"),
	"optionDef":      set("array", "code", "comment", "encapsulate", "name", "record-types", "space", "type", "user-context"),
	"interfaces":     set("comment", "dhcp-socket-type", "interfaces", "outbound-interface", "re-detect", "service-sockets-max-retries", "service-sockets-require-all", "service-sockets-retry-wait-time", "user-context"),
	"controlSocket":  set("authentication", "cert-file", "cert-required", "comment", "http-headers", "key-file", "socket-address", "socket-name", "socket-port", "socket-type", "trust-anchor", "user-context"),
	"database":       set("cert-file", "cipher-list", "connect-timeout", "host", "key-file", "lfc-interval", "max-reconnect-tries", "max-row-errors", "name", "on-fail", "password", "persist", "port", "read-timeout", "readonly", "reconnect-wait-time", "retry-on-startup", "tcp-user-timeout", "trust-anchor", "type", "user", "write-timeout"),
	"expired":        set("flush-reclaimed-timer-wait-time", "hold-reclaimed-time", "max-reclaim-leases", "max-reclaim-time", "reclaim-timer-wait-time", "unwarned-reclaim-cycles"),
	"multiThreading": set("comment", "enable-multi-threading", "packet-queue-size", "thread-pool-size", "user-context"),
	"logger":         set("comment", "debuglevel", "name", "output-options", "output_options", "severity", "user-context"),
	"output":         set("flush", "maxsize", "maxver", "output", "pattern"),
	"client":         set("comment", "password", "password-file", "user", "user-context", "user-file"),
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// contextOf names the kind of map at a key path, or "" when keaKeysAt has
// no list for it.
func contextOf(path string) string {
	if path == "Dhcp4" {
		return "global"
	}
	if path == "Dhcp4/multi-threading" {
		return "multiThreading"
	}
	last := path[strings.LastIndex(path, "/")+1:]
	if i := strings.IndexByte(last, '['); i >= 0 {
		last = last[:i]
	}
	switch last {
	case "subnet4":
		return "subnet"
	case "shared-networks":
		return "shared"
	case "pools":
		return "pool"
	case "reservations":
		return "reservation"
	case "option-data":
		return "optionData"
	case "option-def":
		return "optionDef"
	case "interfaces-config":
		return "interfaces"
	case "control-socket", "control-sockets":
		return "controlSocket"
	case "lease-database":
		return "database"
	case "expired-leases-processing":
		return "expired"
	case "loggers":
		return "logger"
	case "output-options", "output_options":
		return "output"
	case "clients":
		return "client"
	}
	return ""
}
