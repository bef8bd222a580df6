//go:build integration

package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The HA lab: two servers of a hot-standby pair on the client segment.
const (
	haPrimary = "192.0.2.2"
	haStandby = "192.0.2.3"
)

// haConfig is configs/<name> (a board of the home pair) moved onto the lab:
// the lab's addresses and interface, the lease file in dir, logs on
// stdout, and short HA timers with max-unacked-clients 0 so a dead
// partner is noticed within seconds.
func haConfig(t *testing.T, l *Lab, name, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range [][2]string{
		{"enp0s8", "eth0"},
		{"192.168.1.", "192.0.2."},
		{`"type": "memfile"`, `"type": "memfile", "name": "` + filepath.Join(dir, "leases4.csv") + `", "lfc-interval": 0`},
		{"/var/log/kea/kea-dhcp4.log", "stdout"},
		{`"heartbeat-delay": 10000`, `"heartbeat-delay": 1000`},
		{`"max-response-delay": 60000`, `"max-response-delay": 3000`},
		{`"max-ack-delay": 5000`, `"max-ack-delay": 1000`},
		{`"max-unacked-clients": 5`, `"max-unacked-clients": 0`},
		{`"sync-timeout": 60000`, `"sync-timeout": 10000`},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("configs/%s has no %q to replace", name, r[0])
		}
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return l.File(name, s)
}

// haAnswer is one control-API answer.
type haAnswer struct {
	Result    int             `json:"result"`
	Text      string          `json:"text"`
	Arguments json.RawMessage `json:"arguments"`
}

// haCommand sends a command to the HTTP control socket of the server at
// addr from inside namespace ns, with curl as an operator would.
func haCommand(l *Lab, ns, addr, command string, args any) (haAnswer, error) {
	req := map[string]any{"command": command, "service": []string{"dhcp4"}}
	if args != nil {
		req["arguments"] = args
	}
	body, _ := json.Marshal(req)
	out, err := l.Cmd(ns, "curl", "-s", "-m", "10", "-X", "POST", "-H", "Content-Type: application/json",
		"-d", string(body), "http://"+addr+":8000/").Output()
	if err != nil {
		return haAnswer{}, fmt.Errorf("%s to %s: curl: %v", command, addr, err)
	}
	var as []haAnswer
	if err := json.Unmarshal(out, &as); err != nil || len(as) != 1 {
		return haAnswer{}, fmt.Errorf("%s to %s: not a one-answer list: %v: %s", command, addr, err, out)
	}
	return as[0], nil
}

// haState is the server's own HA state from status-get.
func haState(l *Lab, ns, addr string) (string, error) {
	a, err := haCommand(l, ns, addr, "status-get", nil)
	if err != nil {
		return "", err
	}
	var st struct {
		HA []struct {
			Servers struct {
				Local struct {
					State string `json:"state"`
				} `json:"local"`
			} `json:"ha-servers"`
		} `json:"high-availability"`
	}
	if err := json.Unmarshal(a.Arguments, &st); err != nil || len(st.HA) != 1 {
		return "", fmt.Errorf("status-get of %s has no high-availability entry: %v: %s", addr, err, a.Arguments)
	}
	return st.HA[0].Servers.Local.State, nil
}

// waitHAState waits until the server at addr reports state. The deadline
// only guards against a hang.
func waitHAState(t *testing.T, l *Lab, ns, addr, state string) {
	t.Helper()
	var got string
	var err error
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if got, err = haState(l, ns, addr); err == nil && got == state {
			return
		}
	}
	t.Fatalf("%s never reached %s: last state %q, error %v", addr, state, got, err)
}

