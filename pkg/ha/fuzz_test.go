package ha

import (
	"encoding/json"
	"maps"
	"reflect"
	"testing"
	"time"
)

var answerSeeds = []string{
	`[ { "result": 0, "text": "HA peer status returned.", "arguments": { "state": "hot-standby", "date-time": "Thu, 26 Nov 2026 22:51:24 GMT", "scopes": [ "server1" ], "unsent-update-count": 0 } } ]`,
	`[ { "result": 0, "text": "2 IPv4 lease(s) found.", "arguments": { "count": 1, "leases": [ {"ip-address":"192.168.1.100","hw-address":"1a:1b:1c:1d:1e:1f","subnet-id":1,"cltt":1795731417,"valid-lft":43200,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"","state":0} ] } } ]`,
	`[ { "result": 3, "text": "0 IPv4 lease(s) found.", "arguments": { "count": 0, "leases": [  ] } } ]`,
	`[ { "result": 0, "text": "Server maintenance canceled.", "arguments": { "state": "waiting" } } ]`,
	`[ { "result": 1001, "text": "Unable to transition the server from the terminated to in-maintenance state." } ]`,
	`{ "result": 403, "text": "Forbidden" }`,
	`[]`, `[5]`, `{`, ``, `[{"result":1e400}]`, `[{"result":0,"arguments":null}]`,
}

func FuzzParseAnswer(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnswer(b)
		if err != nil {
			return
		}
		// Round trip: the answer re-encoded list-wrapped reads back the same.
		m := map[string]any{"result": a.Result, "text": a.Text}
		if a.Arguments != nil {
			m["arguments"] = a.Arguments
		}
		enc, err := json.Marshal([]any{m})
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", a, err)
		}
		back, err := ParseAnswer(enc)
		if err != nil || back.Result != a.Result || back.Text != a.Text {
			t.Fatalf("round trip of %s: %+v %v, want %+v", enc, back, err, a)
		}
	})
}

func FuzzParseHeartbeat(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`[{"result":0,"arguments":{"state":"ready","date-time":"Thu, 26 Nov 2026 22:51:24 GMT","twinleaf-clock-synchronized":false,"unsent-update-count":18446744073709551615}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hb, err := ParseHeartbeat(b)
		if err != nil {
			return
		}
		back, err := ParseHeartbeat(answerBody(hb.Arguments()))
		if err != nil {
			t.Fatalf("round trip of %+v: %v", hb, err)
		}
		if hb.Scopes == nil {
			hb.Scopes = []string{}
		}
		hb.Time = hb.Time.UTC().Truncate(time.Second)
		if !reflect.DeepEqual(back, hb) {
			t.Fatalf("round trip: %+v, want %+v", back, hb)
		}
	})
}

func FuzzParseLeasePage(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseLeasePage(b)
		if err != nil {
			return
		}
		for _, l := range p.Leases {
			if !l.Addr.Is4() {
				t.Fatalf("lease with address %s", l.Addr)
			}
		}
	})
}

func FuzzParseLease(f *testing.F) {
	f.Add([]byte(`{"ip-address":"192.168.1.100","hw-address":"1a:1b:1c:1d:1e:1f","client-id":"01:1a","subnet-id":1,"pool-id":2,"cltt":1795731417,"valid-lft":43200,"fqdn-fwd":true,"fqdn-rev":false,"hostname":"laptop","state":0,"user-context":{"a":[1,"b"]}}`))
	f.Add([]byte(`{"ip-address":"10.0.0.1","hw-address":"","subnet-id":0,"cltt":0,"valid-lft":0,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"","state":3}`))
	f.Add([]byte(`{"ip-address":"10.0.0.1","hw-address":"a:b","subnet-id":1,"cltt":-5,"valid-lft":0,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"","state":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLease(b)
		if err != nil {
			return
		}
		// Round trip through the update form, with cltt put back.
		args := leaseArgs(Kea3, l)
		delete(args, "expire")
		delete(args, "origin")
		args["cltt"] = l.CLTT.Unix()
		enc, err := json.Marshal(args)
		if err != nil {
			t.Fatalf("encoding %+v: %v", l, err)
		}
		back, err := ParseLease(enc)
		if err != nil {
			t.Fatalf("round trip of %s: %v", enc, err)
		}
		if len(l.HWAddr) == 0 {
			l.HWAddr = nil
		}
		if len(l.ClientID) == 0 {
			l.ClientID = nil
		}
		if !reflect.DeepEqual(back, l) {
			t.Fatalf("round trip: %+v, want %+v", back, l)
		}
	})
}

func FuzzParseMaintenanceNotify(f *testing.F) {
	for _, s := range []string{`{"cancel":false}`, `{"server-name":"server1","cancel":true,"state":"hot-standby"}`, `{"cancel":null}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseMaintenanceNotify(b)
		if err != nil {
			return
		}
		// The builder's form of what was read reads back the same.
		st, serr := ParseState(n.State)
		if serr != nil {
			return
		}
		c := MaintenanceNotifyCommand(Kea3, "server1", n.Cancel, st)
		args, _ := json.Marshal(c.Arguments)
		back, err := ParseMaintenanceNotify(args)
		if err != nil || back != n {
			t.Fatalf("round trip of %+v: %+v %v", n, back, err)
		}
	})
}

func FuzzParseMaintenanceCancel(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, ok, err := ParseMaintenanceCancel(b)
		if err != nil || !ok {
			return
		}
		if _, err := ParseState(st.String()); err != nil {
			t.Fatalf("parsed state %d has no name", st)
		}
	})
}

// TestCommandArgumentsAreMaps guards the fuzz round trips' assumption.
func TestCommandArgumentsAreMaps(t *testing.T) {
	c := MaintenanceNotifyCommand(Kea3, "s", true, Ready)
	if !maps.Equal(c.Arguments, map[string]any{"server-name": "s", "cancel": true, "state": "ready"}) {
		t.Errorf("arguments %v", c.Arguments)
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range append(answerSeeds, `[{"result":0,"text":"2.2.0","arguments":{"extended":"2.2.0\ntarball"}}]`,
		`[{"result":0,"text":"2.0.0","arguments":{"extended":"twinleaf"}}]`, `[{"result":0,"text":"3.0.1","arguments":[]}]`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, text, err := ParseVersion(b)
		if err != nil {
			return
		}
		a, aerr := ParseAnswer(b)
		if aerr != nil || a.Result != 0 || a.Text != text {
			t.Fatalf("ParseVersion accepted %q (text %q) that ParseAnswer reads as %+v %v", b, text, a, aerr)
		}
		if v == Kea22 && !keaTwoRelease.MatchString(text) {
			t.Fatalf("Kea 2.2 form for release %q", text)
		}
	})
}

func FuzzParseStatusVersion(f *testing.F) {
	for _, s := range append(answerSeeds, kea22Status, kea3Status, `[{"result":0,"arguments":{"high-availability":[{"ha-servers":{"local":null}}]}}]`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseStatusVersion(b)
		if err != nil {
			return
		}
		if a, aerr := ParseAnswer(b); aerr != nil || a.Result != 0 {
			t.Fatalf("ParseStatusVersion accepted %q that ParseAnswer reads as %+v %v", b, a, aerr)
		}
		if v != Kea22 && v != Kea3 {
			t.Fatalf("version %d", v)
		}
	})
}
