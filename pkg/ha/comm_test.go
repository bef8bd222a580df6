package ha

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/leasecmds"
	"github.com/twinleaf/twinleaf/pkg/memfile"
)

func TestSecsByteSwap(t *testing.T) {
	tests := []struct {
		in, want uint16
	}{
		{0, 0}, {11, 11}, {255, 255}, {0x0b00, 11}, {0x0100, 1}, {0x0b01, 0x0b01}, {0xff00, 0xff},
	}
	for _, tt := range tests {
		p := query(dhcpv4.MessageTypeDiscover, []byte{1, 2, 3, 4, 5, 6}, nil, tt.in)
		if got := secs(p); got != tt.want {
			t.Errorf("secs 0x%04x: got %d, want %d", tt.in, got, tt.want)
		}
	}
}

// standby is a hot-standby standby serving (DHCP on) whose partner stopped
// answering, so every query is meant for the partner.
func standby(t *testing.T, maxUnacked uint32) *rig {
	h := haConfig("hot-standby", "server2")
	h.MaxUnackedClients = maxUnacked
	r := newRig(t, h)
	r.force(HotStandby, Unavailable)
	r.step()
	return r
}

func TestFailureDetection(t *testing.T) {
	hw := func(i byte) []byte { return []byte{0x08, 0, 0x27, 0, 0, i} }
	t.Run("not analysed before max-response-delay", func(t *testing.T) {
		r := standby(t, 1)
		r.clk.Add(60 * time.Second) // not more than max-response-delay
		for i := range byte(5) {
			r.m.InScope(query(dhcpv4.MessageTypeDiscover, hw(i), nil, 30))
		}
		if r.m.comm.analyzed != 0 || r.step() != HotStandby {
			t.Errorf("analysed %d packets before communication was interrupted", r.m.comm.analyzed)
		}
	})
	t.Run("unacked needs secs over max-ack-delay", func(t *testing.T) {
		r := standby(t, 1)
		r.clk.Add(61 * time.Second)
		for i := range byte(5) {
			r.m.InScope(query(dhcpv4.MessageTypeDiscover, hw(i), nil, 10)) // 10 s is not > 10000 ms
		}
		if n := r.m.comm.unackedCount(); n != 0 {
			t.Errorf("%d unacked, want 0", n)
		}
		if r.m.comm.analyzed != 5 || len(r.m.comm.clients) != 5 {
			t.Errorf("analysed %d, clients %d; want 5, 5", r.m.comm.analyzed, len(r.m.comm.clients))
		}
		if got := r.step(); got != HotStandby {
			t.Errorf("state %s, want hot-standby", got)
		}
	})
	t.Run("same client counts once and turns unacked", func(t *testing.T) {
		r := standby(t, 1)
		r.clk.Add(61 * time.Second)
		r.m.InScope(query(dhcpv4.MessageTypeDiscover, hw(1), nil, 2))
		r.m.InScope(query(dhcpv4.MessageTypeRequest, hw(1), nil, 0x0b00)) // swapped 11 s
		r.m.InScope(query(dhcpv4.MessageTypeRequest, hw(1), nil, 0))      // never back to acked
		if n := r.m.comm.unackedCount(); n != 1 {
			t.Fatalf("%d unacked, want 1", n)
		}
		if got := r.step(); got != HotStandby {
			t.Errorf("one unacked client with max 1: %s, want hot-standby", got)
		}
		// A client-id makes a different client on the same hardware.
		r.m.InScope(query(dhcpv4.MessageTypeDiscover, hw(1), []byte{1, 8, 0, 0x27, 0, 0, 1}, 30))
		if got := r.step(); got != PartnerDown {
			t.Errorf("two unacked clients with max 1: %s, want partner-down", got)
		}
		if !strings.Contains(r.log.String(), "HA_COMMUNICATION_INTERRUPTED_CLIENT4_UNACKED server2: partner server failed to respond to") ||
			!strings.Contains(r.log.String(), "2 clients unacked so far, 0 clients left before transitioning to the partner-down state") {
			t.Errorf("unacked log lines missing:\n%s", r.log)
		}
	})
	t.Run("heartbeat clears the clients", func(t *testing.T) {
		r := standby(t, 1)
		r.clk.Add(61 * time.Second)
		r.m.InScope(query(dhcpv4.MessageTypeDiscover, hw(1), nil, 30))
		r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) { return heartbeatBody(HotStandby, r.clk.Now(), 0), nil }
		if err := r.m.Heartbeat(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(r.m.comm.clients) != 0 || r.m.comm.analyzed != 0 {
			t.Errorf("after a heartbeat: %d clients, %d analysed; want 0, 0", len(r.m.comm.clients), r.m.comm.analyzed)
		}
	})
	t.Run("max-unacked-clients 0 fails at once", func(t *testing.T) {
		r := standby(t, 0)
		r.clk.Add(61 * time.Second)
		if got := r.step(); got != PartnerDown {
			t.Errorf("state %s, want partner-down", got)
		}
	})
	t.Run("answering heartbeats is not contact", func(t *testing.T) {
		r := standby(t, 0)
		r.clk.Add(61 * time.Second)
		r.m.HeartbeatAnswer()
		if got := r.step(); got != PartnerDown {
			t.Errorf("state %s, want partner-down", got)
		}
	})
}

