package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// statusArgs is a status-get answer's arguments with ha as its
// high-availability entry, as the client decodes it.
func statusArgs(t *testing.T, ha string) ctrl.Answer {
	t.Helper()
	var args any
	if err := json.Unmarshal([]byte(`{"pid": 42, "high-availability": [`+ha+`]}`), &args); err != nil {
		t.Fatal(err)
	}
	return ctrl.Answer{Arguments: args}
}

const (
	haLocal = `"local": {"role": "standby", "scopes": [], "state": "waiting", "server-name": "server2", "system-time": "2026-11-27 03:00:00"}`
	haPair  = `{"ha-mode": "hot-standby", "ha-servers": {` + haLocal + `, "remote": {"role": "primary", "server-name": "server1",
	  "age": 3, "in-touch": true, "last-state": "hot-standby", "last-scopes": ["server1"], "communication-interrupted": false,
	  "connecting-clients": 0, "unacked-clients": 0, "unacked-clients-left": 0, "analyzed-packets": 0,
	  "system-time": "2026-11-27 03:00:01", "clock-skew": 1}}}`
	haFault = `{"ha-mode": "hot-standby", "ha-servers": {` + haLocal + `, "remote": {"role": "primary", "server-name": "server1",
	  "age": 0, "in-touch": false, "last-state": "unavailable", "last-scopes": [], "communication-interrupted": true,
	  "connecting-clients": 2, "unacked-clients": 1, "unacked-clients-left": 5, "analyzed-packets": 7,
	  "system-time": null, "clock-skew": null,
	  "config-fault": "TLS handshake refused our certificate (unknown certificate authority): check trust-anchor"}}}`
	haBackup = `{"ha-mode": "passive-backup", "ha-servers": {` + haLocal + `}}`
)

