package ha

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// failHeartbeats makes every heartbeat fail with err.
func (r *rig) failHeartbeats(err error) {
	r.tr.mu.Lock()
	defer r.tr.mu.Unlock()
	r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) { return nil, err }
}

// answerHeartbeats makes the partner answer every heartbeat in state s.
func (r *rig) answerHeartbeats(s State) {
	r.tr.mu.Lock()
	defer r.tr.mu.Unlock()
	r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) { return heartbeatBody(s, r.clk.Now(), 0), nil }
}

// beatFor sends a heartbeat every heartbeat-delay (10 s) for d.
func (r *rig) beatFor(d time.Duration) {
	for end := r.clk.Now().Add(d); r.clk.Now().Before(end); {
		r.clk.Add(10 * time.Second)
		r.m.Heartbeat(context.Background())
	}
}

// remoteFault is status-get's config-fault of the remote server, "" when
// absent.
func remoteFault(t *testing.T, m *Machine) string {
	t.Helper()
	remote, _ := m.Status()["ha-servers"].(map[string]any)["remote"].(map[string]any)
	if remote == nil {
		t.Fatal("status has no remote server")
	}
	f, _ := remote["config-fault"].(string)
	return f
}

var errUnauthorized = &StatusError{URL: "https://192.0.2.2:8005/", Code: http.StatusUnauthorized}

// TestConfigFaultHoldsTheStandby: a partner that refuses our credentials
// never makes the standby (or load-balancing secondary) take over, while
// the primary serves alone as Kea's primary does with a partner that
// cannot be reached. A plain failure still fails over as Kea does.
func TestConfigFaultHoldsTheStandby(t *testing.T) {
	for _, tt := range []struct {
		name           string
		mode, self     string
		from           State
		err            error
		want           State
		wantFault      bool
		serving        bool
		wantConsequent string
	}{
		{"standby waiting", "hot-standby", "server2", Waiting, errUnauthorized, Waiting, true, false, "does not take over"},
		{"standby in hot-standby", "hot-standby", "server2", HotStandby, errUnauthorized, HotStandby, true, false, "does not take over"},
		{"primary waiting", "hot-standby", "server1", Waiting, errUnauthorized, PartnerDown, true, true, "serves alone"},
		{"primary in hot-standby", "hot-standby", "server1", HotStandby, errUnauthorized, PartnerDown, true, true, "serves alone"},
		{"secondary waiting", "load-balancing", "server2", Waiting, errUnauthorized, Waiting, true, false, "does not take over"},
		{"secondary load-balancing stops serving", "load-balancing", "server2", LoadBalancing, errUnauthorized, Waiting, true, false, "does not take over"},
		{"load-balancing primary", "load-balancing", "server1", LoadBalancing, errUnauthorized, PartnerDown, true, true, "serves alone"},
		{"standby, partner down", "hot-standby", "server2", Waiting, errors.New("connection refused"), PartnerDown, false, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, haConfig(tt.mode, tt.self))
			r.force(tt.from, Unavailable)
			r.failHeartbeats(tt.err)
			r.beatFor(10 * time.Minute)
			if s, scopes := r.m.State(), r.m.Scopes(); s != tt.want || (len(scopes) > 0) != tt.serving {
				t.Fatalf("after 10 min: %s serving %v, want %s serving some: %v\n%s", s, scopes, tt.want, tt.serving, r.log)
			}
			f := remoteFault(t, r.m)
			if !tt.wantFault {
				if f != "" {
					t.Errorf("config-fault %q for a partner that is down", f)
				}
				return
			}
			if !strings.Contains(f, "refused our basic-auth credentials (HTTP 401)") {
				t.Errorf("config-fault %q", f)
			}
			// Logged at ERROR, naming peer, URL, cause and check, once
			// a minute: 60 heartbeats in 10 min give 10 lines.
			lines := strings.Count(r.log.String(), "[ERROR] HA_CONFIG_FAULT")
			partner := map[string]string{"server1": "server2", "server2": "server1"}[tt.self]
			want := "HA_CONFIG_FAULT " + tt.self + ": partner " + partner + " at "
			if lines != 10 || !strings.Contains(r.log.String(), want) || !strings.Contains(r.log.String(), tt.wantConsequent) ||
				!strings.Contains(r.log.String(), "check basic-auth-user") {
				t.Errorf("%d HA_CONFIG_FAULT lines, want 10 with %q and %q:\n%s", lines, want, tt.wantConsequent, r.log)
			}
		})
	}
}

