package ha

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/twinleaf/twinleaf/pkg/config"
)

// TestTransitions walks the transition table of Kea's state handlers
// (fact sheet section 1.4), one handler pass per row.
func TestTransitions(t *testing.T) {
	const hs, lb, pb = "hot-standby", "load-balancing", "passive-backup"
	interrupted := func(r *rig) { r.clk.Add(61 * time.Second) }
	unacked := func(n int) func(*rig) {
		return func(r *rig) {
			r.clk.Add(61 * time.Second)
			for i := range n {
				p := query(dhcpv4.MessageTypeDiscover, []byte{0, 0, 0, 0, 0, byte(i)}, nil, 30)
				r.m.InScope(p)
			}
		}
	}
	tests := []struct {
		name          string
		mode, self    string
		from, partner State
		cfg           func(*config.HA)
		setup         func(*rig)
		want          State
	}{
		{name: "waiting backup role", mode: hs, self: "server3", from: Waiting, partner: Unavailable, want: Backup},
		{name: "waiting passive-backup", mode: pb, self: "server1", from: Waiting, partner: Unavailable, want: PassiveBackup},
		{name: "waiting partner hot-standby", mode: hs, self: "server2", from: Waiting, partner: HotStandby, want: Syncing},
		{name: "waiting partner load-balancing", mode: lb, self: "server2", from: Waiting, partner: LoadBalancing, want: Syncing},
		{name: "waiting partner comm-recovery", mode: lb, self: "server2", from: Waiting, partner: CommunicationRecovery, want: Syncing},
		{name: "waiting partner in-maintenance", mode: hs, self: "server2", from: Waiting, partner: InMaintenance, want: Syncing},
		{name: "waiting partner partner-down", mode: hs, self: "server2", from: Waiting, partner: PartnerDown, want: Syncing},
		{name: "waiting partner partner-in-maintenance", mode: hs, self: "server2", from: Waiting, partner: PartnerInMaintenance, want: Syncing},
		{name: "waiting partner ready", mode: hs, self: "server2", from: Waiting, partner: Ready, want: Syncing},
		{name: "waiting partner ready no sync", mode: hs, self: "server2", from: Waiting, partner: Ready,
			cfg: func(h *config.HA) { h.SyncLeases = false }, want: Ready},
		{name: "waiting both primary", mode: hs, self: "server1", from: Waiting, partner: Waiting, want: Syncing},
		{name: "waiting both standby", mode: hs, self: "server2", from: Waiting, partner: Waiting, want: Waiting},
		{name: "waiting partner syncing", mode: hs, self: "server1", from: Waiting, partner: Syncing, want: Waiting},
		{name: "waiting partner terminated", mode: hs, self: "server1", from: Waiting, partner: Terminated, want: Waiting},
		{name: "waiting partner terminated 10 min", mode: hs, self: "server1", from: Waiting, partner: Terminated,
			setup: func(r *rig) { r.clk.Add(10 * time.Minute) }, want: Terminated},
		{name: "waiting unavailable", mode: hs, self: "server2", from: Waiting, partner: Unavailable, want: Waiting},
		{name: "waiting unavailable interrupted", mode: hs, self: "server2", from: Waiting, partner: Unavailable, setup: interrupted, want: PartnerDown},
		{name: "syncing unavailable", mode: hs, self: "server2", from: Syncing, partner: Unavailable, want: Syncing},
		{name: "syncing unavailable interrupted", mode: hs, self: "server2", from: Syncing, partner: Unavailable, setup: interrupted, want: PartnerDown},
		{name: "syncing partner terminated", mode: hs, self: "server2", from: Syncing, partner: Terminated, want: Terminated},
		{name: "syncing succeeds", mode: hs, self: "server2", from: Syncing, partner: PartnerDown, want: Ready},
		{name: "ready partner unavailable", mode: hs, self: "server2", from: Ready, partner: Unavailable, want: Ready},
		{name: "ready unavailable interrupted", mode: hs, self: "server2", from: Ready, partner: Unavailable, setup: interrupted, want: PartnerDown},
		{name: "ready partner hot-standby", mode: hs, self: "server2", from: Ready, partner: HotStandby, want: HotStandby},
		{name: "ready partner load-balancing", mode: lb, self: "server2", from: Ready, partner: LoadBalancing, want: LoadBalancing},
		{name: "ready partner comm-recovery", mode: lb, self: "server2", from: Ready, partner: CommunicationRecovery, want: LoadBalancing},
		{name: "ready both primary", mode: hs, self: "server1", from: Ready, partner: Ready, want: HotStandby},
		{name: "ready both primary lb", mode: lb, self: "server1", from: Ready, partner: Ready, want: LoadBalancing},
		{name: "ready both secondary", mode: lb, self: "server2", from: Ready, partner: Ready, want: Ready},
		{name: "ready partner in-maintenance", mode: hs, self: "server2", from: Ready, partner: InMaintenance, want: PartnerInMaintenance},
		{name: "ready partner partner-in-maintenance", mode: hs, self: "server2", from: Ready, partner: PartnerInMaintenance, want: InMaintenance},
		{name: "ready partner terminated", mode: hs, self: "server2", from: Ready, partner: Terminated, want: Terminated},
		{name: "normal partner in-maintenance", mode: hs, self: "server1", from: HotStandby, partner: InMaintenance, want: PartnerInMaintenance},
		{name: "normal partner partner-in-maintenance", mode: hs, self: "server1", from: HotStandby, partner: PartnerInMaintenance, want: InMaintenance},
		{name: "normal partner partner-down", mode: hs, self: "server1", from: HotStandby, partner: PartnerDown, want: Waiting},
		{name: "normal partner terminated", mode: lb, self: "server1", from: LoadBalancing, partner: Terminated, want: Terminated},
		{name: "normal partner hot-standby", mode: hs, self: "server1", from: HotStandby, partner: HotStandby, want: HotStandby},
		{name: "normal primary unavailable", mode: hs, self: "server1", from: HotStandby, partner: Unavailable, want: HotStandby},
		{name: "normal primary interrupted", mode: hs, self: "server1", from: HotStandby, partner: Unavailable, setup: interrupted, want: PartnerDown},
		{name: "normal standby interrupted idle", mode: hs, self: "server2", from: HotStandby, partner: Unavailable, setup: interrupted, want: HotStandby},
		{name: "normal standby 10 unacked", mode: hs, self: "server2", from: HotStandby, partner: Unavailable, setup: unacked(10), want: HotStandby},
		{name: "normal standby 11 unacked", mode: hs, self: "server2", from: HotStandby, partner: Unavailable, setup: unacked(11), want: PartnerDown},
		{name: "normal lb unavailable", mode: lb, self: "server1", from: LoadBalancing, partner: Unavailable, want: CommunicationRecovery},
		{name: "normal lb unavailable no backlog", mode: lb, self: "server1", from: LoadBalancing, partner: Unavailable,
			cfg: func(h *config.HA) { h.DelayedUpdatesLimit = 0 }, want: LoadBalancing},
		{name: "normal lb interrupted unacked", mode: lb, self: "server1", from: LoadBalancing, partner: Unavailable,
			cfg: func(h *config.HA) { h.MaxUnackedClients = 0 }, setup: interrupted, want: PartnerDown},
		{name: "partner-down partner comm-recovery", mode: lb, self: "server1", from: PartnerDown, partner: CommunicationRecovery, want: Waiting},
		{name: "partner-down partner partner-down", mode: hs, self: "server1", from: PartnerDown, partner: PartnerDown, want: Waiting},
		{name: "partner-down partner partner-in-maintenance", mode: hs, self: "server1", from: PartnerDown, partner: PartnerInMaintenance, want: Waiting},
		{name: "partner-down partner ready", mode: hs, self: "server1", from: PartnerDown, partner: Ready, want: HotStandby},
		{name: "partner-down partner ready new unsent", mode: hs, self: "server1", from: PartnerDown, partner: Ready,
			setup: func(r *rig) { r.m.comm.partnerUnsent = [2]uint64{3, 5} }, want: Waiting},
		{name: "partner-down partner ready same unsent", mode: hs, self: "server1", from: PartnerDown, partner: Ready,
			setup: func(r *rig) { r.m.comm.partnerUnsent = [2]uint64{5, 5} }, want: HotStandby},
		{name: "partner-down partner terminated", mode: hs, self: "server1", from: PartnerDown, partner: Terminated, want: Terminated},
		{name: "partner-down partner waiting", mode: hs, self: "server1", from: PartnerDown, partner: Waiting, want: PartnerDown},
		{name: "partner-in-maintenance unavailable", mode: hs, self: "server1", from: PartnerInMaintenance, partner: Unavailable, want: PartnerDown},
		{name: "partner-in-maintenance partner in-maintenance", mode: hs, self: "server1", from: PartnerInMaintenance, partner: InMaintenance, want: PartnerInMaintenance},
		{name: "in-maintenance stays", mode: hs, self: "server2", from: InMaintenance, partner: Unavailable, setup: interrupted, want: InMaintenance},
		{name: "comm-recovery partner in-maintenance", mode: lb, self: "server1", from: CommunicationRecovery, partner: InMaintenance, want: PartnerInMaintenance},
		{name: "comm-recovery partner partner-down", mode: lb, self: "server1", from: CommunicationRecovery, partner: PartnerDown, want: Waiting},
		{name: "comm-recovery partner partner-in-maintenance", mode: lb, self: "server1", from: CommunicationRecovery, partner: PartnerInMaintenance, want: InMaintenance},
		{name: "comm-recovery partner terminated", mode: lb, self: "server1", from: CommunicationRecovery, partner: Terminated, want: Terminated},
		{name: "comm-recovery contact restored", mode: lb, self: "server1", from: CommunicationRecovery, partner: LoadBalancing, want: LoadBalancing},
		{name: "comm-recovery partner also recovering", mode: lb, self: "server1", from: CommunicationRecovery, partner: CommunicationRecovery, want: LoadBalancing},
		{name: "comm-recovery overflowed resets", mode: lb, self: "server1", from: CommunicationRecovery, partner: LoadBalancing,
			setup: func(r *rig) { r.bl.overflowed = true; r.tr.answer["ha-reset"] = ok("HA state machine reset.") }, want: Waiting},
		{name: "comm-recovery replay fails resets", mode: lb, self: "server1", from: CommunicationRecovery, partner: LoadBalancing,
			setup: func(r *rig) {
				r.bl.replayErr = errors.New("timeout")
				r.tr.answer["ha-reset"] = ok("HA state machine reset.")
			}, want: Waiting},
		{name: "comm-recovery reset fails", mode: lb, self: "server1", from: CommunicationRecovery, partner: LoadBalancing,
			setup: func(r *rig) { r.bl.overflowed = true }, want: CommunicationRecovery},
		{name: "comm-recovery partner waiting overflowed", mode: lb, self: "server1", from: CommunicationRecovery, partner: Waiting,
			setup: func(r *rig) { r.bl.overflowed = true }, want: Waiting},
		{name: "comm-recovery partner syncing", mode: lb, self: "server1", from: CommunicationRecovery, partner: Syncing, want: CommunicationRecovery},
		{name: "comm-recovery unavailable", mode: lb, self: "server1", from: CommunicationRecovery, partner: Unavailable, want: CommunicationRecovery},
		{name: "comm-recovery interrupted unacked", mode: lb, self: "server1", from: CommunicationRecovery, partner: Unavailable,
			cfg: func(h *config.HA) { h.MaxUnackedClients = 0 }, setup: interrupted, want: PartnerDown},
		{name: "terminated stays", mode: hs, self: "server1", from: Terminated, partner: Ready, want: Terminated},
		{name: "backup stays", mode: hs, self: "server3", from: Backup, partner: Unavailable, setup: interrupted, want: Backup},
		{name: "invalid partner state", mode: hs, self: "server1", from: HotStandby, partner: LoadBalancing, want: Waiting},
		{name: "invalid partner state in lb", mode: lb, self: "server1", from: PartnerDown, partner: HotStandby, want: Waiting},
		{name: "invalid partner state while waiting", mode: hs, self: "server1", from: Waiting, partner: CommunicationRecovery, want: Waiting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := haConfig(tt.mode, tt.self)
			if tt.cfg != nil {
				tt.cfg(&h)
			}
			r := newRig(t, h)
			r.force(tt.from, tt.partner)
			if tt.partner == Terminated {
				r.m.comm.partnerSince = r.clk.Now() // the partner's state time, not the rig's start
			}
			// The entry pass of the starting state, then the setup, then
			// the pass under test.
			r.m.mu.Lock()
			r.m.onEntry()
			r.m.mu.Unlock()
			if tt.setup != nil {
				tt.setup(r)
			}
			if got := r.step(); got != tt.want {
				t.Errorf("%s with partner %s: got %s, want %s\nlog:\n%s", tt.from, tt.partner, got, tt.want, r.log)
			}
		})
	}
}

