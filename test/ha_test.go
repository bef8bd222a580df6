//go:build integration

package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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

// haTimers shortens the pair's timers, with max-unacked-clients 0, so a
// dead partner is noticed within seconds.
var haTimers = [][2]string{
	{`"heartbeat-delay": 10000`, `"heartbeat-delay": 1000`},
	{`"max-response-delay": 60000`, `"max-response-delay": 3000`},
	{`"max-ack-delay": 5000`, `"max-ack-delay": 1000`},
	{`"max-unacked-clients": 5`, `"max-unacked-clients": 0`},
	{`"sync-timeout": 60000`, `"sync-timeout": 10000`},
}

// haConfig is the configuration at src moved onto the lab: the lease file
// in dir, logs on stdout, short HA timers and the given replacements.
func haConfig(t *testing.T, l *Lab, src, name, dir string, replace ...[2]string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	rs := append([][2]string{
		{`"type": "memfile"`, `"type": "memfile", "name": "` + filepath.Join(dir, "leases4.csv") + `", "lfc-interval": 0`},
		{"/var/log/kea/kea-dhcp4.log", "stdout"},
	}, haTimers...)
	for _, r := range append(rs, replace...) {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("%s has no %q to replace", src, r[0])
		}
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return l.File(name, s)
}

// haNode is one server of the pair as the operator reaches it: its
// namespace, address and control socket URL, and curl's TLS arguments.
type haNode struct {
	ns, addr, url string
	tls           []string
}

// haAnswer is one control-API answer.
type haAnswer struct {
	Result    int             `json:"result"`
	Text      string          `json:"text"`
	Arguments json.RawMessage `json:"arguments"`
}

// command sends a command to the node's control socket from inside its
// namespace, with curl as an operator would.
func (n haNode) command(l *Lab, command string, args any) (haAnswer, error) {
	req := map[string]any{"command": command, "service": []string{"dhcp4"}}
	if args != nil {
		req["arguments"] = args
	}
	body, _ := json.Marshal(req)
	argv := append([]string{"curl", "-s", "-m", "10", "-X", "POST", "-H", "Content-Type: application/json",
		"-d", string(body)}, n.tls...)
	out, err := l.Cmd(n.ns, append(argv, n.url)...).Output()
	if err != nil {
		return haAnswer{}, fmt.Errorf("%s to %s: curl: %v", command, n.url, err)
	}
	var as []haAnswer
	if err := json.Unmarshal(out, &as); err != nil || len(as) != 1 {
		return haAnswer{}, fmt.Errorf("%s to %s: not a one-answer list: %v: %s", command, n.url, err, out)
	}
	return as[0], nil
}

// haServers is status-get's ha-servers entry, the parts the tests read.
type haServers struct {
	Local struct {
		State string `json:"state"`
		// Twinleaf is twinleaf's offer of batched lease updates and the
		// batches received; Kea has no such entry.
		Twinleaf *struct {
			Batch    int    `json:"lease4-batch"`
			Received uint64 `json:"lease4-batches-received"`
		} `json:"twinleaf"`
	} `json:"local"`
	Remote struct {
		InTouch     bool   `json:"in-touch"`
		Skew        *int64 `json:"clock-skew"`
		ConfigFault string `json:"config-fault"`
		// Twinleaf is there once the partner offered batches.
		Twinleaf *struct {
			Batch int    `json:"lease4-batch"`
			Sent  uint64 `json:"lease4-batches-sent"`
		} `json:"twinleaf"`
	} `json:"remote"`
}

// servers is the node's ha-servers entry from status-get.
func (n haNode) servers(l *Lab) (haServers, error) {
	a, err := n.command(l, "status-get", nil)
	if err != nil {
		return haServers{}, err
	}
	var st struct {
		HA []struct {
			Servers haServers `json:"ha-servers"`
		} `json:"high-availability"`
	}
	if err := json.Unmarshal(a.Arguments, &st); err != nil || len(st.HA) != 1 {
		return haServers{}, fmt.Errorf("status-get of %s has no high-availability entry: %v: %s", n.addr, err, a.Arguments)
	}
	return st.HA[0].Servers, nil
}

// state is the node's own HA state from status-get.
func (n haNode) state(l *Lab) (string, error) {
	s, err := n.servers(l)
	return s.Local.State, err
}

// waitState waits until the node reports state. The deadline only guards
// against a hang.
func (n haNode) waitState(t *testing.T, l *Lab, state string) {
	t.Helper()
	var got string
	var err error
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if got, err = n.state(l); err == nil && got == state {
			return
		}
	}
	t.Fatalf("%s never reached %s: last state %q, error %v", n.addr, state, got, err)
}

