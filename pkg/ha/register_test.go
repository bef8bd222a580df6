package ha

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

func TestRegister(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server1"))
	r.force(HotStandby, HotStandby)
	r.step()
	reg := ctrl.NewRegistry()
	syncs := 0
	r.m.cfg.Syncer = syncFunc(func(context.Context) error { syncs++; return nil })
	if err := Register(reg, r.m, syncFunc(func(context.Context) error { return nil })); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"ha-heartbeat", "ha-reset", "ha-maintenance-notify", "ha-sync-complete-notify", "ha-continue",
		"ha-maintenance-start", "ha-maintenance-cancel", "ha-scopes", "ha-sync"} {
		if !slices.Contains(reg.Commands(), c) {
			t.Errorf("%s not registered", c)
		}
	}
	serve := func(body string) ctrl.Answer { return reg.Serve(context.Background(), []byte(body)) }
	a := serve(`{"command":"ha-heartbeat","service":["dhcp4"],"arguments":{"server-name":"server2"}}`)
	b, _ := json.Marshal(a)
	if a.Result != 0 || !strings.Contains(string(b), `"state":"hot-standby"`) || !strings.Contains(string(b), `"scopes":["server1"]`) {
		t.Errorf("heartbeat: %s", b)
	}
	if a := serve(`{"command":"ha-heartbeat","arguments":{"server-name":"server7"}}`); a.Result != 1 || a.Text != "server7 matches no configured 'server-name'" {
		t.Errorf("unknown server-name: %+v", a)
	}
	if a := serve(`{"command":"ha-scopes","arguments":{"scopes":["server1","server2"]}}`); a.Result != 0 || strings.Join(r.m.Scopes(), ",") != "server1,server2" {
		t.Errorf("ha-scopes: %+v, scopes %v", a, r.m.Scopes())
	}
	if a := serve(`{"command":"ha-maintenance-notify","arguments":{}}`); a.Result != 1 || !strings.Contains(a.Text, "'cancel' is mandatory") {
		t.Errorf("notify without cancel: %+v", a)
	}
	if a := serve(`{"command":"ha-sync"}`); a.Result != 0 {
		t.Errorf("ha-sync: %+v", a)
	}
	// Reset runs the handlers at once, as Kea does: waiting, a sync, then
	// back to hot-standby with the partner last seen there.
	if a := serve(`{"command":"ha-reset"}`); a.Result != 0 || a.Text != "HA state machine reset." || syncs != 1 || r.m.State() != HotStandby {
		t.Errorf("ha-reset: %+v, %d syncs, in %s", a, syncs, r.m.State())
	}
	if !strings.Contains(r.log.String(), "from HOT-STANDBY to WAITING state") {
		t.Errorf("no transition to waiting logged:\n%s", r.log)
	}
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		args string
		want []string
		err  string
	}{
		{`{"scopes":["server1"]}`, []string{"server1"}, ""},
		{`{"scopes":[]}`, []string{}, ""},
		{`{}`, nil, "mandatory"},
		{``, nil, "mandatory"},
		{`{"scopes":"server1"}`, nil, "list of strings"},
		{`[]`, nil, "not a map"},
	}
	for _, tt := range tests {
		got, err := ParseScopes(json.RawMessage(tt.args))
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v %v; want %v %q", tt.args, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{`{"scopes":["server1","server2"]}`, `{"scopes":[]}`, `{"scopes":null}`, `{}`, `[1]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		scopes, err := ParseScopes(b)
		if err != nil {
			return
		}
		enc, _ := json.Marshal(map[string]any{"scopes": scopes})
		back, err := ParseScopes(enc)
		if err != nil || !slices.Equal(back, scopes) {
			t.Fatalf("round trip of %v: %v %v", scopes, back, err)
		}
	})
}
