package ha

import (
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

func jsonEqual(t *testing.T, got any, want string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

// TestCommands checks every request against the forms of the fact sheet,
// section 1.7.
func TestCommands(t *testing.T) {
	l := &lease.Lease{Addr: netip.MustParseAddr("192.168.1.100"), HWAddr: net.HardwareAddr{0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f},
		ClientID: []byte{1, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}, SubnetID: 1, PoolID: 2, ValidLft: 43200,
		CLTT: time.Unix(1795774617-43200, 0), Hostname: "laptop",
		UserContext: map[string]any{"ISC": map[string]any{"relay-agent-info": map[string]any{"sub-options": "0104AABBCCDD"}}}}
	leaseKeys := `"ip-address":"192.168.1.100","hw-address":"1a:1b:1c:1d:1e:1f","client-id":"01:1a:1b:1c:1d:1e:1f",
		"subnet-id":1,"valid-lft":43200,"expire":1795774617,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"laptop","state":0,
		"user-context":{"ISC":{"relay-agent-info":{"sub-options":"0104AABBCCDD"}}}`
	tests := []struct {
		name string
		cmd  Command
		want string
	}{
		{"heartbeat 3.x", HeartbeatCommand(Kea3, "server1"), `{"command":"ha-heartbeat","service":["dhcp4"],"arguments":{"server-name":"server1"}}`},
		{"heartbeat 2.2", HeartbeatCommand(Kea22, "server1"), `{"command":"ha-heartbeat","service":["dhcp4"]}`},
		{"reset 3.x", ResetCommand(Kea3, "server1"), `{"command":"ha-reset","service":["dhcp4"],"arguments":{"server-name":"server1"}}`},
		{"reset 2.2", ResetCommand(Kea22, "server1"), `{"command":"ha-reset","service":["dhcp4"]}`},
		{"disable 3.x", DisableCommand(Kea3, 60), `{"command":"dhcp-disable","service":["dhcp4"],"arguments":{"origin-id":2000,"origin":"ha-partner","max-period":60}}`},
		{"disable 2.2", DisableCommand(Kea22, 60), `{"command":"dhcp-disable","service":["dhcp4"],"arguments":{"origin":"ha-partner","max-period":60}}`},
		{"enable 3.x", EnableCommand(Kea3), `{"command":"dhcp-enable","service":["dhcp4"],"arguments":{"origin-id":2000,"origin":"ha-partner"}}`},
		{"enable 2.2", EnableCommand(Kea22), `{"command":"dhcp-enable","service":["dhcp4"],"arguments":{"origin":"ha-partner"}}`},
		{"sync complete 3.x", SyncCompleteCommand(Kea3, "server2"), `{"command":"ha-sync-complete-notify","service":["dhcp4"],"arguments":{"server-name":"server2","origin-id":2000,"origin":2000}}`},
		{"sync complete 2.2", SyncCompleteCommand(Kea22, "server2"), `{"command":"ha-sync-complete-notify","service":["dhcp4"]}`},
		{"maintenance 3.x", MaintenanceNotifyCommand(Kea3, "server1", false, HotStandby), `{"command":"ha-maintenance-notify","service":["dhcp4"],"arguments":{"server-name":"server1","cancel":false,"state":"hot-standby"}}`},
		{"maintenance 2.2", MaintenanceNotifyCommand(Kea22, "server1", true, Waiting), `{"command":"ha-maintenance-notify","service":["dhcp4"],"arguments":{"cancel":true}}`},
		{"page start", LeasePageCommand("", 10000), `{"command":"lease4-get-page","service":["dhcp4"],"arguments":{"from":"start","limit":10000}}`},
		{"page from", LeasePageCommand("192.168.1.150", 10000), `{"command":"lease4-get-page","service":["dhcp4"],"arguments":{"from":"192.168.1.150","limit":10000}}`},
		{"update 3.x", LeaseUpdateCommand(Kea3, l), `{"command":"lease4-update","service":["dhcp4"],"arguments":{` + leaseKeys + `,"pool-id":2,"force-create":true,"origin":"ha-partner"}}`},
		{"update 2.2", LeaseUpdateCommand(Kea22, l), `{"command":"lease4-update","service":["dhcp4"],"arguments":{` + leaseKeys + `,"force-create":true}}`},
		{"del 3.x", LeaseDeleteCommand(Kea3, l), `{"command":"lease4-del","service":["dhcp4"],"arguments":{` + leaseKeys + `,"pool-id":2,"origin":"ha-partner"}}`},
		{"declined", LeaseUpdateCommand(Kea22, &lease.Lease{Addr: netip.MustParseAddr("10.0.0.9"), State: lease.StateDeclined, ValidLft: 86400, CLTT: time.Unix(100, 0), SubnetID: 1}),
			`{"command":"lease4-update","service":["dhcp4"],"arguments":{"ip-address":"10.0.0.9","hw-address":"","subnet-id":1,"valid-lft":86400,"expire":86500,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"","state":1,"force-create":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { jsonEqual(t, tt.cmd, tt.want) })
	}
}

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		body string
		rc   int
		text string
		err  string
	}{
		{`[ { "result": 0, "text": "IPv4 lease added." } ]`, 0, "IPv4 lease added.", ""},
		{`[{"result":3,"text":"IPv4 lease not found."}]`, 3, "IPv4 lease not found.", ""},
		{`{ "result": 401, "text": "Unauthorized" }`, 1, "Unauthorized", ""},
		{`{ "result": 0, "text": "bare map from a unix socket" }`, 1, "bare map from a unix socket", ""},
		{`[ ]`, 0, "", "empty answer list"},
		{``, 0, "", "not a JSON list"},
		{`"ok"`, 0, "", "not a JSON list"},
		{`[ { "text": "x" } ]`, 0, "", `no "result"`},
		{`[ { "result": 1.5 } ]`, 0, "", "not an integer"},
		{`[ { "result": 0, "text": 7 } ]`, 0, "", `"text" is not a string`},
		{`[ 5 ]`, 0, "", "bad answer"},
	}
	for _, tt := range tests {
		a, err := ParseAnswer([]byte(tt.body))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, errAnswer) {
				t.Errorf("%s: error %v, want %q", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil || a.Result != tt.rc || a.Text != tt.text {
			t.Errorf("%s: %+v, %v; want rc %d %q", tt.body, a, err, tt.rc, tt.text)
		}
	}
}

func TestParseHeartbeat(t *testing.T) {
	kea := `[ { "result": 0, "text": "HA peer status returned.",
    "arguments": { "state": "hot-standby", "date-time": "Thu, 26 Nov 2026 22:51:24 GMT",
                   "scopes": [ "server1" ], "unsent-update-count": 7 } } ]`
	hb, err := ParseHeartbeat([]byte(kea))
	if err != nil {
		t.Fatal(err)
	}
	want := Heartbeat{State: HotStandby, Time: time.Date(2026, 11, 26, 22, 51, 24, 0, time.UTC), Scopes: []string{"server1"}, UnsentCount: 7, ClockSynced: true}
	if !reflect.DeepEqual(hb, want) {
		t.Errorf("got %+v\nwant %+v", hb, want)
	}
	bad := []struct{ body, err string }{
		{`[{"result":1,"text":"server9 matches no configured 'server-name'"}]`, "error code 1"},
		{`[{"result":0}]`, "no arguments map"},
		{`[{"result":0,"arguments":{"date-time":"Thu, 26 Nov 2026 22:51:24 GMT"}}]`, "no state"},
		{`[{"result":0,"arguments":{"state":"dancing","date-time":"Thu, 26 Nov 2026 22:51:24 GMT"}}]`, `unknown state "dancing"`},
		{`[{"result":0,"arguments":{"state":"ready"}}]`, "no date-time"},
		{`[{"result":0,"arguments":{"state":"ready","date-time":"2026-11-26 22:51:24"}}]`, "not RFC 1123"},
		{`[{"result":0,"arguments":{"state":"ready","date-time":"Thu, 26 Nov 2026 22:51:24 GMT","scopes":"server1"}}]`, "scopes"},
		{`[{"result":0,"arguments":{"state":"ready","date-time":"Thu, 26 Nov 2026 22:51:24 GMT","unsent-update-count":-1}}]`, "unsigned"},
		{`[{"result":0,"arguments":{"state":"ready","date-time":"Thu, 26 Nov 2026 22:51:24 GMT","unsent-update-count":1e3}}]`, "unsigned"},
	}
	for _, tt := range bad {
		if _, err := ParseHeartbeat([]byte(tt.body)); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %v, want %q", tt.body, err, tt.err)
		}
	}
	rc3 := `[{"result":3,"arguments":{"state":"ready","date-time":"Thu, 26 Nov 2026 22:51:24 GMT"}}]`
	if hb, err := ParseHeartbeat([]byte(rc3)); err != nil || hb.State != Ready || hb.Scopes != nil {
		t.Errorf("rc 3 heartbeat: %+v %v", hb, err)
	}
}

func TestParseLeasePage(t *testing.T) {
	body := `[ { "result": 0, "text": "3 IPv4 lease(s) found.", "arguments": { "count": 3, "leases": [
		{"ip-address":"192.168.1.100","hw-address":"1a:1b:1c:1d:1e:1f","client-id":"01:1a:1b:1c:1d:1e:1f","subnet-id":1,
		 "pool-id":2,"cltt":1795731417,"valid-lft":43200,"fqdn-fwd":true,"fqdn-rev":false,"hostname":"laptop","state":0,
		 "user-context":{"ISC":{"relay-agent-info":{"sub-options":"0104AABBCCDD"}}}},
		{"ip-address":"192.168.1.101","hw-address":"","subnet-id":1,"cltt":1795731417,"valid-lft":3600,
		 "fqdn-fwd":false,"fqdn-rev":false,"hostname":"","state":4},
		{"ip-address":"192.168.1.102","hw-address":"8:0:27:a:b:c","subnet-id":1,"cltt":1795731417,"valid-lft":0,
		 "fqdn-fwd":false,"fqdn-rev":false,"hostname":"","state":3} ] } } ]`
	p, err := ParseLeasePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Leases) != 2 || len(p.Skipped) != 1 || !strings.Contains(p.Skipped[0].Error(), "state 4") {
		t.Fatalf("leases %d skipped %v; want 2 and the state-4 lease", len(p.Leases), p.Skipped)
	}
	want := &lease.Lease{Addr: netip.MustParseAddr("192.168.1.100"), HWAddr: net.HardwareAddr{0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f},
		ClientID: []byte{1, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}, SubnetID: 1, PoolID: 2, CLTT: time.Unix(1795731417, 0),
		ValidLft: 43200, FqdnFwd: true, Hostname: "laptop",
		UserContext: map[string]any{"ISC": map[string]any{"relay-agent-info": map[string]any{"sub-options": "0104AABBCCDD"}}}}
	if !reflect.DeepEqual(p.Leases[0], want) {
		t.Errorf("got %+v\nwant %+v", p.Leases[0], want)
	}
	if got := p.Leases[1].HWAddr.String(); got != "08:00:27:0a:0b:0c" || p.Leases[1].State != lease.StateReleased {
		t.Errorf("one-digit octets: %s, state %d", got, p.Leases[1].State)
	}
	empty := `[ { "result": 3, "text": "0 IPv4 lease(s) found.", "arguments": { "count": 0, "leases": [  ] } } ]`
	if p, err := ParseLeasePage([]byte(empty)); err != nil || len(p.Leases) != 0 {
		t.Errorf("empty page: %+v %v", p, err)
	}
	for _, bad := range []string{
		`[{"result":0,"arguments":{"count":0}}]`,
		`[{"result":0}]`,
		`[{"result":1,"text":"limit must not be 0"}]`,
	} {
		if _, err := ParseLeasePage([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestParseLeaseRejects(t *testing.T) {
	base := map[string]any{"ip-address": "10.0.0.1", "hw-address": "aa:bb", "subnet-id": 1, "cltt": 100,
		"valid-lft": 60, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "state": 0}
	tests := []struct {
		key string
		val any
		err string
	}{
		{"ip-address", nil, `no "ip-address"`},
		{"ip-address", "2001:db8::1", "not an IPv4 address"},
		{"hw-address", "aa:bbb", "not colon-separated hex"},
		{"hw-address", "zz", "not colon-separated hex"},
		{"subnet-id", -1, `"subnet-id"`},
		{"cltt", "now", `"cltt"`},
		{"valid-lft", nil, `no "valid-lft"`},
		{"state", 5, "state 5"},
		{"client-id", 7, "client-id is not a string"},
		{"user-context", []any{1}, "user-context is not a map"},
		{"hostname", nil, `no "hostname"`},
	}
	for _, tt := range tests {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		if tt.val == nil {
			delete(m, tt.key)
		} else {
			m[tt.key] = tt.val
		}
		b, _ := json.Marshal(m)
		if _, err := ParseLease(b); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s=%v: %v, want %q", tt.key, tt.val, err, tt.err)
		}
	}
}

func TestParseMaintenance(t *testing.T) {
	tests := []struct {
		args string
		want MaintenanceNotify
		err  string
	}{
		{`{"cancel":false}`, MaintenanceNotify{}, ""},
		{`{"server-name":"server1","cancel":true,"state":"waiting"}`, MaintenanceNotify{Cancel: true, State: "waiting"}, ""},
		{``, MaintenanceNotify{}, "'cancel' is mandatory"},
		{`{"state":"waiting"}`, MaintenanceNotify{}, "'cancel' is mandatory"},
		{`{"cancel":"yes"}`, MaintenanceNotify{}, "not a map"},
		{`{"cancel":true,"state":3}`, MaintenanceNotify{}, "'state' must be a string"},
	}
	for _, tt := range tests {
		n, err := ParseMaintenanceNotify(json.RawMessage(tt.args))
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) || n != tt.want {
			t.Errorf("%s: %+v %v; want %+v %q", tt.args, n, err, tt.want, tt.err)
		}
	}
	cancels := []struct {
		body string
		st   State
		ok   bool
		err  string
	}{
		{`[ { "result": 0, "text": "Server maintenance canceled.", "arguments": { "state": "waiting" } } ]`, Waiting, true, ""},
		{`[ { "result": 0, "text": "Server maintenance canceled." } ]`, 0, false, ""},
		{`[ { "result": 1, "text": "Unable to cancel the maintenance for the server not in the in-maintenance state." } ]`, 0, false, "in-maintenance state"},
		{`[ { "result": 0, "arguments": { "state": 1 } } ]`, 0, false, "not a string"},
		{`[ { "result": 0, "arguments": { "state": "napping" } } ]`, 0, false, "unknown state"},
	}
	for _, tt := range cancels {
		st, ok, err := ParseMaintenanceCancel([]byte(tt.body))
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) || st != tt.st || ok != tt.ok {
			t.Errorf("%s: %s %v %v; want %s %v %q", tt.body, st, ok, err, tt.st, tt.ok, tt.err)
		}
	}
}

func TestStateNames(t *testing.T) {
	for s := Waiting; s <= Unavailable; s++ {
		got, err := ParseState(s.String())
		if err != nil || got != s {
			t.Errorf("%s: %s %v", s, got, err)
		}
	}
	if State(99).String() != "state(99)" {
		t.Error("unknown state name")
	}
}