// TestConfigFaultClears: the fault stays through plain failures (a
// partner restarting with the same wrong files), and the first answered
// heartbeat ends it; the standby then joins the pair.
func TestConfigFaultClears(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server2"))
	r.failHeartbeats(errUnauthorized)
	r.beatFor(time.Minute)
	r.failHeartbeats(errors.New("connection refused"))
	r.beatFor(5 * time.Minute)
	if s := r.m.State(); s != Waiting {
		t.Fatalf("after plain failures following the fault: %s, want waiting", s)
	}
	if remoteFault(t, r.m) == "" {
		t.Fatal("a plain failure ended the configuration fault")
	}
	r.answerHeartbeats(PartnerDown)
	r.beatFor(10 * time.Second)
	if f := remoteFault(t, r.m); f != "" {
		t.Errorf("config-fault %q after an answered heartbeat", f)
	}
	if !strings.Contains(r.log.String(), "HA_CONFIG_FAULT_CLEARED server2: requests to partner server1 succeed again") {
		t.Errorf("no HA_CONFIG_FAULT_CLEARED line:\n%s", r.log)
	}
	if s := r.m.State(); s != Ready {
		t.Errorf("state %s after the fault cleared, want ready (synced from the primary)", s)
	}
}

// TestRefusedPartner: the partner's requests refused by our sockets
// (its credentials are wrong) make a fault on our side too, even while
// our own heartbeats get through, so the primary serves alone and says
// why; a heartbeat from the partner ends it. Refusals of other addresses
// are not HA's business.
func TestRefusedPartner(t *testing.T) {
	h := haConfig("hot-standby", "server1")
	for i := range h.Peers {
		if h.Peers[i].Name == "server2" {
			h.Peers[i].Addr = netip.MustParseAddrPort("192.0.2.3:8000")
		}
	}
	r := newRig(t, h)
	r.answerHeartbeats(Waiting)
	r.m.Refused(netip.MustParseAddrPort("192.0.2.77:40000"), ctrl.ErrUnauthorized)
	r.beatFor(10 * time.Second)
	if f := remoteFault(t, r.m); f != "" || r.m.PartnerState() != Waiting {
		t.Fatalf("a refused operator counted against the partner: fault %q, partner %s", f, r.m.PartnerState())
	}
	for range 9 {
		r.m.Refused(netip.MustParseAddrPort("192.0.2.3:40000"), ctrl.ErrUnauthorized) // its heartbeat, refused
		r.beatFor(10 * time.Second)
	}
	if s := r.m.State(); s != PartnerDown || !r.m.DHCPEnabled() {
		t.Fatalf("primary refusing its partner: %s (DHCP %v), want partner-down serving\n%s", s, r.m.DHCPEnabled(), r.log)
	}
	f := remoteFault(t, r.m)
	if !strings.Contains(f, "wrong basic-auth credentials") {
		t.Errorf("config-fault %q", f)
	}
	if !strings.Contains(r.log.String(), "HA_CONFIG_FAULT server1: refused a request from partner server2 (192.0.2.3)") {
		t.Errorf("no refusal line:\n%s", r.log)
	}
	r.m.HeartbeatAnswer() // the partner's heartbeat gets through
	r.answerHeartbeats(Waiting)
	r.beatFor(10 * time.Second)
	if f := remoteFault(t, r.m); f != "" || r.m.PartnerState() != Waiting {
		t.Errorf("after the partner reached us: fault %q, partner %s", f, r.m.PartnerState())
	}
}

// TestConfigFaultOverHTTP: the machine over a real HTTPTransport to a
// listener of another CA records the handshake failure as a fault.
func TestConfigFaultOverHTTP(t *testing.T) {
	l := newFaultLab(t)
	u := l.listen(t, l.serverFiles("b", "b-server"), nil, nil)
	h := twoPeers(t, u, func(p *config.Peer) {
		p.TrustAnchor, p.CertFile, p.KeyFile = l.file("a-ca.pem"), l.file("a-client.pem"), l.file("a-client.key")
	})
	h.Peers[0].Role = "primary" // server2; we, server1, are the standby this time
	h.Peers[1].Role = "standby"
	tr, err := NewHTTPTransport(h)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	r := newRig(t, h, func(c *Config) { c.Transport = tr })
	r.beatFor(2 * time.Minute)
	if s := r.m.State(); s != Waiting {
		t.Errorf("state %s, want waiting", s)
	}
	if f := remoteFault(t, r.m); !strings.Contains(f, "failed our verification (x509: certificate signed by unknown authority") {
		t.Errorf("config-fault %q", f)
	}
}
