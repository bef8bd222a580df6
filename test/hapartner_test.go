//go:build integration

package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenIn opens a TCP listener at addr inside namespace ns. A socket
// stays in the namespace it was made in, so a locked thread enters ns just
// to make it and returns to ours. If it cannot return, the goroutine ends
// locked and Go discards the thread rather than reuse it.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		r := func() result {
			home, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				return result{err: err}
			}
			defer home.Close()
			f, err := os.Open(filepath.Join("/run/netns", ns))
			if err != nil {
				return result{err: err}
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				return result{err: fmt.Errorf("entering %s: %w", ns, err)}
			}
			ln, err := net.Listen("tcp", addr)
			if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
				if ln != nil {
					ln.Close()
				}
				return result{err: fmt.Errorf("leaving %s: %w", ns, err)}
			}
			runtime.UnlockOSThread()
			return result{ln, err}
		}()
		done <- r
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns, r.err)
	}
	t.Cleanup(func() { r.ln.Close() })
	return r.ln
}

// fakePartner is a misbehaving HA partner at the standby's URL: it
// counts what it is sent and answers as its behaviour says.
type fakePartner struct {
	mu   sync.Mutex
	seen map[string]int // command → times received
}

func (p *fakePartner) count(command string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[command]
}

// serve answers every request with answer(command); a nil answer means
// the partner accepts connections and never says anything.
func (p *fakePartner) serve(t *testing.T, ln net.Listener, answer func(command string) []byte) {
	p.seen = map[string]int{}
	if answer == nil {
		var mu sync.Mutex
		var held []net.Conn
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range held {
				c.Close()
			}
		})
		return
	}
	p.serveRequests(t, ln, func(_ *http.Request, command string) []byte { return answer(command) })
}

// serveRequests answers every request with answer(r, command), which
// may block until r's context ends (the client gave up).
func (p *fakePartner) serveRequests(t *testing.T, ln net.Listener, answer func(r *http.Request, command string) []byte) {
	if p.seen == nil {
		p.seen = map[string]int{}
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Command string `json:"command"`
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &req)
		p.mu.Lock()
		p.seen[req.Command]++
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer(r, req.Command))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// slowStandby answers as a healthy Kea 3.x standby would, each answer
// after delay: below max-response-delay, and far below the 10 s a
// command may take.
func slowStandby(delay time.Duration) func(string) []byte {
	return func(command string) []byte {
		time.Sleep(delay)
		var a map[string]any
		switch command {
		case "ha-heartbeat":
			a = map[string]any{"result": 0, "text": "HA peer status returned.", "arguments": map[string]any{
				"state": "hot-standby", "date-time": time.Now().UTC().Format(http.TimeFormat),
				"scopes": []string{}, "unsent-update-count": 0}}
		case "version-get":
			a = map[string]any{"result": 0, "text": "3.0.1"}
		case "lease4-get-page":
			a = map[string]any{"result": 3, "text": "0 IPv4 lease(s) found.", "arguments": map[string]any{"count": 0, "leases": []any{}}}
		default:
			a = map[string]any{"result": 0, "text": command + " done"}
		}
		b, _ := json.Marshal([]any{a})
		return b
	}
}

// watchState polls the node's status-get until done reports true and
// fails the test if the control socket does not answer or the state is
// not one of ok. The deadline only guards against a hang.
func watchState(t *testing.T, l *Lab, n haNode, ok []string, done func(state string) bool) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		st, err := n.state(l)
		if err != nil {
			t.Fatalf("the control socket stopped answering: %v", err)
		}
		if !containsString(ok, st) {
			t.Fatalf("%s went to %s; only %v are expected", n.addr, st, ok)
		}
		if done(st) {
			return
		}
	}
	t.Fatalf("%s: still waiting after 90 s", n.addr)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestHABadPartner runs the home pair's primary against a partner that