// TestLonePrimaryFailover: the primary reaches partner-down on the
// heartbeat timeout alone, with failed heartbeats along the way.
func TestLonePrimaryFailover(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server1"))
	ctx := context.Background()
	for range 6 {
		r.clk.Add(10 * time.Second)
		if err := r.m.Heartbeat(ctx); err == nil {
			t.Fatal("heartbeat to a dead partner succeeded")
		}
		if s := r.m.State(); s != Waiting {
			t.Fatalf("after %v: %s, want waiting", r.clk.Now(), s)
		}
	}
	r.clk.Add(10 * time.Second)
	r.m.Heartbeat(ctx)
	if s := r.m.State(); s != PartnerDown || !r.m.DHCPEnabled() {
		t.Fatalf("after 70 s: %s (DHCP %v), want partner-down serving", s, r.m.DHCPEnabled())
	}
	want := "HA_STATE_TRANSITION server1: server transitions from WAITING to PARTNER-DOWN state, partner state is UNAVAILABLE"
	if !strings.Contains(r.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, r.log)
	}
}

func TestClockSkew(t *testing.T) {
	tests := []struct {
		name          string
		skew          time.Duration
		localSynced   bool
		partnerSynced bool
		want          State
		log           string
	}{
		{"small", 20 * time.Second, true, true, Syncing, ""},
		{"warn", 45 * time.Second, true, true, Syncing, "HA_HIGH_CLOCK_SKEW server1: my time: 2026-11-26 22:00:00, partner's time: 2026-11-26 22:00:45, partner's clock is 45s ahead, please synchronize clocks!"},
		{"exactly 60 s", 60 * time.Second, true, true, Syncing, "HA_HIGH_CLOCK_SKEW"},
		{"terminate", 61 * time.Second, true, true, Terminated, "HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION server1: my time: 2026-11-26 22:00:00, partner's time: 2026-11-26 21:58:59, partner's clock is 61s behind, causing HA service to terminate"},
		{"local clock not synced", 56 * 365 * 24 * time.Hour, false, true, Syncing, "waiting for a synchronized clock"},
		{"partner clock not synced", -56 * 365 * 24 * time.Hour, true, false, Syncing, "waiting for a synchronized clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, haConfig("hot-standby", "server1"), func(c *Config) {
				c.ClockSynced = func() bool { return tt.localSynced }
			})
			skew := tt.skew
			if tt.want == Terminated {
				skew = -skew
			}
			r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) {
				hb := Heartbeat{State: Waiting, Time: r.clk.Now().Add(skew), ClockSynced: tt.partnerSynced}
				return answerBody(hb.Arguments()), nil
			}
			r.tr.answer["dhcp-disable"] = ok("disabled")
			if err := r.m.Heartbeat(context.Background()); err != nil {
				t.Fatal(err)
			}
			if s := r.m.State(); s != tt.want && !(tt.want == Syncing && s == Ready) {
				t.Errorf("state %s, want %s", s, tt.want)
			}
			if tt.log == "" && strings.Contains(r.log.String(), "CLOCK_SKEW") {
				t.Errorf("unexpected skew log:\n%s", r.log)
			}
			if !strings.Contains(r.log.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, r.log)
			}
		})
	}
}