func ok(text string) func(map[string]any) ([]byte, error) {
	return func(map[string]any) ([]byte, error) {
		return []byte(`[ { "result": 0, "text": "` + text + `" } ]`), nil
	}
}

// query is a DHCPv4 query of type t; secs is the secs field.
func query(t dhcpv4.MessageType, hw, clientID []byte, secs uint16) *dhcpv4.DHCPv4 {
	mods := []dhcpv4.Modifier{dhcpv4.WithMessageType(t), dhcpv4.WithHwAddr(hw)}
	if clientID != nil {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(clientID)))
	}
	p, err := dhcpv4.New(mods...)
	if err != nil {
		panic(err)
	}
	p.NumSeconds = secs
	return p
}

func TestSyncFailureStaysAndMarksPartnerUnavailable(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server2"), func(c *Config) {
		c.Syncer = syncFunc(func(context.Context) error { return errors.New("lease4-get-page timed out") })
	})
	r.force(Syncing, PartnerDown)
	if got := r.step(); got != Syncing {
		t.Fatalf("state %s, want syncing", got)
	}
	if p := r.m.PartnerState(); p != Unavailable {
		t.Errorf("partner %s, want unavailable", p)
	}
	if !strings.Contains(r.log.String(), "HA_SYNC_FAILED server2: lease database synchronization with server1 failed: lease4-get-page timed out") {
		t.Errorf("no HA_SYNC_FAILED line:\n%s", r.log)
	}
}

