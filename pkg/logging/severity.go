package logging

import (
	"fmt"
	"strings"
)

// Severity is a Kea logging severity. Lower values are more verbose; a logger
// writes messages at or above its severity. None turns a logger off.
type Severity int32

// Kea's severities, in increasing order.
const (
	SevDebug Severity = iota
	SevInfo
	SevWarn
	SevError
	SevFatal
	SevNone
)

// Kea's debug levels (log_dbglevels and dhcp4_log): a debug message carries
// one, and is written only when the logger's severity is DEBUG and the
// message's level is at most the logger's debuglevel.
const (
	DbgStartShut        = 0
	DbgCommand          = 10
	DbgPacketHandling   = 15
	DbgCommandData      = 20
	DbgTraceBasic       = 40
	DbgTraceBasicData   = 45
	DbgTraceDetail      = 50
	DbgTraceDetailData  = 55
	DbgTraceTechnical   = 70
	DbgTraceTechnicData = 90
	DbgMax              = 99
)

var severityNames = [...]string{"DEBUG", "INFO", "WARN", "ERROR", "FATAL", "NONE"}

// String returns Kea's name for s, as printed by %p.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("Severity(%d)", int32(s))
	}
	return severityNames[s]
}

// ParseSeverity parses a "severity" value. Kea accepts the names in any case.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: use one of FATAL, ERROR, WARN, INFO, DEBUG or NONE", s)
}
