// Command twinleafctl is the operator's tool for twinleaf (and Kea): it
// finds the control socket in the server's configuration file, or takes
// one on the command line, sends Kea's commands and prints the answers for
// people, or as JSON with --json.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

var version = "dev"

const usage = `Usage: twinleafctl [flags] COMMAND [ARGS]

Commands:
  status                      the server's status (pid, uptime, sockets)
  leases [filters]            leases as a table; filters: --subnet ID --mac MAC --hostname NAME --state N
  lease show ADDRESS          one lease
  lease add ADDRESS MAC       add a lease (subnet found from the address)
  lease del ADDRESS           delete a lease
  stats                       every statistic
  config get                  the running configuration
  config test FILE            check a configuration file without applying it
  config reload               re-read the server's configuration file
  config write [FILE]         write the running configuration to FILE (default: the server's file)
  reclaim                     reclaim expired leases now
  lfc                         clean up the lease file now (Kea's LFC)
  ha status                   HA state of this server and its partner, contact, unacked clients, configuration fault
  ha maintenance start|cancel put the partner in maintenance, this server serving its clients; or end it
  ha sync [PARTNER]           fetch every lease from the partner now (ha-sync)
  ha scopes SCOPE...          serve exactly these scopes until the next state change (ha-scopes)
  ha continue                 resume a state machine paused by state-machine (ha-continue)
  ha reset                    back to waiting, hence a resync (ha-reset)
  raw COMMAND [JSON-ARGS]     send any command, e.g. raw lease4-get '{"ip-address":"192.0.2.10"}'
  pki init --dir DIR          make a pair's CA and certificates (pki init -h)
  pair init --out DIR         write both boards' configs and certificates (pair init -h)
  version                     this tool's version

Flags:
`