func TestBacklogClearedOnLeavingRecovery(t *testing.T) {
	r := newRig(t, haConfig("load-balancing", "server1"))
	r.force(CommunicationRecovery, LoadBalancing)
	if got := r.step(); got != LoadBalancing {
		t.Fatalf("state %s, want load-balancing", got)
	}
	if r.bl.replayed != 1 || r.bl.cleared != 1 {
		t.Errorf("replayed %d, cleared %d; want 1, 1", r.bl.replayed, r.bl.cleared)
	}
}

func TestDHCPAndScopesPerState(t *testing.T) {
	tests := []struct {
		mode, self string
		state      State
		autoFail   bool
		enabled    bool
		scopes     string
	}{
		{"hot-standby", "server1", Waiting, true, false, ""},
		{"hot-standby", "server1", Syncing, true, false, ""},
		{"hot-standby", "server1", Ready, true, false, ""},
		{"hot-standby", "server1", HotStandby, true, true, "server1"},
		{"hot-standby", "server2", HotStandby, true, true, ""},
		{"hot-standby", "server2", PartnerDown, true, true, "server1"},
		{"hot-standby", "server2", PartnerDown, false, true, ""},
		{"hot-standby", "server2", PartnerInMaintenance, false, true, "server1"},
		{"hot-standby", "server2", InMaintenance, true, false, ""},
		{"hot-standby", "server2", Terminated, true, true, ""},
		{"hot-standby", "server1", Terminated, true, true, "server1"},
		{"hot-standby", "server3", Backup, true, false, ""},
		{"load-balancing", "server2", LoadBalancing, true, true, "server2"},
		{"load-balancing", "server2", CommunicationRecovery, true, true, "server2"},
		{"load-balancing", "server2", PartnerDown, true, true, "server1,server2"},
		{"load-balancing", "server2", PartnerDown, false, true, "server2"},
		{"passive-backup", "server1", PassiveBackup, true, true, "server1"},
	}
	for _, tt := range tests {
		h := haConfig(tt.mode, tt.self)
		for i := range h.Peers {
			h.Peers[i].AutoFailover = tt.autoFail
		}
		var told []bool
		r := newRig(t, h, func(c *Config) { c.SetDHCP = func(on bool) { told = append(told, on) } })
		r.force(tt.state, Unavailable)
		r.m.mu.Lock()
		r.m.onEntry()
		r.m.mu.Unlock()
		if r.m.DHCPEnabled() != tt.enabled {
			t.Errorf("%s %s in %s: DHCP enabled %v, want %v", tt.mode, tt.self, tt.state, r.m.DHCPEnabled(), tt.enabled)
		}
		if tt.enabled && (len(told) != 1 || !told[0]) {
			t.Errorf("%s in %s: SetDHCP calls %v, want [true]", tt.self, tt.state, told)
		}
		if got := strings.Join(r.m.Scopes(), ","); got != tt.scopes {
			t.Errorf("%s %s in %s (auto-failover %v): scopes %q, want %q", tt.mode, tt.self, tt.state, tt.autoFail, got, tt.scopes)
		}
	}
}

