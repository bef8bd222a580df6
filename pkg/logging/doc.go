// Package logging is kea-dhcp4's "loggers" configuration on top of
// hashicorp/go-hclog's conventions: named loggers in a hierarchy
// (kea-dhcp4, kea-dhcp4.leases, kea-dhcp4.ha-hooks, ...), Kea's severities
// and debug levels, and the outputs Kea supports (stdout, stderr, files
// rotated at maxsize keeping maxver old versions, syslog).
//
// Messages are identified the way Kea identifies them, by a stable ID such as
// DHCP4_LEASE_ALLOC whose text has %1, %2 ... placeholders. A call site names
// the ID and passes the arguments in Kea's order:
//
//	log.Info("DHCP4_LEASE_ALLOC", client, addr, lifetime)
//
// which prints, with Kea's default pattern,
//
//	2026-11-27 10:00:00.123 INFO  [kea-dhcp4.leases/1234.5678] DHCP4_LEASE_ALLOC [hwtype=1 aa:bb:cc:dd:ee:ff], cid=[no info], tid=0x1234: lease 192.168.1.100 has been allocated for 43200 seconds
//
// A call whose level is off costs one atomic load and a comparison: the
// arguments are formatted only when a line is written, and because the
// formatter knows its argument types statically (strings, integers, bools,
// netip.Addr, netip.Prefix, netip.AddrPort, net.HardwareAddr, []byte,
// time.Duration, time.Time) they do not escape, so a disabled call does not
// allocate. Pass errors and other values as err.Error() or v.String(); an
// unsupported type is printed as "%!(unsupported)" rather than through
// reflection, which would make every call allocate.
//
// Patterns: the log4cplus conversions Kea's defaults use are supported:
// %D{...} (local time) and %d{...} (UTC) with %Y %y %m %d %H %M %S %q (ms)
// %Q (ms with microseconds) and literal text, %p (severity), %c (logger),
// %i (process id), %t (thread id), %m (message), %n (newline), %% and a
// width such as %-5p or %20c. Any other conversion is a configuration error.
package logging