// options are the global flags.
type options struct {
	config, url, socket string
	cert, key, ca       string
	user, password      string
	json                bool
	subnet, state       int
	mac, hostname       string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// pki and pair work on files and take their own flags.
	if len(args) > 0 {
		switch args[0] {
		case "pki":
			return pkiCommand(args[1:], stdout, stderr)
		case "pair":
			return pairCommand(args[1:], stdout, stderr)
		}
	}
	var o options
	fs := flag.NewFlagSet("twinleafctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&o.config, "c", "/etc/kea/kea-dhcp4.conf", "the server's configuration file, to find its control socket")
	fs.StringVar(&o.url, "url", "", "control socket URL (http:// or https://), instead of the one in the config")
	fs.StringVar(&o.socket, "socket", "", "unix control socket path, instead of the one in the config")
	fs.StringVar(&o.cert, "cert", "", "client certificate for https")
	fs.StringVar(&o.key, "key", "", "client key for https")
	fs.StringVar(&o.ca, "ca", "", "CA that signed the server's certificate")
	fs.StringVar(&o.user, "user", "", "basic-auth user")
	fs.StringVar(&o.password, "password", "", "basic-auth password")
	fs.BoolVar(&o.json, "json", false, "print answers as JSON")
	fs.IntVar(&o.subnet, "subnet", 0, "leases: only this subnet id")
	fs.StringVar(&o.mac, "mac", "", "leases: only this hardware address")
	fs.StringVar(&o.hostname, "hostname", "", "leases: only this hostname")
	fs.IntVar(&o.state, "state", -1, "leases: only this state (0 default, 1 declined, 2 reclaimed, 3 released)")
	// Flags may come before or after the command's words.
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	if rest[0] == "version" {
		fmt.Fprintln(stdout, version)
		return 0
	}
	if rest[0] == "config" && len(rest) == 3 && rest[1] == "test" {
		return configTest(rest[2], stdout, stderr)
	}
	c, err := client(&o)
	if err != nil {
		fmt.Fprintln(stderr, "twinleafctl:", err)
		return 1
	}
	if err := dispatch(c, &o, rest, stdout); err != nil {
		fmt.Fprintln(stderr, "twinleafctl:", err)
		return 1
	}
	return 0
}

// client picks the control socket: the flags, else the config file's
// first unix socket, else its first http(s) socket.
func client(o *options) (*ctrl.Client, error) {
	c := &ctrl.Client{User: o.user, Pass: o.password, Timeout: 15 * time.Second}
	switch {
	case o.socket != "":
		c.Socket = o.socket
	case o.url != "":
		c.URL = o.url
	default:
		cfg, err := config.Load(o.config)
		if err != nil {
			return nil, fmt.Errorf("finding the control socket: %w (or give --url or --socket)", err)
		}
		var pick *config.ControlSocket
		for i, cs := range cfg.Dhcp4.ControlSockets {
			if cs.Type == "unix" {
				pick = &cfg.Dhcp4.ControlSockets[i]
				break
			}
			if pick == nil {
				pick = &cfg.Dhcp4.ControlSockets[i]
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("%s has no control socket; add one, or give --url or --socket", o.config)
		}
		if pick.Type == "unix" {
			c.Socket = pick.Name
		} else {
			c.URL = fmt.Sprintf("%s://%s/", map[string]string{"http": "http", "https": "https"}[pick.Type],
				net.JoinHostPort(pick.Address, strconv.Itoa(int(pick.Port))))
			if pick.CertFile != "" {
				if o.ca == "" {
					o.ca = pick.TrustAnchor
				}
			}
		}
	}
	if strings.HasPrefix(c.URL, "https://") {
		tf := ctrl.TLSFiles{TrustAnchor: o.ca, CertFile: o.cert, KeyFile: o.key}
		if o.ca == "" {
			return nil, errors.New("https needs --ca, the CA that signed the server's certificate")
		}
		tc, err := tf.ClientConfig()
		if err != nil {
			return nil, err
		}
		c.TLS = tc
	}
	return c, nil
}

func call(c *ctrl.Client, command string, args any) (ctrl.Answer, error) {
	ans, err := c.Call(context.Background(), command, args)
	if err != nil {
		return ans, err
	}
	if ans.Result != ctrl.ResultSuccess && ans.Result != ctrl.ResultEmpty {
		return ans, fmt.Errorf("%s: %s (result %d)", command, ans.Text, ans.Result)
	}
	return ans, nil
}

func dispatch(c *ctrl.Client, o *options, args []string, out io.Writer) error {
	switch args[0] {
	case "status":
		return show(c, o, out, "status-get", nil, printMap)
	case "stats":
		return show(c, o, out, "statistic-get-all", nil, printStats)
	case "reclaim":
		return show(c, o, out, "leases-reclaim", map[string]any{"remove": false}, printText)
	case "lfc":
		return show(c, o, out, "kea-lfc-start", nil, printText)
	case "leases":
		return show(c, o, out, "lease4-get-all", nil, func(w io.Writer, a ctrl.Answer) { printLeases(w, a, o) })
	case "lease":
		if len(args) == 4 && args[1] == "add" {
			return show(c, o, out, "lease4-add", map[string]any{"ip-address": args[2], "hw-address": args[3]}, printText)
		}
		if len(args) != 3 {
			return errors.New("usage: lease show|del ADDRESS, or lease add ADDRESS MAC")
		}
		switch args[1] {
		case "show":
			return show(c, o, out, "lease4-get", map[string]any{"ip-address": args[2]}, printMap)
		case "del":
			return show(c, o, out, "lease4-del", map[string]any{"ip-address": args[2]}, printText)
		}
		return fmt.Errorf("lease %s: use show or del", args[1])
	case "config":
		switch {
		case len(args) == 2 && args[1] == "get":
			return show(c, o, out, "config-get", nil, func(w io.Writer, a ctrl.Answer) { printJSON(w, a.Arguments) })
		case len(args) == 2 && args[1] == "reload":
			return show(c, o, out, "config-reload", nil, printText)
		case len(args) <= 3 && args[1] == "write":
			var a any
			if len(args) == 3 {
				a = map[string]any{"filename": args[2]}
			}
			return show(c, o, out, "config-write", a, printText)
		}
		return errors.New("usage: config get | config test FILE | config reload | config write [FILE]")
	case "ha":
		return haCommand(c, o, args[1:], out)
	case "raw":
		if len(args) < 2 || len(args) > 3 {
			return errors.New("usage: raw COMMAND [JSON-ARGS]")
		}
		var a any
		if len(args) == 3 {
			if err := json.Unmarshal([]byte(args[2]), &a); err != nil {
				return fmt.Errorf("arguments are not JSON: %v", err)
			}
		}
		ans, err := c.Call(context.Background(), args[1], a)
		if err != nil {
			return err
		}
		printJSON(out, ans)
		return nil
	}
	return fmt.Errorf("unknown command %q; see twinleafctl -h", args[0])
}

func show(c *ctrl.Client, o *options, out io.Writer, command string, args any, human func(io.Writer, ctrl.Answer)) error {
	ans, err := call(c, command, args)
	if err != nil {
		return err
	}
	if o.json {
		printJSON(out, ans)
		return nil
	}
	human(out, ans)
	return nil
}

func printJSON(w io.Writer, a any) {
	b, _ := json.MarshalIndent(a, "", "  ")
	fmt.Fprintln(w, string(b))
}

func printText(w io.Writer, a ctrl.Answer) { fmt.Fprintln(w, a.Text) }

func printMap(w io.Writer, a ctrl.Answer) {
	m, ok := a.Arguments.(map[string]any)
	if !ok {
		printJSON(w, a.Arguments)
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		v, _ := json.Marshal(m[k])
		fmt.Fprintf(tw, "%s\t%s\n", k, v)
	}
	tw.Flush()
}

func printStats(w io.Writer, a ctrl.Answer) {
	m, _ := a.Arguments.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		// Each statistic is a list of [value, timestamp] samples, newest first.
		v := m[k]
		if samples, ok := v.([]any); ok && len(samples) > 0 {
			if s, ok := samples[0].([]any); ok && len(s) > 0 {
				v = s[0]
			}
		}
		fmt.Fprintf(tw, "%s\t%v\n", k, v)
	}
	tw.Flush()
}

func printLeases(w io.Writer, a ctrl.Answer, o *options) {
	args, _ := a.Arguments.(map[string]any)
	list, _ := args["leases"].([]any)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tMAC\tCLIENT-ID\tSUBNET\tSTATE\tEXPIRES\tHOSTNAME")
	n := 0
	for _, e := range list {
		l, _ := e.(map[string]any)
		num := func(k string) int64 { f, _ := l[k].(float64); return int64(f) }
		str := func(k string) string { s, _ := l[k].(string); return s }
		if (o.subnet != 0 && num("subnet-id") != int64(o.subnet)) || (o.mac != "" && !strings.EqualFold(str("hw-address"), o.mac)) ||
			(o.hostname != "" && str("hostname") != o.hostname) || (o.state >= 0 && num("state") != int64(o.state)) {
			continue
		}
		exp := time.Unix(num("cltt")+num("valid-lft"), 0).Format("2006-01-02 15:04:05")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", str("ip-address"), str("hw-address"), str("client-id"),
			num("subnet-id"), stateName(num("state")), exp, str("hostname"))
		n++
	}
	tw.Flush()
	fmt.Fprintf(w, "%d lease(s)\n", n)
}

func stateName(s int64) string {
	switch s {
	case 0:
		return "default"
	case 1:
		return "declined"
	case 2:
		return "reclaimed"
	case 3:
		return "released"
	}
	return strconv.FormatInt(s, 10)
}

func configTest(path string, stdout, stderr io.Writer) int {
	c, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range c.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n", path)
	return 0
}