func TestPauseAndContinue(t *testing.T) {
	h := haConfig("hot-standby", "server1")
	h.StateMachine = map[string]string{"waiting": "once", "ready": "always"}
	r := newRig(t, h)
	r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) { return heartbeatBody(Waiting, r.clk.Now(), 0), nil }
	ctx := context.Background()
	if err := r.m.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if s := r.m.State(); s != Waiting || !r.m.Paused() {
		t.Fatalf("state %s paused %v; want waiting, paused", s, r.m.Paused())
	}
	if a := r.m.Continue(); a.Text != "HA state machine continues." {
		t.Errorf("continue: %q", a.Text)
	}
	if a := r.m.Continue(); a.Text != "HA state machine is not paused." {
		t.Errorf("second continue: %q", a.Text)
	}
	r.m.Heartbeat(ctx)
	// waiting → syncing → ready, which pauses on entry.
	if s := r.m.State(); s != Ready || !r.m.Paused() {
		t.Fatalf("state %s paused %v; want ready, paused", s, r.m.Paused())
	}
	r.m.Heartbeat(ctx)
	if s := r.m.State(); s != Ready {
		t.Fatalf("paused machine moved to %s", s)
	}
	r.m.Continue()
	r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) { return heartbeatBody(Ready, r.clk.Now(), 0), nil }
	r.m.Heartbeat(ctx)
	if s := r.m.State(); s != HotStandby {
		t.Errorf("after continue: %s, want hot-standby", s)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	h := haConfig("hot-standby", "server9")
	if _, err := New(Config{HA: h, Transport: &fakeTransport{}}); err == nil || !strings.Contains(err.Error(), `"server9" matches no peer`) {
		t.Errorf("unknown this-server-name: %v", err)
	}
	if _, err := New(Config{HA: haConfig("hot-standby", "server1")}); err == nil || !strings.Contains(err.Error(), "no transport") {
		t.Errorf("no transport: %v", err)
	}
	if _, err := New(Config{HA: haConfig("passive-backup", "server1")}); err != nil {
		t.Errorf("passive-backup needs no transport: %v", err)
	}
}

