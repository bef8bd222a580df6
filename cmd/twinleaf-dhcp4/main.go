// Command twinleaf-dhcp4 is a DHCPv4 server that is a drop-in for Kea's
// kea-dhcp4: it takes the same flags, reads the same configuration file and
// keeps leases in the same memfile CSV.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
)

// Set at build time by the Makefile (-X main.version=... -X main.commit=...).
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	// Most of the heap is the lease store, which lives as long as the
	// process; collecting at 50% growth instead of 100% keeps peak RSS near
	// the store's size on a board with little memory, for about 2% more CPU.
	// A server in an HA pair goes back to 100% once its configuration is
	// read (gcPercent). GOGC in the environment still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are kea-dhcp4's command-line flags.
type options struct {
	config     string // -c
	check      string // -t
	deepCheck  string // -T
	debug      bool   // -d
	version    bool   // -v
	extended   bool   // -V
	report     bool   // -W
	serverPort int    // -p
	clientPort int    // -P
}

const usage = `Usage: twinleaf-dhcp4 -[v|V|W] [-d] [-{c|t|T} cfgfile] [-p number] [-P number]
  -v: print version number and exit
  -V: print extended version and exit
  -W: display the configuration report and exit
  -d: debug mode with extra verbosity
  -c file: specify configuration file
  -t file: check the configuration file syntax and exit
  -T file: check the configuration file doing extra checks and exit
  -p number: specify non-standard server port number 1-65535 (useful for testing only)
  -P number: specify non-standard client port number 1-65535 (useful for testing only)
`

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("twinleaf-dhcp4", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.config, "c", "", "")
	fs.StringVar(&o.check, "t", "", "")
	fs.StringVar(&o.deepCheck, "T", "", "")
	fs.BoolVar(&o.debug, "d", false, "")
	fs.BoolVar(&o.version, "v", false, "")
	fs.BoolVar(&o.extended, "V", false, "")
	fs.BoolVar(&o.report, "W", false, "")
	fs.IntVar(&o.serverPort, "p", 67, "")
	fs.IntVar(&o.clientPort, "P", 68, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("extraneous command line parameters: %v", fs.Args())
	}
	for _, p := range []struct {
		flag string
		v    int
	}{{"-p", o.serverPort}, {"-P", o.clientPort}} {
		if p.v < 1 || p.v > 65535 {
			return o, fmt.Errorf("%s %d: port must be 1-65535", p.flag, p.v)
		}
	}
	n := 0
	for _, s := range []string{o.config, o.check, o.deepCheck} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return o, errors.New("give only one of -c, -t and -T")
	}
	if n == 0 && !o.version && !o.extended && !o.report {
		return o, errors.New("configuration file not specified (-c, -t or -T)")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "twinleaf-dhcp4: %v\n\n%s", err, usage)
		return 1
	}
	switch {
	case o.version:
		fmt.Fprintln(stdout, version)
		return 0
	case o.extended:
		fmt.Fprint(stdout, extendedVersion())
		return 0
	case o.report:
		fmt.Fprint(stdout, buildReport())
		return 0
	case o.check != "":
		return checkConfig(o.check, false, stdout, stderr)
	case o.deepCheck != "":
		return checkConfig(o.deepCheck, true, stdout, stderr)
	}
	return serve(o, stdout, stderr)
}

// extendedVersion is -V: the version, then what it was built from and with,
// in the shape of kea-dhcp4 -V.
func extendedVersion() string {
	return fmt.Sprintf("%s\ncommit %s\n%s %s/%s\nlinked with:\n%s", version, commit,
		runtime.Version(), runtime.GOOS, runtime.GOARCH, modules())
}

// buildReport is -W and the build-report command's text.
func buildReport() string {
	return fmt.Sprintf("Build report:\nVersion: %s\nCommit: %s\nGo: %s\nPlatform: %s/%s\nLease backends: memfile\nHook libraries built in: libdhcp_lease_cmds.so, libdhcp_ha.so\nModules:\n%s",
		version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, modules())
}

func modules() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	s := ""
	for _, d := range bi.Deps {
		s += d.Path + " " + d.Version + "\n"
	}
	for _, kv := range bi.Settings {
		if kv.Key == "CGO_ENABLED" {
			s += "cgo " + strconv.Quote(kv.Value) + "\n"
		}
	}
	return s
}
