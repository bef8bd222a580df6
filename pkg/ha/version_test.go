package ha

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const (
	kea22Status = `[{"result":0,"text":"","arguments":{"pid":1,"high-availability":[{"ha-mode":"hot-standby","ha-servers":{"local":{"role":"primary","scopes":["server1"],"state":"hot-standby"},"remote":{"role":"standby","age":1,"in-touch":true,"last-state":"hot-standby"}}}]}}]`
	kea3Status  = `[{"result":0,"text":"","arguments":{"pid":1,"high-availability":[{"ha-mode":"hot-standby","ha-servers":{"local":{"role":"primary","scopes":["server1"],"state":"hot-standby","server-name":"server1","system-time":"2026-11-26 22:51:24"}}}]}}]`
	forbidden   = `{"result":403,"text":"Forbidden"}`
	// twinleafStatus is a twinleaf's status-get behind a restricted listener.
	twinleafStatus = `[{"result":0,"text":"","arguments":{"pid":1,"high-availability":[{"ha-mode":"hot-standby","ha-servers":{"local":{"role":"standby","scopes":[],"state":"hot-standby","server-name":"server2","system-time":"2026-11-26 22:51:24","twinleaf":{"lease4-batch":1,"lb-conflicts":1,"lease4-batches-received":0,"lease4-batch-updates-received":0}}}}]}}]`
)

func TestIdentify(t *testing.T) {
	unreachable := func(map[string]any) ([]byte, error) { return nil, errors.New("connection refused") }
	answer := func(s string) func(map[string]any) ([]byte, error) {
		return func(map[string]any) ([]byte, error) { return []byte(s), nil }
	}
	tests := []struct {
		name           string
		version, state func(map[string]any) ([]byte, error)
		want           Version
		batch, lb      int
		text, err      string
	}{
		{name: "Kea 2.2 behind its control agent", version: answer(`[{"result":0,"text":"2.2.0","arguments":{"extended":"2.2.0\ntarball"}}]`),
			want: Kea22, text: "2.2.0"},
		{name: "Kea 2.6", version: answer(`[{"result":0,"text":"2.6.1"}]`), want: Kea22, text: "2.6.1"},
		{name: "Kea 3.0", version: answer(`[{"result":0,"text":"3.0.1"}]`), want: Kea3, text: "3.0.1"},
		{name: "twinleaf", version: answer(`[{"result":0,"text":"cac7686","arguments":{"extended":"cac7686\ncommit cac7686"}}]`),
			want: Kea3, text: "cac7686"},
		{name: "twinleaf offering batches", version: answer(`[{"result":0,"text":"cac7686","arguments":{"extended":"cac7686","twinleaf":{"lease4-batch":1}}}]`),
			want: Kea3, batch: 1, text: "cac7686"},
		{name: "twinleaf offering batches and the load-balancing conflict rule", version: answer(`[{"result":0,"text":"cac7686","arguments":{"twinleaf":{"lease4-batch":1,"lb-conflicts":1}}}]`),
			want: Kea3, batch: 1, lb: 1, text: "cac7686"},
		{name: "twinleaf offering a later protocol", version: answer(`[{"result":0,"text":"cac7686","arguments":{"twinleaf":{"lease4-batch":2,"more":true}}}]`),
			want: Kea3, batch: 2, text: "cac7686"},
		{name: "twinleaf with a malformed offer", version: answer(`[{"result":0,"text":"cac7686","arguments":{"twinleaf":{"lease4-batch":"yes"}}}]`),
			want: Kea3, text: "cac7686"},
		{name: "Kea 2.2 never batches, whatever it says", version: answer(`[{"result":0,"text":"2.2.0","arguments":{"twinleaf":{"lease4-batch":1,"lb-conflicts":1}}}]`),
			want: Kea22, text: "2.2.0"},
		{name: "restricted twinleaf listener offering batches", version: answer(forbidden), state: answer(twinleafStatus),
			want: Kea3, batch: 1, lb: 1, text: "twinleaf (status-get)"},
		{name: "twinleaf numbered like Kea 2", version: answer(`[{"result":0,"text":"2.0.0","arguments":{"extended":"2.0.0\nlinked with:\ngithub.com/twinleaf/twinleaf"}}]`),
			want: Kea3, text: "2.0.0"},
		{name: "restricted Kea 2.2 listener", version: answer(forbidden), state: answer(kea22Status), want: Kea22, text: "2.x (status-get)"},
		{name: "restricted Kea 3.x listener", version: answer(forbidden), state: answer(kea3Status), want: Kea3, text: "3.x or twinleaf (status-get)"},
		{name: "unsupported version-get", version: answer(`[{"result":2,"text":"'version-get' command not supported."}]`),
			state: answer(kea3Status), want: Kea3, text: "3.x or twinleaf (status-get)"},
		{name: "partner down", version: unreachable, err: "connection refused"},
		{name: "agent without its server", version: answer(`[{"result":1,"text":"unable to forward command to the dhcp4 service"}]`),
			state: answer(`[{"result":1,"text":"unable to forward command to the dhcp4 service"}]`), err: "unable to forward"},
		{name: "garbage", version: answer(`<html>`), state: answer(`[{"result":0,"arguments":{"pid":1}}]`), err: "no high-availability"},
		{name: "restricted twinleaf listener (HTTP 403)", version: func(map[string]any) ([]byte, error) {
			return nil, &StatusError{URL: "https://192.0.2.3:8005/", Code: 403}
		}, state: answer(kea3Status), want: Kea3, text: "3.x or twinleaf (status-get)"},
		{name: "hangs up on status-get", version: answer(forbidden), state: unreachable, err: "status-get to server2: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){"version-get": tt.version}}
			if tt.state != nil {
				tr.answer["status-get"] = tt.state
			}
			p, err := Identify(context.Background(), tr, "server2")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Identify: %+v, %v; want an error with %q", p, err, tt.err)
				}
				return
			}
			want := Partner{Version: tt.want, Text: tt.text, Batch: tt.batch, LBConflicts: tt.lb}
			if err != nil || p != want {
				t.Fatalf("Identify: %+v, %v; want %+v", p, err, want)
			}
		})
	}
}

