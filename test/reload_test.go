//go:build integration

package test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitLog waits until the server has logged want n times.
func (s *Server) waitLog(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(s.Output(), want) >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("server never logged %q %d times; output:\n%s", want, n, s.Output())
}

// TestReloadOnSIGHUP: SIGHUP applies an edited file; a broken edit is
// refused and the previous configuration keeps serving.
func TestReloadOnSIGHUP(t *testing.T) {
	if isKea() {
		t.Skip("this suite checks twinleaf's reload messages")
	}
	l, _, s := labServer(t)
	conf := l.Dir + "/single.conf"
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `"valid-lifetime": 120`, `"valid-lifetime": 300`, 1)
	if err := os.WriteFile(conf, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitLog(t, "DHCP4_CONFIG_COMPLETE", 2) // at start-up, then the reload
	// Kea's messages around a reload.
	s.waitLog(t, "DHCP4_DYNAMIC_RECONFIGURATION initiate server reconfiguration using file: ", 1)
	s.waitLog(t, "DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS dynamic server reconfiguration succeeded with file: ", 1)

	broken := strings.Replace(edited, `"valid-lifetime": 300`, `"valid-lifetme": 600`, 1)
	if err := os.WriteFile(conf, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitLog(t, "DHCP4_DYNAMIC_RECONFIGURATION_FAIL dynamic server reconfiguration failed with file: ", 1)
	if !strings.Contains(s.Output(), `did you mean \"valid-lifetime\"`) && !strings.Contains(s.Output(), `did you mean "valid-lifetime"`) {
		t.Errorf("the refused reload does not say what is wrong:\n%s", s.Output())
	}

	c := NewClient(t, l, "udhcpc", "rh", "02:00:00:00:0e:01")
	c.Start()
	ip := c.Bound().IP
	if row := s.Leases()[ip]; row.Valid != 300 {
		t.Errorf("lease after reloads has valid lifetime %d, want 300 (the good edit, not the broken one)", row.Valid)
	}
}