// TestClockJumpNeverTerminates is the board without an RTC: it boots with
// a clock decades off, the partner sees the skew, then NTP steps the clock
// and the pair carries on.
func TestClockJumpNeverTerminates(t *testing.T) {
	synced := false
	r := newRig(t, haConfig("hot-standby", "server2"), func(c *Config) { c.ClockSynced = func() bool { return synced } })
	bootClock := -55 * 365 * 24 * time.Hour // our clock is behind: the partner looks far ahead
	partnerState := HotStandby
	r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) {
		return heartbeatBody(partnerState, r.clk.Now().Add(-bootClock), 0), nil
	}
	ctx := context.Background()
	r.m.Heartbeat(ctx)
	if s := r.m.State(); s == Terminated {
		t.Fatal("terminated on a boot-time clock")
	}
	synced, bootClock = true, 0 // NTP steps the clock
	for range 3 {
		r.clk.Add(10 * time.Second)
		r.m.Heartbeat(ctx)
	}
	if s := r.m.State(); s != HotStandby {
		t.Errorf("after the clock jump: %s, want hot-standby", s)
	}
	// The partner's answer to us carries the flag while our clock is off.
	synced = false
	args := r.m.HeartbeatAnswer().Arguments.(map[string]any)
	if args[heartbeatClockKey] != false {
		t.Errorf("heartbeat answer with an unsynchronised clock: %v", args)
	}
}

func TestSkewWarningOncePerMinute(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server1"))
	r.tr.answer["ha-heartbeat"] = func(map[string]any) ([]byte, error) {
		return heartbeatBody(HotStandby, r.clk.Now().Add(40*time.Second), 0), nil
	}
	r.force(HotStandby, HotStandby)
	ctx := context.Background()
	for range 7 { // 0..60 s: one warning
		r.m.Heartbeat(ctx)
		r.clk.Add(10 * time.Second)
	}
	r.m.Heartbeat(ctx) // 70 s: the second
	if n := strings.Count(r.log.String(), "HA_HIGH_CLOCK_SKEW "); n != 2 {
		t.Errorf("%d warnings in 70 s, want 2:\n%s", n, r.log)
	}
}

// TestConflictsNeverTerminate: Kea terminates HA once
// max-rejected-lease-updates clients had an update rejected within 24 h;
// twinleaf keeps the pair in its state however many conflicts the
// partner answers, and says at start that the key no longer terminates.
func TestConflictsNeverTerminate(t *testing.T) {
	h := haConfig("hot-standby", "server1")
	h.MaxRejectedLeaseUpdates = 3
	h.MaxRejectedPos = config.Pos{File: "kea-dhcp4.conf", Line: 40, Col: 43}
	r := newRig(t, h)
	if n := strings.Count(r.log.String(), "HA_MAX_REJECTED_LEASE_UPDATES_IGNORED server1: kea-dhcp4.conf:40:43: max-rejected-lease-updates 3 is accepted but never terminates"); n != 1 {
		t.Errorf("%d start-up warnings naming the key, want 1:\n%s", n, r.log)
	}
	r.force(HotStandby, HotStandby)
	r.step()
	r.tr.answer["lease4-update"] = answers(rc4)
	r.tr.answer["lease4-del"] = answers(rc0)
	for i := range byte(50) {
		hw := net.HardwareAddr{2, 0, 0, 0, 0, i} // a randomised MAC each time
		if err := SendUpdate(context.Background(), r.m, r.tr, "server2", LeaseUpdateCommand(Kea3, testLease(i, 1)), hw, nil); err != nil {
			t.Fatalf("conflict %d held the reply back: %v", i, err)
		}
		if got := r.step(); got != HotStandby {
			t.Fatalf("after %d conflicting clients (max-rejected-lease-updates 3): %s", i+1, got)
		}
	}
	r.m.Run(context.Background())
	if got := r.m.State(); got != HotStandby {
		t.Errorf("state %s after 50 conflicting clients, want hot-standby", got)
	}
	if strings.Contains(r.log.String(), "TERMINAT") {
		t.Errorf("a termination was logged:\n%s", r.log)
	}
	remote := r.m.Status()["ha-servers"].(map[string]any)["remote"].(map[string]any)
	if got := remote["lease-update-conflicts"]; got != uint64(50) {
		t.Errorf("status-get lease-update-conflicts %v, want 50", got)
	}
	// Without the key in the file there is nothing to warn about.
	if quiet := newRig(t, haConfig("hot-standby", "server1")); strings.Contains(quiet.log.String(), "HA_MAX_REJECTED") {
		t.Errorf("warned without the key:\n%s", quiet.log)
	}
}

