//go:build integration

package test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Clock skew end to end. The lab's namespaces share one kernel clock, so a
// board with a wrong clock is made two ways:
//   - Kea 2.2 runs under libfaketime (faketime -f +90), which moves the
//     time Kea's C++ code reads through libc; Go does not read the time
//     through libc, so this cannot move twinleaf's clock;
//   - twinleaf's HA machine reads its clock from TWINLEAF_TEST_CLOCK, a
//     file with an offset and a synchronised flag that the test rewrites
//     while the daemon runs (cmd/twinleaf-dhcp4/labclock.go). The flag
//     matters here because the host's own clock may well be
//     unsynchronised (it is on the machine these tests were written on).
//
// Kea's rules (communication_state.cc, ha_service.cc): the skew is the
// partner's heartbeat time minus ours; over 30 s it warns at most once a
// minute, over 60 s every state handler that checks it (waiting, syncing,
// ready, the normal states, partner-down, partner-in-maintenance) moves
// to terminated, which stops the heartbeats and is left only by a
// restart. Kea 2.2's status-get has no clock-skew; Kea 3.x's reports it
// under ha-servers.remote, as twinleaf does. Where twinleaf differs on
// purpose: the skew terminates only when both clocks are synchronised
// (adjtimex's STA_UNSYNC locally, "twinleaf-clock-synchronized" in the
// partner's heartbeat), so a board without an RTC that boots with a
// stale clock does not terminate the pair. A Kea partner never sends the
// flag and ignores ours: it terminates on any skew over 60 s, so in a
// mixed pair a twinleaf board booting with a wrong clock still ends the
// pair in terminated on Kea's side, as a Kea board would.

// labClock writes a TWINLEAF_TEST_CLOCK file for a node and returns the
// daemon's environment entry for it.
func labClock(t *testing.T, l *Lab, name, value string) (path, env string) {
	t.Helper()
	path = l.File(name, value+"\n")
	return path, "TWINLEAF_TEST_CLOCK=" + path
}

// clockPair is the home pair running with a lab clock on each board.
type clockPair struct {
	l                *Lab
	primary, standby haNode
	srv              [2]*Server
	clocks           [2]string // the clock files, for setLabClock
}

// startClockPair starts the home pair with the boards' clocks at clock1
// and clock2 (labClock values, such as "90s unsynced").
func startClockPair(t *testing.T, prefix, clock1, clock2 string) clockPair {
	t.Helper()
	l, ns, dirs := haLab(t)
	confs, primary, standby := homePair(t, l, ns, dirs, prefix)
	p := clockPair{l: l, primary: primary, standby: standby}
	for i, value := range []string{clock1, clock2} {
		var env string
		p.clocks[i], env = labClock(t, l, fmt.Sprintf("clock%d", i+1), value)
		p.srv[i] = StartServer(t, l, ns[i], dirs[i], confs[i], env)
	}
	return p
}

// setLabClock sets a running node's clock, as NTP stepping it would:
// written beside and renamed, so the daemon never reads half a file.
func setLabClock(t *testing.T, path, value string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(value+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// haClockStatus is the part of status-get's HA entry about the clocks:
// our state, and the partner's clock skew in seconds (nil until a
// heartbeat gave the partner's time).
type haClockStatus struct {
	State   string
	InTouch bool
	Skew    *int64
}

func (n haNode) clockStatus(l *Lab) (haClockStatus, error) {
	s, err := n.servers(l)
	return haClockStatus{State: s.Local.State, InTouch: s.Remote.InTouch, Skew: s.Remote.Skew}, err
}

// waitSkew waits until the node's status-get reports a partner clock
// skew within a second or two of want (heartbeat times are whole seconds
// and the skew is truncated), and returns that status. The deadline only
// guards against a hang.
func (n haNode) waitSkew(t *testing.T, l *Lab, want time.Duration) haClockStatus {
	t.Helper()
	var st haClockStatus
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		st, err = n.clockStatus(l)
		if err == nil && st.Skew != nil && abs64(*st.Skew-int64(want/time.Second)) <= 2 {
			return st
		}
	}
	t.Fatalf("%s never reported a partner clock skew of %v: last status %+v (skew %v), error %v", n.addr, want, st, deref(st.Skew), err)
	return st
}

// waitLog waits until the server has logged a line containing text. The
// deadline only guards against a hang.
func waitLog(t *testing.T, s *Server, text string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(s.Output(), text) {
			return
		}
	}
	t.Fatalf("the server never logged %q:\n%s", text, s.Output())
}