func TestRecoverySendsReset(t *testing.T) {
	r := newRig(t, haConfig("load-balancing", "server1"))
	r.tr.answer["ha-reset"] = ok("HA state machine reset.")
	r.bl.overflowed = true
	r.force(CommunicationRecovery, LoadBalancing)
	if got := r.step(); got != Waiting {
		t.Fatalf("state %s, want waiting", got)
	}
	if got := strings.Join(r.tr.commands(), ","); got != "ha-reset" || r.bl.replayed != 0 {
		t.Errorf("sent %q, replayed %d; want ha-reset and no replay of an overflowed backlog", got, r.bl.replayed)
	}
	if args := r.tr.sent[0]["arguments"].(map[string]any); args["server-name"] != "server1" {
		t.Errorf("ha-reset arguments %v", args)
	}
}

// TestHeartbeatFailureLogged: a heartbeat that fails says why in Kea's
// words, and once max-response-delay has passed that communication is
// interrupted.
func TestHeartbeatFailureLogged(t *testing.T) {
	tests := []struct {
		name   string
		answer func(map[string]any) ([]byte, error)
		want   string
	}{
		{"no answer", nil, "HA_HEARTBEAT_COMMUNICATIONS_FAILED server1: failed to send heartbeat to server2: ha: ha-heartbeat to server2: connection refused"},
		{"not JSON", func(map[string]any) ([]byte, error) { return []byte("<html>"), nil }, "HA_HEARTBEAT_FAILED server1: heartbeat to server2 failed: ha: bad answer"},
		{"wrong shape", func(map[string]any) ([]byte, error) { return []byte(`[{"result":0,"arguments":{"state":42}}]`), nil },
			"HA_HEARTBEAT_FAILED server1: heartbeat to server2 failed:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, haConfig("hot-standby", "server1"))
			if tt.answer != nil {
				r.tr.answer["ha-heartbeat"] = tt.answer
			}
			r.m.Heartbeat(context.Background())
			if !strings.Contains(r.log.String(), tt.want) {
				t.Errorf("log lacks %q:\n%s", tt.want, r.log)
			}
			if strings.Contains(r.log.String(), "HA_COMMUNICATION_INTERRUPTED ") {
				t.Errorf("interrupted before max-response-delay:\n%s", r.log)
			}
			r.clk.Add(61 * time.Second)
			r.m.Heartbeat(context.Background())
			if want := "HA_COMMUNICATION_INTERRUPTED server1: communication with server2 is interrupted"; !strings.Contains(r.log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, r.log)
			}
		})
	}
}