// TestIdentifyBeforeUpdates: a machine with Identify stays in waiting
// until the partner is identified, asks again after lost contact and when
// the partner restarts (enters waiting), and reports the form it found.
func TestIdentifyBeforeUpdates(t *testing.T) {
	var calls int
	var fail bool
	r := newRig(t, haConfig("hot-standby", "server1"), func(c *Config) {
		c.Identify = func(context.Context) (Partner, error) {
			calls++
			if fail {
				return Partner{Version: Kea3}, errors.New("no answer")
			}
			if calls < 4 {
				return Partner{Version: Kea3, Batch: BatchProtocol}, nil
			}
			return Partner{Version: Kea22}, nil
		}
	})
	partner := Waiting
	up := true
	r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) {
		if !up {
			return nil, errors.New("connection refused")
		}
		return heartbeatBody(partner, r.clk.Now(), 0), nil
	}
	ctx := context.Background()

	fail = true
	r.m.Heartbeat(ctx)
	if s := r.m.State(); s != Waiting || calls != 1 {
		t.Fatalf("partner not identified: state %s after %d calls, want waiting after 1", s, calls)
	}
	if _, known := r.m.PartnerVersion(); known {
		t.Fatal("PartnerVersion known before any identification")
	}
	if !strings.Contains(r.log.String(), "HA_PARTNER_VERSION_UNKNOWN") {
		t.Errorf("no HA_PARTNER_VERSION_UNKNOWN in the log:\n%s", r.log)
	}

	if r.m.BatchAgreed() {
		t.Fatal("batches agreed before any identification")
	}

	fail = false
	r.m.Heartbeat(ctx) // identified, then waiting → syncing → ready
	if v, known := r.m.PartnerVersion(); !known || v != Kea3 || calls != 2 || !r.m.BatchAgreed() {
		t.Fatalf("PartnerVersion %v %v, batches %v after %d calls, want a batching twinleaf after 2", v, known, r.m.BatchAgreed(), calls)
	}
	if s := r.m.State(); s != Ready {
		t.Fatalf("identified partner in waiting: state %s, want ready", s)
	}
	partner = HotStandby
	r.m.Heartbeat(ctx)
	r.m.Heartbeat(ctx)
	if s := r.m.State(); s != HotStandby || calls != 2 {
		t.Fatalf("state %s after %d identifications, want hot-standby with no new one", s, calls)
	}

	up = false
	r.m.Heartbeat(ctx)
	up = true
	r.m.Heartbeat(ctx)
	if calls != 3 {
		t.Errorf("%d identifications after lost contact, want 3", calls)
	}
	partner = Waiting // the partner restarted, perhaps as another release
	r.m.Heartbeat(ctx)
	r.m.Heartbeat(ctx)
	if calls != 4 {
		t.Errorf("%d identifications after the partner restarted, want 4", calls)
	}
	// It came back as Kea 2.2: Kea's form, no batches.
	if v, known := r.m.PartnerVersion(); !known || v != Kea22 || r.m.BatchAgreed() {
		t.Errorf("PartnerVersion %v %v, batches %v; want Kea22 without batches", v, known, r.m.BatchAgreed())
	}
}

// TestIdentifyNilKnowsVersion: without Identify the configured form is
// the partner's from the start.
func TestIdentifyNilKnowsVersion(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server1"), func(c *Config) { c.Version = Kea22 })
	if v, known := r.m.PartnerVersion(); !known || v != Kea22 {
		t.Errorf("PartnerVersion %v %v, want Kea22 known", v, known)
	}
}