// logLine is the first line of out containing id, or "".
func logLine(out, id string) string {
	for line := range strings.Lines(out) {
		if strings.Contains(line, id) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestHAClockSkewTerminates: the home pair with the standby's clock 90 s
// ahead (over Kea's 60 s) and both clocks synchronised is a real
// misconfiguration: both servers end in terminated, as Kea's do, log
// HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION, and status-get shows the state
// and the skew that caused it.
func TestHAClockSkewTerminates(t *testing.T) {
	p := startClockPair(t, "skew-", "0s synced", "90s synced")
	l, primary, standby, s1, s2 := p.l, p.primary, p.standby, p.srv[0], p.srv[1]

	primary.waitState(t, l, "terminated")
	standby.waitState(t, l, "terminated")
	for _, c := range []struct {
		node haNode
		srv  *Server
		skew time.Duration
	}{{primary, s1, 90 * time.Second}, {standby, s2, -90 * time.Second}} {
		st := c.node.waitSkew(t, l, c.skew)
		if st.State != "terminated" || !st.InTouch {
			t.Errorf("%s: status-get says %+v; want terminated, in touch, skew %v", c.node.addr, st, c.skew)
		}
		out := c.srv.Output()
		line := logLine(out, "HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION")
		if line == "" || !strings.Contains(out, "HA_TERMINATED") {
			t.Errorf("%s's log does not say the clock skew terminated HA:\n%s", c.node.addr, out)
		}
		t.Logf("%s: %s, clock-skew %d; %s", c.node.addr, st.State, deref(st.Skew), line)
	}
}

// TestHAClockSkewJudgedOnceSynced: the standby's clock is 90 s ahead and
// not yet synchronised, so the pair forms and the skew is only a warning;
// then the clock claims to be synchronised while still 90 s off (an NTP
// server that is itself wrong). Now both clocks are synchronised and the
// skew is a real fault: both servers terminate from hot-standby.
func TestHAClockSkewJudgedOnceSynced(t *testing.T) {
	p := startClockPair(t, "judged-", "0s synced", "90s unsynced")
	l, primary, standby, s1, s2, clock2 := p.l, p.primary, p.standby, p.srv[0], p.srv[1], p.clocks[1]

	primary.waitState(t, l, "hot-standby")
	standby.waitState(t, l, "hot-standby")
	// The warning comes from the check that would have terminated: once
	// both logged it, both judged the skew and carried on.
	for _, n := range []struct {
		node haNode
		srv  *Server
	}{{primary, s1}, {standby, s2}} {
		waitLog(t, n.srv, "waiting for a synchronized clock before acting on it")
		if st, err := n.node.state(l); err != nil || st != "hot-standby" {
			t.Fatalf("%s is in %q (%v) with an unsynchronised clock 90 s off, want hot-standby", n.node.addr, st, err)
		}
	}

	setLabClock(t, clock2, "90s synced")
	primary.waitState(t, l, "terminated")
	standby.waitState(t, l, "terminated")
	for _, s := range []*Server{s1, s2} {
		if logLine(s.Output(), "HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION") == "" {
			t.Errorf("the log does not say the clock skew terminated HA:\n%s", s.Output())
		}
	}
}

// TestHAClockSkewTerminatesWithKea: the twinleaf primary with Kea 2.2 as
// the standby, Kea running 90 s ahead under libfaketime. twinleaf's clock
// says synchronised and Kea counts as synchronised (it never sends the
// flag), so both apply Kea's rule: Kea logs the termination and reaches
// terminated, and so does twinleaf.
func TestHAClockSkewTerminatesWithKea(t *testing.T) {
	for _, bin := range []string{"/usr/sbin/kea-dhcp4", "/usr/sbin/kea-ctrl-agent", libfaketime} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s not installed (.ci/run installs it)", bin)
		}
	}
	l, ns, dirs := haLab(t)
	confs, primary, standby := homePair(t, l, ns, dirs, "skew-kea-")
	_, env := labClock(t, l, "clock1", "0s synced")
	// libfaketime preloaded into Kea itself (the faketime program would
	// fork, and leave Kea behind when killed); its monotonic clock stays
	// true, so Kea's timers run as usual.
	kea := startKeaStandby(t, l, ns[1], dirs[1], "LD_PRELOAD="+libfaketime, "FAKETIME=+90",
		"FAKETIME_DONT_FAKE_MONOTONIC=1")
	s1 := StartServer(t, l, ns[0], dirs[0], confs[0], env)

	primary.waitState(t, l, "terminated")
	standby.waitState(t, l, "terminated")
	st := primary.waitSkew(t, l, 90*time.Second)
	if st.State != "terminated" || !st.InTouch {
		t.Errorf("twinleaf's status-get says %+v; want terminated, in touch, skew 90 s", st)
	}
	if out := s1.Output(); !strings.Contains(out, "HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION") {
		t.Errorf("twinleaf's log does not say the clock skew terminated HA:\n%s", out)
	}
	log := kea.Output()
	// Kea sees twinleaf's clock 90 s behind its own. 2.2 names the
	// message ..._CAUSES_TERMINATION (3.x renamed it ..._CAUSED_...,
	// which twinleaf logs).
	line := logLine(log, "HA_HIGH_CLOCK_SKEW_CAUSES_TERMINATION")
	if !strings.Contains(line, "s behind") || !strings.Contains(log, "HA_TERMINATED") {
		t.Errorf("Kea's log does not say the clock skew terminated HA:\n%s", log)
	}
	t.Logf("Kea: %s", line)
	t.Logf("twinleaf: %s, clock-skew %d; %s", st.State, deref(st.Skew), logLine(s1.Output(), "HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION"))
}

