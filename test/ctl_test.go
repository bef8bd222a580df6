//go:build integration

package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ctl runs twinleafctl from the server's directory (the lab config names
// its unix socket relative to it) and returns its output.
func ctl(t *testing.T, s *Server, args ...string) (string, error) {
	t.Helper()
	c := exec.Command(filepath.Join(repoRoot(t), "bin", "twinleafctl"), args...)
	c.Dir = s.Dir
	out, err := c.CombinedOutput()
	return string(out), err
}

// TestTwinleafctl drives a running daemon with twinleafctl: the socket is
// found through the config file, and the lease a real client got shows up
// in every view of it.
func TestTwinleafctl(t *testing.T) {
	if isKea() {
		t.Skip("twinleafctl's own suite runs against twinleaf; Kea 2.2 has no lease4-get-all without its hook path set up here")
	}
	l, _, s := labServer(t)
	c := NewClient(t, l, "udhcpc", "ct", "02:00:00:00:0c:01")
	c.Start()
	ip := c.Bound().IP
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"-c", "single.conf", "leases"}, []string{ip, "02:00:00:00:0c:01", "default", "1 lease(s)"}},
		{[]string{"-c", "single.conf", "leases", "--mac", "02:00:00:00:0c:02"}, []string{"0 lease(s)"}},
		{[]string{"-c", "single.conf", "--json", "leases"}, []string{`"ip-address": "` + ip + `"`, `"result": 0`}},
		{[]string{"--socket", "twinleaf4.sock", "lease", "show", ip}, []string{"hw-address", `"02:00:00:00:0c:01"`}},
		{[]string{"-c", "single.conf", "status"}, []string{"pid", "sockets"}},
		{[]string{"-c", "single.conf", "raw", "list-commands"}, []string{"lease4-get-all", "status-get", "statistic-get-all"}},
		{[]string{"-c", "single.conf", "lease", "add", "192.0.2.150", "02:00:00:00:0c:99"}, []string{"Lease for address 192.0.2.150, subnet-id 1 added."}},
		{[]string{"-c", "single.conf", "leases", "--subnet", "1"}, []string{"192.0.2.150", ip, "2 lease(s)"}},
		{[]string{"-c", "single.conf", "lease", "del", "192.0.2.150"}, []string{"IPv4 lease deleted."}},
		{[]string{"-c", "single.conf", "reclaim"}, []string{"Reclamation of expired leases is complete."}},
		{[]string{"-c", "single.conf", "lfc"}, []string{"Lease file cleanup complete."}},
		{[]string{"-c", "single.conf", "config", "reload"}, []string{"Configuration successful."}},
		{[]string{"-c", "single.conf", "config", "write", "written.json"}, []string{"Configuration written to written.json successful"}},
		{[]string{"-c", "single.conf", "config", "get"}, []string{`"Dhcp4"`, `"subnet4"`}},
		{[]string{"config", "test", "written.json"}, []string{"written.json: configuration is valid"}},
		{[]string{"-c", "single.conf", "stats"}, []string{"pkt4-ack-sent", "subnet[1].assigned-addresses", "subnet[1].total-addresses"}},
		{[]string{"-c", "single.conf", "raw", "statistic-get", `{"name":"subnet[1].assigned-addresses"}`}, []string{`"subnet[1].assigned-addresses": [`, `1,`}},
	}
	for _, tt := range tests {
		out, err := ctl(t, s, tt.args...)
		if err != nil {
			t.Errorf("twinleafctl %v: %v\n%s", tt.args, err, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("twinleafctl %v: output lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
	// The forced cleanup left Kea's compacted file beside the current one,
	// and the client's lease survived it.
	if _, err := os.Stat(filepath.Join(s.Dir, "leases4.csv.2")); err != nil {
		t.Errorf("after twinleafctl lfc: %v", err)
	}
	if out, _ := ctl(t, s, "-c", "single.conf", "lease", "show", ip); !strings.Contains(out, "02:00:00:00:0c:01") {
		t.Errorf("the lease is gone after the cleanup:\n%s", out)
	}
	out, err := ctl(t, s, "--socket", "nowhere.sock", "status")
	if err == nil || !strings.Contains(out, "is twinleaf-dhcp4 running") {
		t.Errorf("with no daemon on the socket: %v\n%s", err, out)
	}
}
