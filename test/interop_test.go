//go:build integration

package test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// keaLease is the part of a lease4-get-all entry both servers must agree on.
type keaLease struct {
	Addr     string `json:"ip-address"`
	HW       string `json:"hw-address"`
	ClientID string `json:"client-id"`
	Valid    int64  `json:"valid-lft"`
	CLTT     int64  `json:"cltt"`
	Subnet   int64  `json:"subnet-id"`
	State    int64  `json:"state"`
	Hostname string `json:"hostname"`
}

// leasesOver asks a server's unix control socket for every lease.
func leasesOver(t *testing.T, sock string) []keaLease {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("control socket %s: %v", sock, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write([]byte(`{ "command": "lease4-get-all" }`))
	var ans struct {
		Result    int    `json:"result"`
		Text      string `json:"text"`
		Arguments struct {
			Leases []keaLease `json:"leases"`
		} `json:"arguments"`
	}
	if err := json.NewDecoder(c).Decode(&ans); err != nil {
		t.Fatalf("lease4-get-all answer: %v", err)
	}
	if ans.Result != 0 && ans.Result != 3 {
		t.Fatalf("lease4-get-all: %d %s", ans.Result, ans.Text)
	}
	sort.Slice(ans.Arguments.Leases, func(i, j int) bool { return ans.Arguments.Leases[i].Addr < ans.Arguments.Leases[j].Addr })
	return ans.Arguments.Leases
}

// serveRelayed runs perfdhcp as a relay against the lab server so that it
// hands out n leases in the relayed subnet.
func serveRelayed(t *testing.T, l *Lab, srv string, n int) {
	t.Helper()
	relay := l.Host("relay", "eth0", "198.51.100.1/24")
	l.In(relay, "ip", "route", "add", serverAddr+"/32", "dev", "eth0")
	l.In(srv, "ip", "route", "add", "198.51.100.0/24", "dev", "eth0")
	out, _ := l.Cmd(relay, "perfdhcp", "-4", "-l", "198.51.100.1", "-r", "50", "-n", itoa(n), "-R", itoa(n),
		"-W", "2000000", serverAddr).CombinedOutput()
	t.Logf("perfdhcp:\n%s", lastLines(string(out), 12))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startAs starts the given server kind on the lab config in dir.
func startAs(t *testing.T, l *Lab, ns, dir, kind string) *Server {
	t.Helper()
	old := os.Getenv("TWINLEAF_TEST_SERVER")
	os.Setenv("TWINLEAF_TEST_SERVER", kind)
	defer os.Setenv("TWINLEAF_TEST_SERVER", old)
	return StartServer(t, l, ns, dir, filepath.Join(dir, "single.conf"))
}

// TestLeaseFileBothWays: a lease file Kea 2.2 wrote is loaded by twinleaf
// with every lease intact, and a file twinleaf wrote is loaded by Kea 2.2
// with every lease intact; each side is asked through its own lease4-get-all.
func TestLeaseFileBothWays(t *testing.T) {
	if _, err := exec.LookPath("kea-dhcp4"); err != nil {
		t.Fatal("kea-dhcp4 (Debian's kea-dhcp4-server) is needed; .ci/run installs it")
	}
	for _, order := range [][2]string{{"kea", "twinleaf"}, {"twinleaf", "kea"}} {
		t.Run(order[0]+" writes, "+order[1]+" reads", func(t *testing.T) {
			l := NewLab(t)
			srv := l.Host("srv", "eth0", serverAddr+"/24")
			labConfig(t, l, "single.conf")
			writer := startAs(t, l, srv, l.Dir, order[0])
			serveRelayed(t, l, srv, 20)
			// A real client too, with a client identifier.
			c := NewClient(t, l, "udhcpc", "ic", "02:00:00:00:1c:01")
			c.Start()
			c.Bound()
			c.Stop()
			before := leasesOver(t, filepath.Join(l.Dir, "twinleaf4.sock"))
			writer.Stop()
			if len(before) < 10 {
				t.Fatalf("only %d leases were handed out by %s; the test needs traffic", len(before), order[0])
			}
			t.Logf("%s handed out %d leases", order[0], len(before))
			reader := startAs(t, l, srv, l.Dir, order[1])
			after := leasesOver(t, filepath.Join(l.Dir, "twinleaf4.sock"))
			reader.Stop()
			if len(after) != len(before) {
				t.Fatalf("%s wrote %d leases, %s loaded %d", order[0], len(before), order[1], len(after))
			}
			for i := range before {
				b, a := before[i], after[i]
				// The hostname Kea keeps for perfdhcp clients is empty on both.
				if a != b {
					t.Errorf("lease %d: %s had %+v, %s loaded %+v", i, order[0], b, order[1], a)
				}
			}
		})
	}
}
