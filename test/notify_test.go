//go:build integration

package test

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket listens where the daemon's sd_notify messages go, as
// systemd's NOTIFY_SOCKET does, and collects them.
type notifySocket struct {
	conn *net.UnixConn
	msgs chan string
}

func newNotifySocket(t *testing.T, dir string) (*notifySocket, string) {
	t.Helper()
	path := filepath.Join(dir, "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n := &notifySocket{conn: c, msgs: make(chan string, 100)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	return n, path
}

// expect waits for a message containing every want (the deadline guards a
// hang only) and returns it.
func (n *notifySocket) expect(t *testing.T, want ...string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	var seen []string
	for {
		select {
		case m := <-n.msgs:
			seen = append(seen, m)
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(m, w)
			}
			if ok {
				return m
			}
		case <-timeout:
			t.Fatalf("no sd_notify message with %q; got %q", want, seen)
		}
	}
}

// TestSystemdNotify speaks systemd's notify protocol with the daemon, as
// systemd would with Type=notify and WatchdogSec=: READY=1 with STATUS=
// once serving, watchdog pings while healthy, RELOADING=1 then READY=1
// around SIGHUP, STOPPING=1 on SIGTERM. (No systemd runs in this sandbox,
// so the socket stands in for it.)
func TestSystemdNotify(t *testing.T) {
	if isKea() {
		t.Skip("Kea 2.2 does not speak sd_notify")
	}
	l := NewLab(t)
	srv := l.Host("srv", "eth0", serverAddr+"/24")
	conf := labConfig(t, l, "single.conf")
	n, path := newNotifySocket(t, l.Dir)
	s := StartServer(t, l, srv, l.Dir, conf, "NOTIFY_SOCKET="+path, "WATCHDOG_USEC=1000000")
	n.expect(t, "READY=1", "STATUS=serving [eth0]")
	n.expect(t, "WATCHDOG=1")
	s.cmd.Process.Signal(syscall.SIGHUP)
	n.expect(t, "RELOADING=1")
	n.expect(t, "READY=1")
	s.cmd.Process.Signal(syscall.SIGTERM)
	n.expect(t, "STOPPING=1")
}