// leases is the node's lease set, address → hardware address.
func (n haNode) leases(t *testing.T, l *Lab) map[string]string {
	t.Helper()
	a, err := n.command(l, "lease4-get-all", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != 0 && a.Result != 3 {
		t.Fatalf("lease4-get-all on %s: %d %s", n.addr, a.Result, a.Text)
	}
	var ls struct {
		Leases []struct {
			Addr   string `json:"ip-address"`
			HWAddr string `json:"hw-address"`
		} `json:"leases"`
	}
	if a.Result == 0 {
		if err := json.Unmarshal(a.Arguments, &ls); err != nil {
			t.Fatalf("lease4-get-all on %s: %v", n.addr, err)
		}
	}
	out := map[string]string{}
	for _, x := range ls.Leases {
		out[x.Addr] = x.HWAddr
	}
	return out
}

// holds checks that the node has ip leased to mac.
func (n haNode) holds(t *testing.T, l *Lab, ip, mac string) {
	t.Helper()
	a, err := n.command(l, "lease4-get", map[string]any{"ip-address": ip})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		HWAddr string `json:"hw-address"`
	}
	json.Unmarshal(a.Arguments, &got)
	if a.Result != 0 || !strings.EqualFold(got.HWAddr, mac) {
		t.Fatalf("lease4-get %s on %s: result %d %q, hw-address %q; want %s's lease", ip, n.addr, a.Result, a.Text, got.HWAddr, mac)
	}
}

