package logging

import (
	"fmt"
	"strings"
)

// RootName is the name of kea-dhcp4's root logger; every other logger
// ("kea-dhcp4.leases", ...) is its descendant.
const RootName = "kea-dhcp4"

// Kea's defaults for an output-options entry.
const (
	DefaultMaxSize = 10240000
	DefaultMaxVer  = 1
	// MinMaxSize is the smallest rotation size: log4cplus, under Kea, raises
	// any smaller non-zero maxsize to it.
	MinMaxSize = 204800
)

// Config is Kea's "loggers" list plus the command line's -d flag. It mirrors
// the configuration file so pkg/config's values map onto it one to one.
type Config struct {
	Loggers []LoggerConfig
	// Debug is kea-dhcp4's -d: as in Kea, every logger runs at DEBUG level
	// 99 whatever its entry says, and keeps its outputs (stdout when there
	// is no loggers list).
	Debug bool
}

// LoggerConfig is one "loggers" entry.
type LoggerConfig struct {
	Name       string // "kea-dhcp4" or a descendant such as "kea-dhcp4.leases"
	Severity   string // FATAL, ERROR, WARN, INFO, DEBUG or NONE
	DebugLevel int    // 0..99, used when Severity is DEBUG
	Outputs    []OutputConfig
}

// OutputConfig is one "output-options" entry. Its zero values are not Kea's
// defaults: the caller fills Kea's (MaxSize DefaultMaxSize, MaxVer
// DefaultMaxVer, Flush true) when the file leaves a key out.
type OutputConfig struct {
	Output  string // a file path, "stdout", "stderr", "syslog" or "syslog:facility"
	MaxSize uint64 // rotate a file before it would grow past this; 0 never rotates
	MaxVer  int    // rotated files kept: path.1 ... path.MaxVer
	Flush   bool   // write every message through at once
	Pattern string // log4cplus pattern; empty means Kea's default for the output
}

// DefaultConfig is what Kea runs with when the configuration has no
// "loggers": kea-dhcp4 at INFO on stdout.
func DefaultConfig() Config {
	return Config{Loggers: []LoggerConfig{{
		Name:     RootName,
		Severity: "INFO",
		Outputs:  []OutputConfig{{Output: "stdout", Flush: true}},
	}}}
}

// level is a logger's effective filter: a message passes when its severity
// is at least sev and, for debug messages, its level is at most dbg.
type level struct {
	sev Severity
	dbg int
}

func (c LoggerConfig) level() (level, error) {
	sev, err := ParseSeverity(c.Severity)
	if err != nil {
		return level{}, fmt.Errorf("logging: logger %q: %w", c.Name, err)
	}
	if c.DebugLevel < 0 || c.DebugLevel > DbgMax {
		return level{}, fmt.Errorf("logging: logger %q: debuglevel %d is out of range: use 0 to 99", c.Name, c.DebugLevel)
	}
	return level{sev: sev, dbg: c.DebugLevel}, nil
}

// parent returns the name of the logger name inherits from, or "" for a
// top-level name.
func parent(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ""
	}
	return name[:i]
}

// check rejects configurations Kea would reject and ones we cannot honour.
func (c Config) check() error {
	seen := make(map[string]bool)
	for _, l := range c.Loggers {
		if l.Name == "" {
			return fmt.Errorf("logging: a loggers entry has no name: the DHCPv4 server's logger is %q", RootName)
		}
		if seen[l.Name] {
			return fmt.Errorf("logging: logger %q is configured twice: merge the two entries", l.Name)
		}
		seen[l.Name] = true
		if _, err := l.level(); err != nil {
			return err
		}
		for _, o := range l.Outputs {
			if o.Output == "" {
				return fmt.Errorf("logging: logger %q: an output-options entry has no output: use a file path, stdout, stderr or syslog", l.Name)
			}
			if o.MaxVer < 0 {
				return fmt.Errorf("logging: logger %q: output %q: maxver %d is negative", l.Name, o.Output, o.MaxVer)
			}
			if _, err := compilePattern(o.Pattern); err != nil {
				return fmt.Errorf("logging: logger %q: output %q: %w", l.Name, o.Output, err)
			}
		}
	}
	return nil
}
