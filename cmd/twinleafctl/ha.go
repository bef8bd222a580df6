package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

const haUsage = "usage: ha status | ha maintenance start|cancel | ha sync [PARTNER] | ha scopes SCOPE... | ha continue | ha reset"

// haCommand runs the ha subcommands: status-get's HA entry as a table,
// and Kea's HA admin commands.
func haCommand(c *ctrl.Client, o *options, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(haUsage)
	}
	switch {
	case args[0] == "status" && len(args) == 1:
		ans, err := call(c, "status-get", nil)
		if err != nil {
			return err
		}
		st, err := parseHAStatus(ans)
		if err != nil {
			return err
		}
		if o.json {
			printJSON(out, st.raw)
			return nil
		}
		printHAStatus(out, st)
		return nil
	case args[0] == "maintenance" && len(args) == 2 && (args[1] == "start" || args[1] == "cancel"):
		return show(c, o, out, "ha-maintenance-"+args[1], nil, printText)
	case args[0] == "sync" && len(args) <= 2:
		var a any
		if len(args) == 2 {
			a = map[string]any{"server-name": args[1]}
		}
		return show(c, o, out, "ha-sync", a, printText)
	case args[0] == "scopes":
		// No scope at all is valid: the server then serves nobody.
		return show(c, o, out, "ha-scopes", map[string]any{"scopes": append([]string{}, args[1:]...)}, printText)
	case args[0] == "continue" && len(args) == 1:
		return show(c, o, out, "ha-continue", nil, printText)
	case args[0] == "reset" && len(args) == 1:
		return show(c, o, out, "ha-reset", nil, printText)
	}
	return errors.New(haUsage)
}

// haServer is one server of status-get's ha-servers.
type haServer struct {
	Name  string   `json:"server-name"`
	Role  string   `json:"role"`
	State string   `json:"state"`
	Scope []string `json:"scopes"`
	// The partner's fields (remote only).
	LastState   string   `json:"last-state"`
	LastScopes  []string `json:"last-scopes"`
	Age         *int64   `json:"age"`
	InTouch     bool     `json:"in-touch"`
	Interrupted bool     `json:"communication-interrupted"`
	Unacked     int64    `json:"unacked-clients"`
	UnackedLeft int64    `json:"unacked-clients-left"`
	ClockSkew   *int64   `json:"clock-skew"`
	ConfigFault string   `json:"config-fault"`
	// Lease update conflicts (twinleaf only; absent when none): updates
	// the partner refused (remote), how many a second attempt fixed, and
	// the partner's updates this server applied over its own (local).
	Conflicts      uint64 `json:"lease-update-conflicts"`
	ConflictsFixed uint64 `json:"lease-update-conflicts-fixed-by-retry"`
	Resolved       uint64 `json:"lease-update-conflicts-resolved"`
	// Load-balancing conflicts between two twinleaf servers: partner
	// updates refused for this server's earlier lease (local), and this
	// server's refused so by the partner (remote).
	Kept uint64 `json:"lease-update-conflicts-kept"`
	Lost uint64 `json:"lease-update-conflicts-lost"`
}

// haStatus is status-get's high-availability entry (the first
// relationship), with the raw entry for --json.
type haStatus struct {
	Mode    string `json:"ha-mode"`
	Servers struct {
		Local  haServer  `json:"local"`
		Remote *haServer `json:"remote"`
	} `json:"ha-servers"`
	raw any
}

// parseHAStatus finds the HA entry in status-get's answer.
func parseHAStatus(a ctrl.Answer) (haStatus, error) {
	b, err := json.Marshal(a.Arguments)
	if err != nil {
		return haStatus{}, err
	}
	var args struct {
		HA []json.RawMessage `json:"high-availability"`
	}
	if err := json.Unmarshal(b, &args); err != nil {
		return haStatus{}, fmt.Errorf("status-get: unexpected arguments: %v", err)
	}
	if len(args.HA) == 0 {
		return haStatus{}, errors.New("status-get has no high-availability entry: the server runs no HA relationship (libdhcp_ha.so)")
	}
	var st haStatus
	if err := json.Unmarshal(args.HA[0], &st); err != nil {
		return haStatus{}, fmt.Errorf("status-get: unexpected high-availability entry: %v", err)
	}
	if err := json.Unmarshal(args.HA[0], &st.raw); err != nil {
		return haStatus{}, err
	}
	return st, nil
}

// printHAStatus prints both servers as a table, then what concerns the
// pair: contact, unacked clients, clock skew, any configuration fault and
// any lease update conflicts.
func printHAStatus(w io.Writer, st haStatus) {
	fmt.Fprintf(w, "mode: %s\n", st.Mode)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tSERVER\tROLE\tSTATE\tSCOPES")
	l := st.Servers.Local
	fmt.Fprintf(tw, "this server\t%s\t%s\t%s\t%s\n", l.Name, l.Role, l.State, scopes(l.Scope))
	r := st.Servers.Remote
	if r != nil {
		fmt.Fprintf(tw, "partner\t%s\t%s\t%s\t%s\n", r.Name, r.Role, r.LastState, scopes(r.LastScopes))
	}
	tw.Flush()
	if r == nil {
		fmt.Fprintln(w, "no partner (backup or passive-backup)")
		return
	}
	contact := "never (no heartbeat answered yet)"
	if r.InTouch && r.Age != nil {
		contact = fmt.Sprintf("%ds ago", *r.Age)
	}
	fmt.Fprintf(w, "last contact: %s\n", contact)
	switch {
	case r.Interrupted && r.ConfigFault != "":
		// The unacked count does not apply: a fault never makes the
		// standby take over.
		fmt.Fprintln(w, "communication: interrupted by the configuration fault below")
	case r.Interrupted:
		fmt.Fprintf(w, "communication: interrupted; %d unacked clients, %d more before partner-down\n", r.Unacked, r.UnackedLeft)
	default:
		fmt.Fprintln(w, "communication: ok")
	}
	if r.ClockSkew != nil && *r.ClockSkew != 0 {
		fmt.Fprintf(w, "clock skew: %ds\n", *r.ClockSkew)
	}
	if r.ConfigFault != "" {
		fmt.Fprintf(w, "CONFIGURATION FAULT: %s\n", r.ConfigFault)
	}
	if r.Conflicts > 0 || l.Resolved > 0 {
		fmt.Fprintf(w, "lease update conflicts: %d refused by the partner (%d fixed by a retry), %d of the partner's applied here over a local lease\n",
			r.Conflicts, r.ConflictsFixed, l.Resolved)
	}
	if l.Kept > 0 || r.Lost > 0 {
		fmt.Fprintf(w, "load-balancing conflicts: %d addresses kept here for an earlier lease, %d given up to the partner's earlier lease\n", l.Kept, r.Lost)
	}
}

func scopes(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