// haLab is the pair's two server namespaces with a directory each.
func haLab(t *testing.T) (l *Lab, ns, dirs [2]string) {
	t.Helper()
	if isKea() {
		t.Skip("Kea 2.2's HA needs kea-ctrl-agent in front of each server; pkg/ha's kea-tagged test covers interop")
	}
	l = NewLab(t)
	ns = [2]string{l.Host("srv1", "eth0", haPrimary+"/24"), l.Host("srv2", "eth0", haStandby+"/24")}
	for i := range dirs {
		dirs[i] = filepath.Join(l.Dir, fmt.Sprintf("srv%d", i+1))
		if err := os.MkdirAll(dirs[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return l, ns, dirs
}

// homePair is the home pair moved onto the lab: its configurations (file
// names starting with prefix) and its two nodes.
func homePair(t *testing.T, l *Lab, ns, dirs [2]string, prefix string) (confs [2]string, primary, standby haNode) {
	t.Helper()
	for i := range confs {
		name := fmt.Sprintf("home-server%d.conf", i+1)
		confs[i] = haConfig(t, l, filepath.Join(repoRoot(t), "configs", name), prefix+name, dirs[i],
			[2]string{"enp0s8", "eth0"}, [2]string{"192.168.1.", "192.0.2."})
	}
	return confs, haNode{ns: ns[0], addr: haPrimary, url: "http://" + haPrimary + ":8000/"},
		haNode{ns: ns[1], addr: haStandby, url: "http://" + haStandby + ":8000/"}
}

// TestHAHotStandby runs the home pair (configs/home-server1.conf and
// home-server2.conf) with real clients.
func TestHAHotStandby(t *testing.T) {
	l, ns, dirs := haLab(t)
	confs, primary, standby := homePair(t, l, ns, dirs, "")
	haFailover(t, l, [2]haNode{primary, standby}, dirs, confs, "hot-standby")
}

// TestHALoadBalancing runs the home pair switched to load-balancing: each
// server answers its half of the clients and holds the other half's leases
// too, and the survivor of a kill serves everyone.
func TestHALoadBalancing(t *testing.T) {
	l, ns, dirs := haLab(t)
	var confs [2]string
	var nodes [2]haNode
	for i, addr := range []string{haPrimary, haStandby} {
		name := fmt.Sprintf("home-server%d.conf", i+1)
		confs[i] = haConfig(t, l, filepath.Join(repoRoot(t), "configs", name), "lb-"+name, dirs[i],
			[2]string{"enp0s8", "eth0"}, [2]string{"192.168.1.", "192.0.2."},
			[2]string{`"mode": "hot-standby"`, `"mode": "load-balancing"`},
			[2]string{`"role": "standby"`, `"role": "secondary"`})
		nodes[i] = haNode{ns: ns[i], addr: addr, url: "http://" + addr + ":8000/"}
	}
	haFailover(t, l, nodes, dirs, confs, "load-balancing")
}

// TestHAPerfdhcp: perfdhcp's 90 simulated clients through the hot-standby
// primary, whose ACKs each wait for the standby's acknowledgement (many in
// flight at once). Every lease the primary holds, the standby holds too.
func TestHAPerfdhcp(t *testing.T) {
	l, ns, dirs := haLab(t)
	confs, primary, standby := homePair(t, l, ns, dirs, "")
	for i := range confs {
		StartServer(t, l, ns[i], dirs[i], confs[i])
	}
	primary.waitState(t, l, "hot-standby")
	standby.waitState(t, l, "hot-standby")
	relay := l.Host("relay", "eth0", "192.0.2.50/24")
	out, err := l.Cmd(relay, "perfdhcp", "-4", "-l", "eth0", "-r", "100", "-R", "90", "-n", "90",
		"-b", "mac=02:00:00:00:00:00", haPrimary).CombinedOutput()
	t.Logf("perfdhcp: %v\n%s", err, out)
	got1, got2 := primary.leases(t, l), standby.leases(t, l)
	if len(got1) < 45 {
		t.Fatalf("the primary holds %d leases after 90 perfdhcp clients; the load never got through", len(got1))
	}
	for ip, mac := range got1 {
		if !strings.EqualFold(got2[ip], mac) {
			t.Errorf("the primary has %s for %s, the standby %q", ip, mac, got2[ip])
		}
	}
}

// TestHAMaintenance takes the primary of the home pair down for
// maintenance through the standby (ha-maintenance-start): the standby
// serves and still sends its updates to the primary, and
// ha-maintenance-cancel brings the pair back to hot-standby.
func TestHAMaintenance(t *testing.T) {
	l, ns, dirs := haLab(t)
	confs, primary, standby := homePair(t, l, ns, dirs, "")
	for i := range confs {
		StartServer(t, l, ns[i], dirs[i], confs[i])
	}
	primary.waitState(t, l, "hot-standby")
	standby.waitState(t, l, "hot-standby")
	if a, err := standby.command(l, "ha-maintenance-start", nil); err != nil || a.Result != 0 {
		t.Fatalf("ha-maintenance-start on the standby: %+v %v", a, err)
	}
	standby.waitState(t, l, "partner-in-maintenance")
	primary.waitState(t, l, "in-maintenance")

	c := NewClient(t, l, "udhcpc", "m1", "02:00:00:00:7c:01")
	c.Start()
	ip := c.Bound().IP
	standby.holds(t, l, ip, c.MAC)
	primary.holds(t, l, ip, c.MAC) // the ACK waited for the primary's update

	if a, err := standby.command(l, "ha-maintenance-cancel", nil); err != nil || a.Result != 0 {
		t.Fatalf("ha-maintenance-cancel on the standby: %+v %v", a, err)
	}
	primary.waitState(t, l, "hot-standby")
	standby.waitState(t, l, "hot-standby")
}

// keaBoard is Kea 2.2 on one board of a home pair. The peer URL, the
// board's port 8000 as in the home configs, is kea-ctrl-agent in front of
// kea-dhcp4 (2.2 has no HTTP control socket of its own), or with listener
// Kea's dedicated HA listener with restrict-commands, which refuses
// version-get; the test then reaches Kea through the agent on port 8001.
type keaBoard struct {
	t            *testing.T
	l            *Lab
	ns, dir      string
	dhcp4, agent string   // configuration files
	env          []string // added to kea-dhcp4's environment
	procs        []*Server
}

// newKeaBoard writes Kea 2.2's configuration for board self ("server1",
// the primary at haPrimary, or "server2", the standby at haStandby), with
// the home configs' pool and options and the lab's short HA timers.
func newKeaBoard(t *testing.T, l *Lab, ns, dir, self string, listener bool, replace ...[2]string) *keaBoard {
	t.Helper()
	addr := map[string]string{"server1": haPrimary, "server2": haStandby}[self]
	sock := filepath.Join(dir, "kea4.sock")
	hooks := "/usr/lib/x86_64-linux-gnu/kea/hooks/"
	mt, haMT, agentPort := "", "", "8000"
	if listener {
		mt = `"multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 16 },`
		haMT = `"restrict-commands": true, "multi-threading": { "enable-multi-threading": true, "http-dedicated-listener": true,
        "http-listener-threads": 1, "http-client-threads": 1 },`
		agentPort = "8001"
	}
	dhcp4 := `{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "eth0" ] }, ` + mt + `
  "control-socket": { "socket-type": "unix", "socket-name": "` + sock + `" },
  "lease-database": { "type": "memfile", "name": "` + filepath.Join(dir, "leases4.csv") + `", "lfc-interval": 0 },
  "valid-lifetime": 43200, "renew-timer": 21600, "rebind-timer": 32400,
  "hooks-libraries": [ { "library": "` + hooks + `libdhcp_lease_cmds.so" },
    { "library": "` + hooks + `libdhcp_ha.so", "parameters": { "high-availability": [ {
        "this-server-name": "` + self + `", "mode": "hot-standby", "heartbeat-delay": 1000, "max-response-delay": 3000,
        "max-ack-delay": 1000, "max-unacked-clients": 0, "sync-timeout": 10000, ` + haMT + `
        "peers": [ { "name": "server1", "url": "http://` + haPrimary + `:8000/", "role": "primary" },
                   { "name": "server2", "url": "http://` + haStandby + `:8000/", "role": "standby" } ] } ] } } ],
  "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "interface": "eth0",
    "pools": [ { "pool": "` + poolFirst + `-` + poolLast + `" } ],
    "option-data": [ { "name": "routers", "data": "192.0.2.1" },
                     { "name": "domain-name-servers", "data": "1.1.1.1,9.9.9.9" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "INFO" } ] } }`
	agent := `{ "Control-agent": { "http-host": "` + addr + `", "http-port": ` + agentPort + `,
  "control-sockets": { "dhcp4": { "socket-type": "unix", "socket-name": "` + sock + `" } },
  "loggers": [ { "name": "kea-ctrl-agent", "output_options": [ { "output": "stdout" } ], "severity": "INFO" } ] } }`
	for _, r := range replace {
		dhcp4 = strings.ReplaceAll(dhcp4, r[0], r[1])
	}
	k := &keaBoard{t: t, l: l, ns: ns, dir: dir, dhcp4: filepath.Join(dir, "kea-dhcp4.json"), agent: filepath.Join(dir, "kea-ca.json")}
	for path, conf := range map[string]string{k.dhcp4: dhcp4, k.agent: agent} {
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// start runs kea-dhcp4, then its control agent.
func (k *keaBoard) start() {
	k.t.Helper()
	k.procs = []*Server{
		startDaemon(k.t, k.l, k.ns, k.dir, "/usr/sbin/kea-dhcp4", k.dhcp4, "DHCP4_STARTED", k.env...),
		startDaemon(k.t, k.l, k.ns, k.dir, "/usr/sbin/kea-ctrl-agent", k.agent, "CTRL_AGENT_HTTP_SERVICE_STARTED"),
	}
}

// kill ends both processes with SIGKILL, as a board losing power.
func (k *keaBoard) kill() {
	for _, p := range k.procs {
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// haBoard is one board of a mixed pair: how the test reaches it, starts
// it (again) and kills it.
type haBoard struct {
	haNode
	start, kill func()
}

// twinleafBoard is twinleaf on board i (0 the primary, 1 the standby)
// with that board's home config.
func twinleafBoard(t *testing.T, l *Lab, ns, dirs [2]string, i int, replace ...[2]string) haBoard {
	name := fmt.Sprintf("home-server%d.conf", i+1)
	conf := haConfig(t, l, filepath.Join(repoRoot(t), "configs", name), name, dirs[i],
		append([][2]string{{"enp0s8", "eth0"}, {"192.168.1.", "192.0.2."}}, replace...)...)
	addr := []string{haPrimary, haStandby}[i]
	b := haBoard{haNode: haNode{ns: ns[i], addr: addr, url: "http://" + addr + ":8000/"}}
	var s *Server
	b.start = func() { s = StartServer(t, l, ns[i], dirs[i], conf) }
	b.kill = func() {
		s.cmd.Process.Kill() // SIGKILL: `ip netns exec` execs the server
		<-s.exited
	}
	return b
}

// keaHABoard is Kea 2.2 on board i, behind its control agent or with
// its dedicated listener.
func keaHABoard(t *testing.T, l *Lab, ns, dirs [2]string, i int, listener bool, replace ...[2]string) haBoard {
	k := newKeaBoard(t, l, ns[i], dirs[i], fmt.Sprintf("server%d", i+1), listener, replace...)
	addr := []string{haPrimary, haStandby}[i]
	port := "8000"
	if listener {
		port = "8001"
	}
	return haBoard{haNode: haNode{ns: ns[i], addr: addr, url: "http://" + addr + ":" + port + "/"}, start: k.start, kill: k.kill}
}

// TestHAWithKea pairs twinleaf with Kea 2.2 both ways round: twinleaf
// primary with a Kea standby, and a Kea primary with a twinleaf standby.
// twinleaf finds the partner's release before it sends a lease update, so
// a RELEASE reaches Kea 2.2 as lease4-del.
func TestHAWithKea(t *testing.T) {
	needKeaHA(t)
	t.Run("twinleaf primary", func(t *testing.T) {
		l, ns, dirs := haLab(t)
		haMixed(t, l, twinleafBoard(t, l, ns, dirs, 0), keaHABoard(t, l, ns, dirs, 1, false))
	})
	t.Run("Kea primary", func(t *testing.T) {
		l, ns, dirs := haLab(t)
		haMixed(t, l, keaHABoard(t, l, ns, dirs, 0, false), twinleafBoard(t, l, ns, dirs, 1))
	})
	// Kea's dedicated listener with restrict-commands refuses version-get
	// (HTTP 403); twinleaf tells 2.2 by its status-get instead.
	t.Run("Kea primary with its dedicated listener", func(t *testing.T) {
		l, ns, dirs := haLab(t)
		haMixed(t, l, keaHABoard(t, l, ns, dirs, 0, true), twinleafBoard(t, l, ns, dirs, 1))
	})
}

// haMixed is a hot-standby pair's life with real clients, whoever runs
// each board: both reach hot-standby (Kea's state from its status-get),
// the standby holds the primary's lease, the primary is killed and the
// standby reaches partner-down and serves a new and a renewing client,
// the primary restarts, syncs, and both return to hot-standby with the
// same lease set. Then a RELEASE at the primary removes the lease on the
// standby, and the next client is served.
func haMixed(t *testing.T, l *Lab, primary, standby haBoard) {
	t.Helper()
	c1, ip1 := mixedStart(t, l, primary, standby, "hot-standby", "k1", "02:00:00:00:7d:01")
	// Kea offers no batches, so twinleaf sent it none (Kea would refuse one).
	for _, b := range []haBoard{primary, standby} {
		if s, err := b.servers(l); err != nil || s.Remote.Twinleaf != nil {
			t.Fatalf("%s agreed to batch lease updates with Kea: %+v, %v", b.addr, s.Remote.Twinleaf, err)
		}
	}
	mixedFailover(t, l, primary, standby, "hot-standby", c1, ip1, "k2", "02:00:00:00:7d:02")

	// twinleaf keeps a released lease (state 3, Kea 3.x's affinity) and
	// must send Kea 2.2 lease4-del, as 2.2's own release does; a Kea 2.2
	// primary sends twinleaf lease4-del. The deadline guards a hang.
	c1.Release()
	var gone haAnswer
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if gone, _ = standby.command(l, "lease4-get", map[string]any{"ip-address": ip1}); gone.Result == 3 {
			break
		}
	}
	if gone.Result != 3 {
		t.Fatalf("after the RELEASE the standby still holds %s: %d %s %s", ip1, gone.Result, gone.Text, gone.Arguments)
	}
	c3 := NewClient(t, l, "udhcpc", "k3", "02:00:00:00:7d:03")
	c3.Start()
	ip3 := c3.Bound().IP
	standby.holds(t, l, ip3, c3.MAC)
	for _, b := range []haBoard{primary, standby} {
		if st, err := b.state(l); err != nil || st != "hot-standby" {
			t.Errorf("after a RELEASE and a new client %s is in %q (%v), want hot-standby", b.addr, st, err)
		}
	}
}

// needKeaHA skips a test that pairs twinleaf with Kea 2.2 when Debian's
// kea-dhcp4-server (with its control agent) is not installed.
func needKeaHA(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"/usr/sbin/kea-dhcp4", "/usr/sbin/kea-ctrl-agent"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
}

// loadBalancing turns the pair's hot-standby relationship into a
// load-balancing one, in twinleaf's and Kea's configs alike.
var loadBalancing = [][2]string{{`"mode": "hot-standby"`, `"mode": "load-balancing"`}, {`"role": "standby"`, `"role": "secondary"`}}

// TestHAWithKeaLoadBalancing pairs twinleaf with Kea 2.2 in
// load-balancing, both ways round: both reach load-balancing, both hold
// the lease a real client gets from either, the secondary left alone
// reaches partner-down and serves a new and a renewing client, and once
// the primary is back both return to load-balancing with the same lease
// set.
func TestHAWithKeaLoadBalancing(t *testing.T) {
	needKeaHA(t)
	t.Run("twinleaf primary", func(t *testing.T) {
		l, ns, dirs := haLab(t)
		haMixedLB(t, l, twinleafBoard(t, l, ns, dirs, 0, loadBalancing...), keaHABoard(t, l, ns, dirs, 1, false, loadBalancing...))
	})
	t.Run("Kea primary", func(t *testing.T) {
		l, ns, dirs := haLab(t)
		haMixedLB(t, l, keaHABoard(t, l, ns, dirs, 0, false, loadBalancing...), twinleafBoard(t, l, ns, dirs, 1, loadBalancing...))
	})
	t.Run("pools split by scope class", func(t *testing.T) {
		l, ns, dirs := haLab(t)
		split := append(slices.Clone(loadBalancing), splitPools)
		primary, secondary := twinleafBoard(t, l, ns, dirs, 0, split...), keaHABoard(t, l, ns, dirs, 1, false, split...)
		secondary.start()
		primary.start()
		primary.waitState(t, l, "load-balancing")
		secondary.waitState(t, l, "load-balancing")
		// Each client gets its address from its scope's pool, whichever
		// board answers it: twinleaf and Kea put it in the same class.
		for i, pool := range [][2]string{{"192.0.2.100", "192.0.2.149"}, {"192.0.2.150", "192.0.2.199"}} {
			mac := macInScope(0x7e, i)
			_, ip := boundOnBoth(t, l, primary.haNode, secondary.haNode, fmt.Sprintf("s%d", i), mac)
			if !inPool(t, ip, pool[0], pool[1]) {
				t.Errorf("client %s of server%d's scope got %s, want an address in %s-%s", mac, i+1, ip, pool[0], pool[1])
			}
		}
	})
}

// splitPools splits the lab's pool between a load-balancing pair's scope
// classes, as Kea's documentation asks, in twinleaf's and Kea's configs
// alike.
var splitPools = [2]string{`"pool": "192.0.2.100-192.0.2.199"`,
	`"pool": "192.0.2.100-192.0.2.149", "client-class": "HA_server1" }, { "pool": "192.0.2.150-192.0.2.199", "client-class": "HA_server2"`}

// haMixedLB is a load-balancing pair's life with real clients, whoever
// runs each board; the primary is the one killed.
func haMixedLB(t *testing.T, l *Lab, primary, secondary haBoard) {
	t.Helper()
	c1, ip1 := mixedStart(t, l, primary, secondary, "load-balancing", "b1", "02:00:00:00:7b:01")
	mixedFailover(t, l, primary, secondary, "load-balancing", c1, ip1, "b2", "02:00:00:00:7b:02")
}

// mixedStart starts both boards, waits until both are in the normal
// state, and has a real client (udhcpc, in namespace name, with mac) get
// a pool address that both boards hold: whichever served it, the ACK
// waited for the other's update.
func mixedStart(t *testing.T, l *Lab, primary, other haBoard, normal, name, mac string) (*Client, string) {
	t.Helper()
	other.start()
	primary.start()
	primary.waitState(t, l, normal)
	other.waitState(t, l, normal)
	return boundOnBoth(t, l, primary.haNode, other.haNode, name, mac)
}

// boundOnBoth has a real client (udhcpc, in namespace name, with mac) get
// a pool address, and checks that both servers hold its lease.
func boundOnBoth(t *testing.T, l *Lab, a, b haNode, name, mac string) (*Client, string) {
	t.Helper()
	c := NewClient(t, l, "udhcpc", name, mac)
	c.Start()
	ip := c.Bound().IP
	if !inPool(t, ip, poolFirst, poolLast) {
		t.Fatalf("client got %q, want a pool address", ip)
	}
	a.holds(t, l, ip, c.MAC)
	b.holds(t, l, ip, c.MAC)
	return c, ip
}

// mixedFailover kills the primary: the other board reaches partner-down
// and serves a new client (dhclient, in namespace name, with mac) and the
// renewing c1. The primary restarts, syncs, and both return to the
// normal state holding the same two leases.
func mixedFailover(t *testing.T, l *Lab, primary, other haBoard, normal string, c1 *Client, ip1, name, mac string) {
	t.Helper()
	primary.kill()
	other.waitState(t, l, "partner-down")
	c2 := NewClient(t, l, "dhclient", name, mac)
	ip2 := servesAfterFailover(t, l, other.haNode, c1, c2, ip1)

	primary.start()
	resynced(t, l, primary.haNode, other.haNode, normal, ip2, c2.MAC)
}

// resynced waits until a restarted primary and its partner are both in
// the normal state again, and checks that they hold the same two leases,
// the second client's (ip2, mac2) among them.
func resynced(t *testing.T, l *Lab, primary, other haNode, normal, ip2, mac2 string) {
	t.Helper()
	primary.waitState(t, l, normal)
	other.waitState(t, l, normal)
	got1, got2 := primary.leases(t, l), other.leases(t, l)
	if len(got1) != 2 || !mapsEqual(got1, got2) {
		t.Fatalf("after the resync the primary holds %v and its partner %v; want the same two leases", got1, got2)
	}
	primary.holds(t, l, ip2, mac2)
}

// startKeaStandby runs Kea 2.2 as the home pair's standby (server2) in
// namespace ns, behind its control agent, with env added to kea-dhcp4's
// environment (such as libfaketime). It returns kea-dhcp4, whose Output
// is its log.
func startKeaStandby(t *testing.T, l *Lab, ns, dir string, env ...string) *Server {
	t.Helper()
	k := newKeaBoard(t, l, ns, dir, "server2", false)
	k.env = env
	k.start()
	return k.procs[0]
}

// TestHAPassiveBackup runs the home pair as a passive-backup primary and
// its backup: the primary serves alone and the backup gets every lease,
// in the background or, with wait-backup-ack, before the ACK goes out.
// The backup runs twinleaf, so the updates go in twinleaf-lease4-batch
// requests.
func TestHAPassiveBackup(t *testing.T) {
	for _, wait := range []bool{false, true} {
		t.Run(fmt.Sprintf("wait-backup-ack=%v", wait), func(t *testing.T) {
			l, ns, dirs := haLab(t)
			var nodes [2]haNode
			var primary *Server
			for i, addr := range []string{haPrimary, haStandby} {
				name := fmt.Sprintf("home-server%d.conf", i+1)
				conf := haConfig(t, l, filepath.Join(repoRoot(t), "configs", name), "pb-"+name, dirs[i],
					[2]string{"enp0s8", "eth0"}, [2]string{"192.168.1.", "192.0.2."},
					[2]string{`"mode": "hot-standby"`, fmt.Sprintf(`"mode": "passive-backup", "wait-backup-ack": %v`, wait)},
					[2]string{`"role": "standby"`, `"role": "backup"`})
				nodes[i] = haNode{ns: ns[i], addr: addr, url: "http://" + addr + ":8000/"}
				if s := StartServer(t, l, ns[i], dirs[i], conf); i == 0 {
					primary = s
				}
			}
			nodes[0].waitState(t, l, "passive-backup")
			nodes[1].waitState(t, l, "backup")
			c := NewClient(t, l, "udhcpc", "b1", "02:00:00:00:7b:01")
			c.Start()
			ip := c.Bound().IP
			nodes[0].holds(t, l, ip, c.MAC)
			if !wait {
				// Sent in the background: wait for it (the deadline
				// only guards against a hang).
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
					if _, ok := nodes[1].leases(t, l)[ip]; ok {
						break
					}
				}
			}
			nodes[1].holds(t, l, ip, c.MAC)
			if !strings.Contains(primary.Output(), "HA_BACKUP_VERSION backup server2 runs") ||
				!strings.Contains(primary.Output(), "in twinleaf-lease4-batch requests") {
				t.Errorf("the primary did not log that the twinleaf backup gets batches")
			}
			if n := batchesReceived(t, l, nodes[1]); n < 1 {
				t.Errorf("the backup received %d batches, want at least 1", n)
			}
		})
	}
}

// batchesReceived is the twinleaf-lease4-batch requests the node says it
// received, in status-get's local HA server.
func batchesReceived(t *testing.T, l *Lab, n haNode) uint64 {
	t.Helper()
	tl, _ := haServerObjects(t, l, n)["local"]["twinleaf"].(map[string]any)
	return counter(tl, "lease4-batches-received")
}

// TestHAHotStandbySecure is the same with the secure template as
// `twinleafctl pair init` writes it: HTTPS control sockets requiring
// client certificates, and the peers talking mutual TLS to each other's
// dedicated HA listener, with multi-threading on.
func TestHAHotStandbySecure(t *testing.T) {
	l, ns, dirs := haLab(t)
	out, confs, nodes := securePair(t, l, ns, dirs)
	haFailover(t, l, nodes, dirs, confs, "hot-standby")
	// Without a client certificate the control socket refuses the operator.
	bare := nodes[0]
	bare.tls = []string{"--cacert", filepath.Join(out, "operator", "CA.pem")}
	if a, err := bare.command(l, "status-get", nil); err == nil {
		t.Errorf("the HTTPS control socket answered without a client certificate: %+v", a)
	}
}

// securePair writes the secure pair's boards with `twinleafctl pair
// init` into the lab (out) and returns each board's configuration for
// the lab and its node, reached over HTTPS with the operator's
// certificate.
func securePair(t *testing.T, l *Lab, ns, dirs [2]string) (out string, confs [2]string, nodes [2]haNode) {
	t.Helper()
	out = filepath.Join(l.Dir, "pair")
	ctlOut, err := exec.Command(filepath.Join(repoRoot(t), "bin", "twinleafctl"), "pair", "init", "--out", out,
		"--boards", haPrimary+","+haStandby, "--subnet", "192.0.2.0/24", "--pool", poolFirst+"-"+poolLast,
		"--router", "192.0.2.1", "--tls-dir", "/TLSDIR").CombinedOutput()
	if err != nil {
		t.Fatalf("twinleafctl pair init: %v\n%s", err, ctlOut)
	}
	opCurl, _ := operator(filepath.Join(out, "operator"))
	for i, addr := range []string{haPrimary, haStandby} {
		board := filepath.Join(out, fmt.Sprintf("server%d", i+1))
		confs[i] = haConfig(t, l, filepath.Join(board, "kea-dhcp4.conf"), fmt.Sprintf("secure%d.conf", i+1), dirs[i],
			[2]string{"/TLSDIR", filepath.Join(board, "tls")})
		nodes[i] = haNode{ns: ns[i], addr: addr, url: "https://" + addr + ":8001/", tls: opCurl}
	}
	return out, confs, nodes
}

// haFailover is the pair's life with real clients: both reach the
// normal state (hot-standby or load-balancing), both hold every lease
// either grants (the ACK waits for the partner's update), the second
// server takes over when the first is killed and keeps a renewing
// client's address, and the restarted first server syncs back to the
// same lease set.
func haFailover(t *testing.T, l *Lab, nodes [2]haNode, dirs, confs [2]string, normal string) {
	t.Helper()
	primary, standby := nodes[0], nodes[1]
	s1 := StartServer(t, l, primary.ns, dirs[0], confs[0])
	StartServer(t, l, standby.ns, dirs[1], confs[1])
	primary.waitState(t, l, normal)
	standby.waitState(t, l, normal)

	// The ACK left only after the partner acknowledged the update.
	c1, ip1 := boundOnBoth(t, l, primary, standby, "h1", "02:00:00:00:7a:01")
	usedBatches(t, l, nodes)

	s1.cmd.Process.Kill() // SIGKILL: `ip netns exec` execs the server
	<-s1.exited
	standby.waitState(t, l, "partner-down")

	c2 := NewClient(t, l, "udhcpc", "h2", "02:00:00:00:7a:02")
	ip2 := servesAfterFailover(t, l, standby, c1, c2, ip1)

	StartServer(t, l, primary.ns, dirs[0], confs[0])
	resynced(t, l, primary, standby, normal, ip2, c2.MAC)
}

// usedBatches checks that two twinleaf servers agreed to batch their lease
// updates (each offers it and saw the other's offer) and that the client's
// update went in a batch: one server sent at least one, the other received
// as many.
func usedBatches(t *testing.T, l *Lab, nodes [2]haNode) {
	t.Helper()
	var sent, received uint64
	for _, n := range nodes {
		s, err := n.servers(l)
		if err != nil {
			t.Fatal(err)
		}
		if s.Local.Twinleaf == nil || s.Local.Twinleaf.Batch != 1 || s.Remote.Twinleaf == nil || s.Remote.Twinleaf.Batch != 1 {
			t.Fatalf("%s does not batch lease updates with its twinleaf partner: status-get local %+v, remote %+v",
				n.addr, s.Local.Twinleaf, s.Remote.Twinleaf)
		}
		sent += s.Remote.Twinleaf.Sent
		received += s.Local.Twinleaf.Received
	}
	if sent == 0 || received < sent {
		t.Fatalf("after a client's lease the pair sent %d and received %d batches of lease updates; want at least one, all received", sent, received)
	}
}

// servesAfterFailover checks the standby in partner-down: it gives the
// new client c2 a pool address of its own and renews c1 (bound to ip1)
// without moving it. It returns c2's address.
func servesAfterFailover(t *testing.T, l *Lab, standby haNode, c1, c2 *Client, ip1 string) string {
	t.Helper()
	c2.Start()
	ip2 := c2.Bound().IP
	if ip2 == ip1 || !inPool(t, ip2, poolFirst, poolLast) {
		t.Fatalf("the standby gave the second client %q (the first has %s)", ip2, ip1)
	}
	standby.holds(t, l, ip2, c2.MAC)
	n := len(c1.Events())
	c1.Renew()
	if ev, _ := c1.WaitEvent(n, "RENEW", "BOUND"); ev.IP != ip1 {
		t.Fatalf("after the failover the renewing client moved from %s to %s", ip1, ev.IP)
	}
	return ip2
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
