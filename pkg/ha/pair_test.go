package ha

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// link is an in-memory network between two machines: each command is
// served by the peer's handlers, list-wrapped as over HTTP.
type link struct {
	mu    sync.Mutex
	peers map[string]*Machine
	down  map[string]bool
	seen  []string
}

func (l *link) Call(ctx context.Context, peer string, body []byte) ([]byte, error) {
	l.mu.Lock()
	m, down := l.peers[peer], l.down[peer]
	l.mu.Unlock()
	if down {
		return nil, errors.New("connect: connection refused")
	}
	req, err := ctrl.ParseRequest(body)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.seen = append(l.seen, peer+" "+string(body))
	l.mu.Unlock()
	var a ctrl.Answer
	switch req.Command {
	case "ha-heartbeat":
		if err := m.CheckServerName(req.Arguments); err != nil {
			a = ctrl.Error("%v", err)
			break
		}
		a = m.HeartbeatAnswer()
	case "ha-maintenance-notify":
		n, err := ParseMaintenanceNotify(req.Arguments)
		if err != nil {
			a = ctrl.Error("%v", err)
			break
		}
		a = m.HandleMaintenanceNotify(ctx, n)
	case "ha-reset":
		a = m.Reset(ctx)
	case "ha-sync-complete-notify":
		a = m.SyncComplete()
	case "dhcp-disable", "dhcp-enable", "lease4-update", "lease4-del":
		a = ctrl.Success("done", nil)
	default:
		a = ctrl.Unsupported(req.Command)
	}
	return json.Marshal([]ctrl.Answer{a})
}

func (l *link) setDown(name string, down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down[name] = down
}

// pair is two hot-standby servers on one link and one clock.
type pair struct {
	clk          *clock
	mode         string
	link         *link
	a, b         *Machine // server1 primary, server2 standby
	logA, logB   *strings.Builder
	syncA, syncB int
}

func newPair(t *testing.T, mode string) *pair {
	t.Helper()
	p := &pair{clk: newClock(), link: &link{peers: map[string]*Machine{}, down: map[string]bool{}},
		logA: &strings.Builder{}, logB: &strings.Builder{}}
	p.mode = mode
	p.a = p.restart(t, "server1", p.logA, &p.syncA)
	p.b = p.restart(t, "server2", p.logB, &p.syncB)
	return p
}

// restart builds (or rebuilds, as after a reboot) one server of the pair.
func (p *pair) restart(t *testing.T, self string, log *strings.Builder, syncs *int) *Machine {
	t.Helper()
	m, err := New(Config{HA: haConfig(p.mode, self), Now: p.clk.Now, Transport: p.link,
		Syncer: syncFunc(func(context.Context) error { *syncs++; return nil }),
		Log:    hclog.New(&hclog.LoggerOptions{Output: log, Level: hclog.Info})})
	if err != nil {
		t.Fatal(err)
	}
	p.link.mu.Lock()
	p.link.peers[self] = m
	p.link.mu.Unlock()
	return m
}

// beat runs one heartbeat round, a first, as two servers' loops would.
func (p *pair) beat() {
	p.clk.Add(10 * time.Second)
	ctx := context.Background()
	if !p.link.down["server1"] {
		p.a.Heartbeat(ctx)
	}
	if !p.link.down["server2"] {
		p.b.Heartbeat(ctx)
	}
}

func (p *pair) until(t *testing.T, sa, sb State) {
	t.Helper()
	for range 20 {
		if p.a.State() == sa && p.b.State() == sb {
			return
		}
		p.beat()
	}
	t.Fatalf("pair at %s/%s, want %s/%s\nserver1:\n%s\nserver2:\n%s", p.a.State(), p.b.State(), sa, sb, p.logA, p.logB)
}

func TestPairStartsAndFailsOver(t *testing.T) {
	p := newPair(t, "hot-standby")
	p.until(t, HotStandby, HotStandby)
	if p.syncA != 1 || p.syncB != 1 {
		t.Errorf("syncs %d/%d, want one each", p.syncA, p.syncB)
	}
	if !p.a.DHCPEnabled() || !p.b.DHCPEnabled() {
		t.Error("DHCP off in hot-standby")
	}
	want := "HA_STATE_TRANSITION server2: server transitions from READY to HOT-STANDBY state, partner state is HOT-STANDBY"
	if !strings.Contains(p.logB.String(), want) {
		t.Errorf("server2 log lacks %q:\n%s", want, p.logB)
	}
	// The standby dies: the primary goes partner-down after
	// max-response-delay and counts the updates it cannot send.
	p.link.setDown("server2", true)
	p.until(t, PartnerDown, HotStandby)
	p.a.Committed()
	// The standby comes back, resyncs, and the primary returns to
	// hot-standby because the counter moved.
	if n := p.a.UnsentUpdateCount(); n != 1 {
		t.Errorf("unsent %d, want 1", n)
	}
	// The standby restarts, resyncs from the primary in partner-down, and
	// both return to hot-standby.
	p.b = p.restart(t, "server2", p.logB, &p.syncB)
	p.link.setDown("server2", false)
	p.until(t, HotStandby, HotStandby)
	if p.syncB != 2 {
		t.Errorf("standby synced %d times, want 2", p.syncB)
	}
}