func TestPrintHAStatus(t *testing.T) {
	for _, tt := range []struct {
		name, ha, want string
	}{
		{"pair", haPair, `mode: hot-standby
             SERVER   ROLE     STATE        SCOPES
this server  server2  standby  waiting      -
partner      server1  primary  hot-standby  server1
last contact: 3s ago
communication: ok
clock skew: 1s
`},
		{"configuration fault", haFault, `mode: hot-standby
             SERVER   ROLE     STATE        SCOPES
this server  server2  standby  waiting      -
partner      server1  primary  unavailable  -
last contact: never (no heartbeat answered yet)
communication: interrupted by the configuration fault below
CONFIGURATION FAULT: TLS handshake refused our certificate (unknown certificate authority): check trust-anchor
`},
		{"partner down", strings.Replace(haFault, `"config-fault"`, `"other"`, 1), `mode: hot-standby
             SERVER   ROLE     STATE        SCOPES
this server  server2  standby  waiting      -
partner      server1  primary  unavailable  -
last contact: never (no heartbeat answered yet)
communication: interrupted; 1 unacked clients, 5 more before partner-down
`},
		{"lease update conflicts", strings.Replace(strings.Replace(haPair, `"clock-skew": 1`, `"clock-skew": 0, "lease-update-conflicts": 3, "lease-update-conflicts-fixed-by-retry": 2`, 1),
			`"system-time": "2026-11-27 03:00:00"`, `"system-time": "2026-11-27 03:00:00", "lease-update-conflicts-resolved": 4`, 1), `mode: hot-standby
             SERVER   ROLE     STATE        SCOPES
this server  server2  standby  waiting      -
partner      server1  primary  hot-standby  server1
last contact: 3s ago
communication: ok
lease update conflicts: 3 refused by the partner (2 fixed by a retry), 4 of the partner's applied here over a local lease
`},
		{"load-balancing conflicts", strings.Replace(strings.Replace(haPair, `"clock-skew": 1`, `"clock-skew": 0, "lease-update-conflicts-lost": 2`, 1),
			`"system-time": "2026-11-27 03:00:00"`, `"system-time": "2026-11-27 03:00:00", "lease-update-conflicts-kept": 1`, 1), `mode: hot-standby
             SERVER   ROLE     STATE        SCOPES
this server  server2  standby  waiting      -
partner      server1  primary  hot-standby  server1
last contact: 3s ago
communication: ok
load-balancing conflicts: 1 addresses kept here for an earlier lease, 2 given up to the partner's earlier lease
`},
		{"no partner", haBackup, `mode: passive-backup
             SERVER   ROLE     STATE    SCOPES
this server  server2  standby  waiting  -
no partner (backup or passive-backup)
`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, err := parseHAStatus(statusArgs(t, tt.ha))
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			printHAStatus(&b, st)
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
	if _, err := parseHAStatus(ctrl.Answer{Arguments: map[string]any{"pid": 42}}); err == nil ||
		!strings.Contains(err.Error(), "runs no HA relationship") {
		t.Errorf("status without HA: %v", err)
	}
}

// TestHACommands runs each ha subcommand against a control socket that
// records what it gets.
func TestHACommands(t *testing.T) {
	var mu sync.Mutex
	var got []string
	reg := ctrl.NewRegistry()
	record := func(name string, ans ctrl.Answer) {
		reg.Register(name, func(_ context.Context, args json.RawMessage) ctrl.Answer {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, name+" "+string(args))
			return ans
		})
	}
	var st any
	json.Unmarshal([]byte(`{"high-availability": [`+haFault+`]}`), &st)
	record("status-get", ctrl.Success("", st))
	for _, c := range []string{"ha-maintenance-start", "ha-maintenance-cancel", "ha-sync", "ha-scopes", "ha-continue", "ha-reset"} {
		record(c, ctrl.Success(c+" done.", nil))
	}
	srv, err := ctrl.ListenHTTP("127.0.0.1:0", &ctrl.HTTPHandler{Registry: reg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(time.Second)
	url := "http://" + srv.Addr().String() + "/"
	for _, tt := range []struct {
		args     []string
		sent     string // command and arguments; "" when nothing may be sent
		out      string // a part of stdout
		exitCode int
	}{
		{[]string{"ha", "status"}, "status-get ", "CONFIGURATION FAULT: TLS handshake refused our certificate", 0},
		{[]string{"ha", "status", "--json"}, "status-get ", `"config-fault": "TLS handshake refused`, 0},
		{[]string{"ha", "maintenance", "start"}, "ha-maintenance-start ", "ha-maintenance-start done.", 0},
		{[]string{"ha", "maintenance", "cancel"}, "ha-maintenance-cancel ", "ha-maintenance-cancel done.", 0},
		{[]string{"ha", "sync"}, "ha-sync ", "ha-sync done.", 0},
		{[]string{"ha", "sync", "server1"}, `ha-sync {"server-name":"server1"}`, "ha-sync done.", 0},
		{[]string{"ha", "scopes", "server1", "server2"}, `ha-scopes {"scopes":["server1","server2"]}`, "ha-scopes done.", 0},
		{[]string{"ha", "scopes"}, `ha-scopes {"scopes":[]}`, "ha-scopes done.", 0},
		{[]string{"ha", "continue"}, "ha-continue ", "ha-continue done.", 0},
		{[]string{"ha", "reset"}, "ha-reset ", "ha-reset done.", 0},
		{[]string{"ha", "maintenance"}, "", "", 1},
		{[]string{"ha", "frobnicate"}, "", "", 1},
		{[]string{"ha"}, "", "", 1},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			var stdout, stderr bytes.Buffer
			rc := run(append([]string{"--url", url}, tt.args...), &stdout, &stderr)
			if rc != tt.exitCode || !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", rc, stdout.String(), stderr.String(), tt.exitCode, tt.out)
			}
			if rc != 0 && !strings.Contains(stderr.String(), "usage: ha status") {
				t.Errorf("stderr %q, want the ha usage", stderr.String())
			}
			mu.Lock()
			defer mu.Unlock()
			want := []string{tt.sent}
			if tt.sent == "" {
				want = nil
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("sent %q, want %q", got, want)
			}
		})
	}
}

// FuzzParseHAStatus: whatever a server answers to status-get, parsing
// and printing it does not panic, and a configuration fault is printed.
func FuzzParseHAStatus(f *testing.F) {
	for _, s := range []string{haPair, haFault, haBackup, `{}`, `{"ha-servers": {"remote": null}}`, `[]`, `{"ha-mode": 7}`} {
		f.Add([]byte(`{"high-availability": [` + s + `]}`))
	}
	f.Add([]byte(`{"high-availability": []}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var args any
		if json.Unmarshal(b, &args) != nil {
			return
		}
		st, err := parseHAStatus(ctrl.Answer{Arguments: args})
		if err != nil {
			return
		}
		var out bytes.Buffer
		printHAStatus(&out, st)
		if r := st.Servers.Remote; r != nil && r.ConfigFault != "" &&
			!strings.Contains(out.String(), "CONFIGURATION FAULT: "+r.ConfigFault+"\n") {
			t.Errorf("the fault %q is not printed:\n%s", r.ConfigFault, out.String())
		}
	})
}