// TestHAClockUnsyncedBoot is a whole house coming back from a power cut:
// neither board has an RTC, the primary boots a year behind (no saved
// time), the standby a month behind (a stale fake-hwclock), and neither
// clock is synchronised. Kea would terminate at the first heartbeat and
// stay terminated until restarted; twinleaf warns and forms the pair.
// Then NTP sets the primary's clock (the standby's is still a month off
// and unsynchronised, which still holds termination back), then the
// standby's. The pair stays in hot-standby throughout without a restart,
// serves real clients before and after, and the standby holds their
// leases.
func TestHAClockUnsyncedBoot(t *testing.T) {
	const year, month = 8760 * time.Hour, 720 * time.Hour
	p := startClockPair(t, "unsynced-", (-year).String()+" unsynced", (-month).String()+" unsynced")
	l, primary, standby, s1, s2 := p.l, p.primary, p.standby, p.srv[0], p.srv[1]
	clock1, clock2 := p.clocks[0], p.clocks[1]

	primary.waitState(t, l, "hot-standby")
	standby.waitState(t, l, "hot-standby")
	// Both saw the skew, far over 60 s, and held back.
	primary.waitSkew(t, l, year-month)
	standby.waitSkew(t, l, month-year)
	c1 := NewClient(t, l, "udhcpc", "u1", "02:00:00:00:7e:01")
	c1.Start()
	ip1 := c1.Bound().IP
	standby.holds(t, l, ip1, c1.MAC)

	setLabClock(t, clock1, "0s synced")
	primary.waitSkew(t, l, -month)
	standby.waitSkew(t, l, month)
	setLabClock(t, clock2, "0s synced")
	primary.waitSkew(t, l, 0)
	standby.waitSkew(t, l, 0)

	c2 := NewClient(t, l, "udhcpc", "u2", "02:00:00:00:7e:02")
	c2.Start()
	ip2 := c2.Bound().IP
	primary.holds(t, l, ip2, c2.MAC)
	standby.holds(t, l, ip2, c2.MAC)
	standby.holds(t, l, ip1, c1.MAC)
	// terminated is left only by a restart, so being in hot-standby now,
	// with the same processes, means the pair never terminated.
	for _, c := range []struct {
		node haNode
		srv  *Server
	}{{primary, s1}, {standby, s2}} {
		select {
		case <-c.srv.exited:
			t.Fatalf("%s's daemon exited", c.node.addr)
		default:
		}
		if st, err := c.node.state(l); err != nil || st != "hot-standby" {
			t.Errorf("%s is in %q (%v) after the clocks were set, want hot-standby", c.node.addr, st, err)
		}
		out := c.srv.Output()
		warned := logLine(out, "waiting for a synchronized clock before acting on it")
		if warned == "" {
			t.Errorf("%s's log never warned of the skew it held back:\n%s", c.node.addr, out)
		}
		t.Logf("%s: %s", c.node.addr, warned)
		if strings.Contains(out, "HA_TERMINATED") || strings.Contains(out, "CAUSED_TERMINATION") {
			t.Errorf("%s's HA terminated:\n%s", c.node.addr, out)
		}
	}
}

// libfaketime is Debian's multi-threaded libfaketime (package faketime).
const libfaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