// haLeases is the server's lease set, address → hardware address.
func haLeases(t *testing.T, l *Lab, ns, addr string) map[string]string {
	t.Helper()
	a, err := haCommand(l, ns, addr, "lease4-get-all", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != 0 && a.Result != 3 {
		t.Fatalf("lease4-get-all on %s: %d %s", addr, a.Result, a.Text)
	}
	var ls struct {
		Leases []struct {
			Addr   string `json:"ip-address"`
			HWAddr string `json:"hw-address"`
		} `json:"leases"`
	}
	if a.Result == 0 {
		if err := json.Unmarshal(a.Arguments, &ls); err != nil {
			t.Fatalf("lease4-get-all on %s: %v", addr, err)
		}
	}
	out := map[string]string{}
	for _, x := range ls.Leases {
		out[x.Addr] = x.HWAddr
	}
	return out
}

// holds checks that the server at addr has ip leased to mac.
func holds(t *testing.T, l *Lab, ns, addr, ip, mac string) {
	t.Helper()
	a, err := haCommand(l, ns, addr, "lease4-get", map[string]any{"ip-address": ip})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		HWAddr string `json:"hw-address"`
	}
	json.Unmarshal(a.Arguments, &got)
	if a.Result != 0 || !strings.EqualFold(got.HWAddr, mac) {
		t.Fatalf("lease4-get %s on %s: result %d %q, hw-address %q; want %s's lease", ip, addr, a.Result, a.Text, got.HWAddr, mac)
	}
}

// TestHAHotStandby runs the home pair (configs/home-server1.conf and
// home-server2.conf) with real clients: the pair reaches hot-standby, the
// standby holds every lease the primary grants, takes over when the
// primary is killed, keeps a renewing client's address, and the restarted
// primary syncs back to the same lease set.
func TestHAHotStandby(t *testing.T) {
	if isKea() {
		t.Skip("Kea 2.2's HA needs kea-ctrl-agent in front of each server; pkg/ha's kea-tagged test covers interop")
	}
	l := NewLab(t)
	ns1 := l.Host("srv1", "eth0", haPrimary+"/24")
	ns2 := l.Host("srv2", "eth0", haStandby+"/24")
	dir1, dir2 := filepath.Join(l.Dir, "srv1"), filepath.Join(l.Dir, "srv2")
	for _, d := range []string{dir1, dir2} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf1 := haConfig(t, l, "home-server1.conf", dir1)
	conf2 := haConfig(t, l, "home-server2.conf", dir2)
	s1 := StartServer(t, l, ns1, dir1, conf1)
	StartServer(t, l, ns2, dir2, conf2)
	waitHAState(t, l, ns1, haPrimary, "hot-standby")
	waitHAState(t, l, ns2, haStandby, "hot-standby")

	c1 := NewClient(t, l, "udhcpc", "h1", "02:00:00:00:7a:01")
	c1.Start()
	ip1 := c1.Bound().IP
	if !inPool(t, ip1, poolFirst, poolLast) {
		t.Fatalf("client got %q, want a pool address", ip1)
	}
	// The ACK left only after the standby acknowledged the update.
	holds(t, l, ns2, haStandby, ip1, c1.MAC)

	s1.cmd.Process.Kill() // SIGKILL: `ip netns exec` execs the server
	<-s1.exited
	waitHAState(t, l, ns2, haStandby, "partner-down")

	c2 := NewClient(t, l, "udhcpc", "h2", "02:00:00:00:7a:02")
	c2.Start()
	ip2 := c2.Bound().IP
	if ip2 == ip1 || !inPool(t, ip2, poolFirst, poolLast) {
		t.Fatalf("the standby gave the second client %q (the first has %s)", ip2, ip1)
	}
	holds(t, l, ns2, haStandby, ip2, c2.MAC)

	n := len(c1.Events())
	c1.Renew()
	ev, _ := c1.WaitEvent(n, "RENEW", "BOUND")
	if ev.IP != ip1 {
		t.Fatalf("after the failover the renewing client moved from %s to %s", ip1, ev.IP)
	}

	StartServer(t, l, ns1, dir1, conf1)
	waitHAState(t, l, ns1, haPrimary, "hot-standby")
	waitHAState(t, l, ns2, haStandby, "hot-standby")
	got1, got2 := haLeases(t, l, ns1, haPrimary), haLeases(t, l, ns2, haStandby)
	if len(got1) != 2 || !mapsEqual(got1, got2) {
		t.Fatalf("after the resync the primary holds %v and the standby %v; want the same two leases", got1, got2)
	}
	holds(t, l, ns1, haPrimary, ip2, c2.MAC)
}

func mapsEqual(a, b map[string]string) bool {
	ka, kb := keys(a), keys(b)
	if !slices.Equal(ka, kb) {
		return false
	}
	for k, v := range a {
		if !strings.EqualFold(v, b[k]) {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
