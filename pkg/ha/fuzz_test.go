package ha

import (
	"encoding/json"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
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
		args := leaseArgsMap(&leaseArgs{l: l, v: Kea3})
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
		`[{"result":0,"text":"2.0.0","arguments":{"extended":"twinleaf"}}]`, `[{"result":0,"text":"3.0.1","arguments":[]}]`,
		`[{"result":0,"text":"cac7686","arguments":{"extended":"twinleaf","twinleaf":{"lease4-batch":1}}}]`,
		`[{"result":0,"text":"2.2.0","arguments":{"twinleaf":{"lease4-batch":1}}}]`,
		`[{"result":0,"text":"x","arguments":{"twinleaf":{"lease4-batch":-3}}}]`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseVersion(b)
		if err != nil {
			return
		}
		a, aerr := ParseAnswer(b)
		if aerr != nil || a.Result != 0 || a.Text != p.Text {
			t.Fatalf("ParseVersion accepted %q (text %q) that ParseAnswer reads as %+v %v", b, p.Text, a, aerr)
		}
		if p.Version == Kea22 && !keaTwoRelease.MatchString(p.Text) {
			t.Fatalf("Kea 2.2 form for release %q", p.Text)
		}
		if p.Batch < 0 || (p.Version == Kea22 && p.Batch != 0) {
			t.Fatalf("batch offer %d from %+v", p.Batch, p)
		}
	})
}

func FuzzParseStatusVersion(f *testing.F) {
	for _, s := range append(answerSeeds, kea22Status, kea3Status, twinleafStatus, `[{"result":0,"arguments":{"high-availability":[{"ha-servers":{"local":null}}]}}]`,
		`[{"result":0,"arguments":{"high-availability":[{"ha-servers":{"local":{"twinleaf":{"lease4-batch":1}}}}]}}]`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseStatusVersion(b)
		if err != nil {
			return
		}
		if a, aerr := ParseAnswer(b); aerr != nil || a.Result != 0 {
			t.Fatalf("ParseStatusVersion accepted %q that ParseAnswer reads as %+v %v", b, a, aerr)
		}
		if p.Version != Kea22 && p.Version != Kea3 {
			t.Fatalf("version %d", p.Version)
		}
		if p.Batch < 0 || (p.Version == Kea22 && p.Batch != 0) {
			t.Fatalf("batch offer %d from %+v", p.Batch, p)
		}
	})
}

// FuzzParseBatch: a received batch never panics; what parses has one item
// per listed command, each a command or an error, and its answer (each
// item's error result, the others applied) reads back with as many
// results.
func FuzzParseBatch(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"commands":[{"command":"lease4-del","arguments":{"ip-address":"192.0.2.1"}},{"command":"lease4-update","arguments":{}}]}`,
		`{"version":1,"commands":[7,{"arguments":{}},{"command":3},null]}`,
		`{"version":1,"commands":[]}`, `{"version":2,"commands":[]}`, `{"version":1}`, `{"commands":[{}]}`, `[]`, ``, `null`,
		`{"version":1,"commands":[{"command":"lease4-update","arguments":[1]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if fast, ok := parseBatchFast(b); ok {
			// The one-pass reading must agree with the item-by-item one.
			slow, err := parseBatchItems(b)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("one pass read %+v, item by item %+v, %v", fast, slow, err)
			}
		}
		items, err := ParseBatch(b)
		if err != nil {
			return
		}
		out := make([]ctrl.Answer, len(items))
		for i, it := range items {
			if it.Err != "" && (it.Command != "" || it.Arguments != nil) {
				t.Fatalf("item %d both a command and an error: %+v", i, it)
			}
			if it.Err != "" {
				out[i] = ctrl.Error("%s", it.Err)
			} else {
				out[i] = ctrl.Success("applied", nil)
			}
		}
		body, err := json.Marshal([]ctrl.Answer{BatchAnswer(out)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseBatchAnswer(body, len(items))
		if err != nil {
			t.Fatalf("the answer to %q does not read back: %v", b, err)
		}
		for i, a := range got {
			if a.Result != out[i].Result || a.Text != out[i].Text {
				t.Fatalf("result %d %+v, sent %+v", i, a, out[i])
			}
		}
	})
}

// FuzzParseBatchAnswer: any answer body gives either an error or exactly
// n results.
func FuzzParseBatchAnswer(f *testing.F) {
	for _, s := range append(answerSeeds,
		`[{"result":0,"arguments":{"results":[{"result":0,"text":"IPv4 lease updated."},{"result":4,"text":"busy"}]}}]`,
		`[{"result":0,"arguments":{"results":[{"text":"?"}]}}]`, `[{"result":2,"text":"not supported"}]`) {
		f.Add([]byte(s), 2)
	}
	// Answers whose count matches, so the one-pass reading is compared.
	for _, s := range []string{
		`[{"result":0,"arguments":{"results":[{"result":0,"arguments":null}]}}]`,
		`[{"result":0,"text":"1 lease update(s) processed.","arguments":{"results":[{"result":4,"text":"kept","arguments":{"twinleaf-kept-lease":{}}}]}}]`,
		`[{"result":0,"arguments":{"results":[{"result":-1,"text":"a\"b"}]}}]`,
	} {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > MaxBatch {
			return
		}
		got, err := ParseBatchAnswer(b, n)
		if err == nil && len(got) != n {
			t.Fatalf("%d results for %d commands from %q", len(got), n, b)
		}
		if fast, ok := parseBatchAnswerFast(b, n); ok {
			// The one-pass reading must agree with encoding/json's.
			slow, err := parseBatchAnswerJSON(b, n)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%q: one pass read %+v, encoding/json %+v, %v", b, fast, slow, err)
			}
		}
	})
}