// misbehaves at its URL. One that answers garbage or never answers is a
// dead partner: the primary says why in its log, reaches partner-down and
// serves a real client. One that answers correctly but slowly (below
// max-response-delay) is a live one: the pair stays in hot-standby. The
// control socket answers throughout.
func TestHABadPartner(t *testing.T) {
	tests := []struct {
		name   string
		answer func(command string) []byte
		why    string // the log line that says what is wrong
	}{
		{"garbage", func(string) []byte { return []byte("<html>this is not JSON</html>") },
			"HA_HEARTBEAT_FAILED server1: heartbeat to server2 (http://" + haStandby + ":8000/) failed: ha: bad answer"},
		{"wrong shape", func(string) []byte {
			return []byte(`[{"result":0,"text":"HA peer status returned.","arguments":{"state":["hot-standby"],"date-time":17}}]`)
		}, "HA_HEARTBEAT_FAILED server1: heartbeat to server2 (http://" + haStandby + ":8000/) failed:"},
		{"hang", nil, "HA_HEARTBEAT_COMMUNICATIONS_FAILED server1: failed to send heartbeat to server2 (http://" + haStandby + ":8000/)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ns, dirs := haLab(t)
			var p fakePartner
			p.serve(t, listenIn(t, ns[1], haStandby+":8000"), tt.answer)
			primary, s := startLonePrimary(t, l, ns, dirs)

			watchState(t, l, primary, []string{"waiting", "partner-down"}, func(st string) bool { return st == "partner-down" })
			for _, want := range []string{tt.why, "HA_COMMUNICATION_INTERRUPTED server1: communication with server2 is interrupted"} {
				if !strings.Contains(s.Output(), want) {
					t.Errorf("the log does not say %q", want)
				}
			}
			c := NewClient(t, l, "udhcpc", "bp1", "02:00:00:00:7e:01")
			c.Start()
			ip := c.Bound().IP
			primary.holds(t, l, ip, c.MAC)
			if st, err := primary.state(l); err != nil || st != "partner-down" {
				t.Errorf("after serving the client the primary is in %q (%v), want partner-down", st, err)
			}
		})
	}

	t.Run("slow", func(t *testing.T) {
		l, ns, dirs := haLab(t)
		var p fakePartner
		p.serve(t, listenIn(t, ns[1], haStandby+":8000"), slowStandby(1500*time.Millisecond))
		primary, s := startLonePrimary(t, l, ns, dirs)
		watchState(t, l, primary, []string{"waiting", "syncing", "ready", "hot-standby"},
			func(st string) bool { return st == "hot-standby" })

		c := NewClient(t, l, "udhcpc", "bs1", "02:00:00:00:7e:02")
		c.Start()
		ip := c.Bound().IP
		primary.holds(t, l, ip, c.MAC)
		if p.count("lease4-update") == 0 {
			t.Errorf("the client was served but the partner got no lease4-update")
		}
		// Count heartbeats, not seconds: several slow exchanges pass and
		// the primary stays in hot-standby through all of them.
		start := p.count("ha-heartbeat")
		watchState(t, l, primary, []string{"hot-standby"}, func(string) bool { return p.count("ha-heartbeat") >= start+6 })
		for _, bad := range []string{"HA_HEARTBEAT_FAILED", "HA_HEARTBEAT_COMMUNICATIONS_FAILED", "HA_COMMUNICATION_INTERRUPTED", "HA_LEASE_UPDATE_FAILED"} {
			if strings.Contains(s.Output(), bad) {
				t.Errorf("a slow but healthy partner caused %s", bad)
			}
		}
	})
}

// TestHAUpdatesRefused is a partner that answers heartbeats as a healthy
// standby but fails every lease update: it answers an error, garbage, or
// nothing. No client may be answered while its lease is not on the
// partner, the pair stays in hot-standby (the partner is there, it is
// the updates that fail), and once the partner takes updates again the
// client is served without anyone's help.
func TestHAUpdatesRefused(t *testing.T) {
	tests := []struct {
		name   string
		refuse func(r *http.Request) []byte
		why    string
	}{
		{"error", func(*http.Request) []byte {
			return []byte(`[{"result":1,"text":"unable to store the lease: disk full"}]`)
		}, "unable to store the lease: disk full"},
		{"garbage", func(*http.Request) []byte { return []byte("<html>502 Bad Gateway</html>") }, "bad answer"},
		{"hang", func(r *http.Request) []byte { <-r.Context().Done(); return nil }, "HA_LEASE_UPDATE_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ns, dirs := haLab(t)
			var accept atomic.Bool
			var p fakePartner
			healthy := slowStandby(0)
			p.serveRequests(t, listenIn(t, ns[1], haStandby+":8000"), func(r *http.Request, command string) []byte {
				if command == "lease4-update" && !accept.Load() {
					return tt.refuse(r)
				}
				return healthy(command)
			})
			primary, s := startLonePrimary(t, l, ns, dirs)
			watchState(t, l, primary, []string{"waiting", "syncing", "ready", "hot-standby"},
				func(st string) bool { return st == "hot-standby" })

			c := NewClient(t, l, "udhcpc", "bu1", "02:00:00:00:7e:03")
			c.Start()
			// Several refused updates: the client asked again each time
			// it went unanswered.
			watchState(t, l, primary, []string{"hot-standby"}, func(string) bool {
				return p.count("lease4-update") >= 3 && strings.Contains(s.Output(), "HA_LEASE_UPDATE_FAILED")
			})
			for _, ev := range c.Events() {
				if ev.Reason == "BOUND" {
					t.Fatalf("the client got %s while the partner refused its lease", ev.IP)
				}
			}
			if !strings.Contains(s.Output(), tt.why) {
				t.Errorf("the log does not say why the update failed (%q)", tt.why)
			}

			accept.Store(true)
			ip := c.Bound().IP
			primary.holds(t, l, ip, c.MAC)
			if st, err := primary.state(l); err != nil || st != "hot-standby" {
				t.Errorf("after the partner took updates again the primary is in %q (%v), want hot-standby", st, err)
			}
		})
	}
}

// startLonePrimary starts the home pair's primary in ns[0], its partner
// being whatever the test serves at the standby's URL in ns[1].
func startLonePrimary(t *testing.T, l *Lab, ns, dirs [2]string) (haNode, *Server) {
	t.Helper()
	conf := haConfig(t, l, filepath.Join(repoRoot(t), "configs", "home-server1.conf"), "home-server1.conf", dirs[0],
		[2]string{"enp0s8", "eth0"}, [2]string{"192.168.1.", "192.0.2."})
	primary := haNode{ns: ns[0], addr: haPrimary, url: "http://" + haPrimary + ":8000/"}
	return primary, StartServer(t, l, ns[0], dirs[0], conf)
}