// TestHeartbeatTimeout: a heartbeat waits no longer than max-response-delay
// (or heartbeat-delay when longer), at least a second, at most Kea's 10 s.
func TestHeartbeatTimeout(t *testing.T) {
	for _, tc := range []struct {
		heartbeat, maxResponse uint32 // ms
		want                   time.Duration
	}{
		{10000, 60000, 10 * time.Second}, // Kea's defaults: as Kea
		{1000, 3000, 3 * time.Second},
		{5000, 2000, 5 * time.Second},
		{100, 200, time.Second},
	} {
		m := &Machine{ha: config.HA{HeartbeatDelay: tc.heartbeat, MaxResponseDelay: tc.maxResponse}}
		if got := m.heartbeatTimeout(); got != tc.want {
			t.Errorf("heartbeat-delay %d, max-response-delay %d: timeout %v, want %v", tc.heartbeat, tc.maxResponse, got, tc.want)
		}
	}
}

// TestSyncCompleteHold is Kea 3.x's hold after ha-sync-complete-notify in
// partner-down: local service stops until the next heartbeat, which
// either finds the partner ready (the pair moves on) or fails (service
// resumes in partner-down). In any other state the notify only answers.
func TestSyncCompleteHold(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, haConfig("hot-standby", "server1"))
	r.force(PartnerDown, Unavailable)
	r.step()
	if !r.m.DHCPEnabled() {
		t.Fatal("partner-down does not serve")
	}

	if a := r.m.SyncComplete(); a.Result != 0 {
		t.Fatalf("ha-sync-complete-notify answered %+v", a)
	}
	if r.m.DHCPEnabled() {
		t.Fatal("partner-down serves after the partner's sync completed, before a heartbeat")
	}
	r.m.Heartbeat(ctx) // no answer: the transport refuses
	if st := r.m.State(); st != PartnerDown || !r.m.DHCPEnabled() {
		t.Fatalf("after a failed heartbeat: %s, serving %v; want partner-down, serving", st, r.m.DHCPEnabled())
	}
	r.m.Heartbeat(ctx) // the hold is not re-armed by later heartbeats
	if !r.m.DHCPEnabled() {
		t.Fatal("a second failed heartbeat stopped the service")
	}

	r.m.SyncComplete()
	r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) { return heartbeatBody(Ready, r.clk.Now(), 0), nil }
	r.m.Heartbeat(ctx)
	if st := r.m.State(); st != HotStandby || !r.m.DHCPEnabled() {
		t.Errorf("after the partner answered ready: %s, serving %v; want hot-standby, serving", st, r.m.DHCPEnabled())
	}

	r.m.SyncComplete()
	if !r.m.DHCPEnabled() {
		t.Error("in hot-standby the notify stopped the service")
	}
}