// TestConflictResolved: the partner's updates applied over a disagreeing
// local lease are counted in the local server's status and logged.
func TestConflictResolved(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server2"))
	local := r.m.Status()["ha-servers"].(map[string]any)["local"].(map[string]any)
	if _, ok := local["lease-update-conflicts-resolved"]; ok {
		t.Errorf("a fresh server shows lease-update-conflicts-resolved: %v", local)
	}
	held := testLease(9, 1)
	r.m.ConflictResolved(leasecmds.Conflict{Command: "lease4-update", Addr: held.Addr, Reason: "the address is held by another client", Local: held})
	r.m.ConflictResolved(leasecmds.Conflict{Command: "lease4-del", Addr: held.Addr, Reason: "the local lease changed while the command was applied"})
	local = r.m.Status()["ha-servers"].(map[string]any)["local"].(map[string]any)
	if got := local["lease-update-conflicts-resolved"]; got != uint64(2) {
		t.Errorf("lease-update-conflicts-resolved %v, want 2", got)
	}
	want := "HA_LEASE_UPDATE_CONFLICT_RESOLVED server2: lease4-update for " + held.Addr.String() + " conflicted with this server's lease (the address is held by another client; local lease of hw-address " + memfile.FormatHex(held.HWAddr) + "): applied in favour of the sender"
	if !strings.Contains(r.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, r.log)
	}
}

func TestUnsentUpdateCount(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server1"))
	plans := map[State]UpdatePlan{HotStandby: UpdateSend, PartnerInMaintenance: UpdateSend,
		PartnerDown: UpdateSkip, Terminated: UpdateSkip, Waiting: UpdateSkip}
	for s, want := range plans {
		r.force(s, Unavailable)
		if got := r.m.Committed(); got != want {
			t.Errorf("%s: plan %d, want %d", s, got, want)
		}
	}
	if n := r.m.UnsentUpdateCount(); n != 2 { // partner-down and terminated
		t.Errorf("unsent %d, want 2", n)
	}
	r.m.comm.unsent = ^uint64(0)
	r.force(PartnerDown, Unavailable)
	r.m.Committed()
	if n := r.m.UnsentUpdateCount(); n != 1 {
		t.Errorf("wrapped counter %d, want 1", n)
	}
	lb := newRig(t, haConfig("load-balancing", "server1"))
	lb.force(CommunicationRecovery, Unavailable)
	if got := lb.m.Committed(); got != UpdateQueue {
		t.Errorf("communication-recovery: plan %d, want queue", got)
	}
	h := haConfig("hot-standby", "server1")
	h.SendLeaseUpdates = false
	off := newRig(t, h)
	off.force(PartnerDown, Unavailable)
	if got := off.m.Committed(); got != UpdateSkip || off.m.UnsentUpdateCount() != 0 {
		t.Errorf("send-lease-updates false: plan %d, unsent %d", got, off.m.UnsentUpdateCount())
	}
}

// TestConcurrentUse runs the packet path (InScope, Committed) and the
// command side (HeartbeatAnswer, Status) while heartbeats move the
// machine; run with -race.
func TestConcurrentUse(t *testing.T) {
	r := standby(t, 0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := query(dhcpv4.MessageTypeRequest, []byte{0, 0, 0, 0, 0, byte(i)}, nil, 30)
			for {
				select {
				case <-done:
					return
				default:
				}
				r.m.InScope(p)
				r.m.Committed()
				r.m.HeartbeatAnswer()
				r.m.Status()
			}
		}()
	}
	for range 10 {
		r.clk.Add(10 * time.Second)
		r.m.Heartbeat(context.Background())
	}
	close(done)
	wg.Wait()
	if s := r.m.State(); s != PartnerDown {
		t.Fatalf("state %s, want partner-down", s)
	}
	if _, in := r.m.InScope(query(dhcpv4.MessageTypeRequest, []byte{1, 2, 3, 4, 5, 6}, nil, 0)); !in {
		t.Error("partner-down standby does not serve the primary's scope")
	}
}