func TestMaintenanceFlow(t *testing.T) {
	p := newPair(t, "hot-standby")
	p.until(t, HotStandby, HotStandby)
	ctx := context.Background()
	if a := p.b.MaintenanceCancel(ctx); a.Result != 1 {
		t.Errorf("cancel outside maintenance: %+v", a)
	}
	// The standby takes over so the primary can be shut down.
	a := p.b.MaintenanceStart(ctx)
	if a.Result != 0 || p.b.State() != PartnerInMaintenance || p.a.State() != InMaintenance {
		t.Fatalf("start: %+v, states %s/%s", a, p.a.State(), p.b.State())
	}
	if p.a.DHCPEnabled() || !p.b.DHCPEnabled() || strings.Join(p.b.Scopes(), ",") != "server1" {
		t.Errorf("in maintenance: primary DHCP %v, standby DHCP %v scopes %v", p.a.DHCPEnabled(), p.b.DHCPEnabled(), p.b.Scopes())
	}
	if !strings.Contains(p.logA.String(), "HA_MAINTENANCE_SHUTDOWN_SAFE server1") {
		t.Errorf("no shutdown-safe line:\n%s", p.logA)
	}
	if a := p.b.MaintenanceStart(ctx); a.Result != 1 {
		t.Errorf("second start: %+v", a)
	}
	// Heartbeats go on and change nothing; updates still go out.
	p.beat()
	p.beat()
	if p.a.State() != InMaintenance || p.b.State() != PartnerInMaintenance || p.b.Committed() != UpdateSend {
		t.Fatalf("maintenance did not hold: %s/%s", p.a.State(), p.b.State())
	}
	// A maintenance notify for the other side is refused with 1001.
	if a := p.b.HandleMaintenanceNotify(ctx, MaintenanceNotify{}); a.Result != ResultMaintenanceNotAllowed ||
		a.Text != "Unable to transition the server from the partner-in-maintenance to in-maintenance state." {
		t.Errorf("notify to partner-in-maintenance: %+v", a)
	}
	if a := p.b.MaintenanceCancel(ctx); a.Result != 0 {
		t.Fatalf("cancel: %+v", a)
	}
	if p.a.State() != HotStandby || p.b.State() != HotStandby {
		t.Errorf("after cancel: %s/%s, want hot-standby both", p.a.State(), p.b.State())
	}
	p.beat()
	p.until(t, HotStandby, HotStandby)
}

func TestMaintenancePartnerDies(t *testing.T) {
	p := newPair(t, "hot-standby")
	p.until(t, HotStandby, HotStandby)
	p.b.MaintenanceStart(context.Background())
	p.link.setDown("server1", true)
	p.beat()
	if s := p.b.State(); s != PartnerDown {
		t.Errorf("partner-in-maintenance with a dead partner: %s, want partner-down at once", s)
	}
}

func TestMaintenanceStartPartnerOffline(t *testing.T) {
	h := haConfig("hot-standby", "server2")
	for i := range h.Peers {
		h.Peers[i].AutoFailover = false
	}
	r := newRig(t, h)
	r.force(HotStandby, HotStandby)
	r.step()
	a := r.m.MaintenanceStart(context.Background())
	if a.Result != 0 || !strings.Contains(a.Text, "partner-down") || r.m.State() != PartnerDown {
		t.Fatalf("start with the partner offline: %+v, state %s", a, r.m.State())
	}
	// Maintenance serves every scope even without auto-failover.
	if got := strings.Join(r.m.Scopes(), ","); got != "server1" {
		t.Errorf("scopes %q, want server1", got)
	}
	r.tr.answer["ha-maintenance-notify"] = func(map[string]any) ([]byte, error) {
		return []byte(`[ { "result": 1001, "text": "Unable to transition the server from the terminated to in-maintenance state." } ]`), nil
	}
	r.force(HotStandby, HotStandby)
	a = r.m.MaintenanceStart(context.Background())
	if a.Result != 1 || !strings.Contains(a.Text, "terminated to in-maintenance") || r.m.State() != HotStandby {
		t.Errorf("start refused by the partner: %+v, state %s", a, r.m.State())
	}
}

func TestServerNameCheck(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server1"))
	for _, tt := range []struct {
		args string
		err  string
	}{
		{``, ""}, {`{}`, ""}, {`{"server-name":"server2"}`, ""},
		{`{"server-name":"server9"}`, "server9 matches no configured 'server-name'"},
		{`[1]`, "arguments are not a map"},
	} {
		err := r.m.CheckServerName(json.RawMessage(tt.args))
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %v, want %q", tt.args, err, tt.err)
		}
	}
}

func TestStatus(t *testing.T) {
	p := newPair(t, "hot-standby")
	p.until(t, HotStandby, HotStandby)
	p.beat()
	st := p.a.Status()
	b, _ := json.Marshal(st)
	for _, want := range []string{`"ha-mode":"hot-standby"`, `"state":"hot-standby"`, `"last-state":"hot-standby"`,
		`"in-touch":true`, `"clock-skew":0`, `"scopes":["server1"]`, `"last-scopes":[]`, `"communication-interrupted":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("status lacks %s: %s", want, b)
		}
	}
}

func TestPairLoadBalancing(t *testing.T) {
	p := newPair(t, "load-balancing")
	p.until(t, LoadBalancing, LoadBalancing)
	if got := strings.Join(p.b.Scopes(), ","); got != "server2" {
		t.Errorf("secondary scopes %q", got)
	}
	// One missed heartbeat: communication-recovery, still serving.
	p.link.setDown("server2", true)
	p.clk.Add(10 * time.Second)
	p.a.Heartbeat(context.Background())
	if p.a.State() != CommunicationRecovery || p.a.Committed() != UpdateQueue {
		t.Fatalf("after a failed heartbeat: %s", p.a.State())
	}
	p.link.setDown("server2", false)
	p.until(t, LoadBalancing, LoadBalancing)
}
