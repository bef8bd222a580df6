package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The pair lab: both servers and the client namespace on one bridge. The
// client namespace also carries perfdhcp's relay address, so the rate runs
// are relayed (unicast to the primary) and the failover runs broadcast
// (both servers hear every client).
const (
	pairPrimary = "10.10.0.2"
	pairStandby = "10.10.0.3"
	pairClient  = "10.10.0.50"
	pairRelay   = "198.18.0.1"
	haPort      = "8000"
	keaHooks    = "/usr/lib/x86_64-linux-gnu/kea/hooks/"
)

// haSettings are the HA timers both kinds of pair run with, printed with
// the results. max-unacked-clients 0 makes the standby take over on the
// heartbeat timeout alone, as perfdhcp's secs field never grows.
var haSettings = map[string]int{
	"heartbeat-delay":     1000,
	"max-response-delay":  3000,
	"max-ack-delay":       1000,
	"max-unacked-clients": 0,
	"sync-timeout":        30000,
}

// Multi-threaded mode ("mt"): the DHCP thread pool and the dedicated HA
// listener's threads. http-client-threads comes from -client-threads
// (both modes): Kea opens one connection to the partner per client thread
// (0: one per core), twinleaf as many connections (0: 64).
const (
	mtThreads       = 2
	mtListenThreads = 2
)

// pairBench runs the rate sweep, then the failover measurements, for every
// server kind and mode, and prints twinleaf's ratios against Kea.
// profiles, if not empty, is a directory for the twinleaf servers' CPU
// profiles of the rate runs, one file per server and run.
func pairBench(bin string, servers, modes []string, rates string, period, failovers, clientThreads int, loadThreads, profiles string) error {
	rs, err := parseRates(rates)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(haSettings))
	for k := range haSettings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Print("hot-standby pairs, plain HTTP;")
	for _, k := range keys {
		fmt.Printf(" %s %d", k, haSettings[k])
	}
	fmt.Printf("; http-client-threads %d\nst: HA over each server's control socket (Kea 2.2: kea-ctrl-agent)\nmt: %d DHCP threads, dedicated HA listener (%d threads)\nperfdhcp -g %s\n\n",
		clientThreads, mtThreads, mtListenThreads, loadThreads)
	var results []result
	for _, mode := range modes {
		for _, rate := range rs {
			for _, s := range servers {
				prof := ""
				if profiles != "" && s == "twinleaf" {
					prof = filepath.Join(profiles, fmt.Sprintf("%s-%d", mode, rate))
				}
				res := runPair(pairSpec{s, mode, bin, clientThreads, loadThreads}, rate, period, prof)
				results = append(results, res)
				printRow(res)
			}
		}
	}
	printRatios(results)
	printSustained(results)
	printTop(results)
	if failovers <= 0 {
		return nil
	}

	fmt.Println("\nfailover: primary's link cut to the standby's first DHCPACK (broadcast clients at 20/s)")
	times := map[string][]time.Duration{}
	for _, mode := range modes {
		for _, s := range servers {
			for i := 0; i < failovers; i++ {
				d, err := runFailover(pairSpec{s, mode, bin, clientThreads, loadThreads})
				if err != nil {
					fmt.Printf("%-8s %-2s failover %d: error: %v\n", s, mode, i+1, err)
					continue
				}
				fmt.Printf("%-8s %-2s failover %d: %.2f s\n", s, mode, i+1, d.Seconds())
				times[s+" "+mode] = append(times[s+" "+mode], d)
			}
		}
	}
	fmt.Println("\nfailover, median (lower is better):")
	for _, mode := range modes {
		t, k := median(times["twinleaf "+mode]), median(times["kea "+mode])
		fmt.Printf("%-2s twinleaf %.2f s  kea %.2f s", mode, t.Seconds(), k.Seconds())
		if t > 0 && k > 0 {
			fmt.Printf("  twinleaf / Kea x%.2f", t.Seconds()/k.Seconds())
		}
		fmt.Println()
	}
	return nil
}

// printTop compares the highest rate each pair reached at any drop rate:
// where a pair tops out, which for Kea 2.2's single-threaded pair is far
// below its single server.
func printTop(rs []result) {
	top := map[[2]string]result{}
	for _, r := range rs {
		if k := [2]string{r.server, r.mode}; r.err == nil && r.leasesPerSec > top[k].leasesPerSec {
			top[k] = r
		}
	}
	fmt.Println("\ntop (highest leases/s at any drop rate; capped by the rates swept):")
	for _, mode := range []string{"st", "mt"} {
		t, k := top[[2]string{"twinleaf", mode}], top[[2]string{"kea", mode}]
		if t.leasesPerSec == 0 || k.leasesPerSec == 0 {
			continue
		}
		fmt.Printf("%-2s twinleaf %.0f/s (offered %d)  Kea %.0f/s (offered %d)  x%.2f\n",
			mode, t.leasesPerSec, t.rate, k.leasesPerSec, k.rate, t.leasesPerSec/k.leasesPerSec)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// runPair measures one pair at one offered rate: perfdhcp relays to the
// primary, whose every ACK waits for the standby's acknowledgement of the
// lease. Afterwards both servers' lease files are counted.
// With profile set, each twinleaf server writes its CPU profile to
// profile-server1.pprof and profile-server2.pprof, and its heap profile
// (allocations since start included) to profile-serverN.mem.pprof.
func runPair(spec pairSpec, rate, period int, profile string) result {
	res := result{server: spec.server, mode: spec.mode, rate: rate}
	p, err := startPair(spec, profile)
	if err != nil {
		res.err = err
		return res
	}
	defer p.close()
	pid := p.primary.Process.Pid
	res.settled = settle()
	cpu0, standby0 := cpuSeconds(pid), p.standbyCPU()
	over0, steal0 := rcvbufErrors(p.cli), stealSeconds()
	load := exec.Command("ip", loadArgs(p.cli, pairRelay, rate, period, spec.loadThreads, pairPrimary)...)
	out, _ := load.CombinedOutput()
	cpu1, standby1 := cpuSeconds(pid), p.standbyCPU()
	res.loadOverflows, res.steal = rcvbufErrors(p.cli)-over0, stealSeconds()-steal0
	if ps := load.ProcessState; ps != nil {
		res.loadCPU = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	res.peakRSSKiB = peakRSS(pid)
	parse(&res, string(out))
	if res.acks > 0 {
		res.cpuPer1000 = (cpu1 - cpu0) / float64(res.acks) * 1000
		res.standbyCPUPer1000 = (standby1 - standby0) / float64(res.acks) * 1000
	}
	if res.acks == 0 {
		res.err = fmt.Errorf("no leases; perfdhcp said:\n%s\n%s", out, p.logs())
		return res
	}
	res.held, err = p.settledCounts()
	if err != nil {
		res.err = err
	}
	if spec.server == "twinleaf" {
		res.batch = p.batchSize(pairStandby)
	}
	p.stop() // a twinleaf server writes its profile as it shuts down
	res.notes = p.messages()
	return res
}

// runFailover starts a pair, sends it broadcast clients, cuts the
// primary's link and returns the time from the cut to the first DHCPACK
// the client namespace sees from the standby.
func runFailover(spec pairSpec) (time.Duration, error) {
	p, err := startPair(spec, "")
	if err != nil {
		return 0, err
	}
	defer p.close()
	acks, stopCapture, err := captureACKs(p.cli, pairStandby)
	if err != nil {
		return 0, err
	}
	defer stopCapture()
	clients := exec.Command("ip", "netns", "exec", p.cli, "perfdhcp", "-4", "-l", "eth0", "-r", "20",
		"-R", "100000", "-p", "120", "-b", "mac=02:00:00:00:00:00")
	if err := clients.Start(); err != nil {
		return 0, fmt.Errorf("perfdhcp: %w", err)
	}
	defer func() {
		clients.Process.Kill()
		clients.Wait()
	}()
	// Let the primary serve for a while: the cut happens under load.
	time.Sleep(3 * time.Second)
	if n, _ := countLeases(filepath.Join(p.dirs[0], "leases4.csv")); n == 0 {
		return 0, fmt.Errorf("the primary served no broadcast client before the cut\n%s", p.logs())
	}
	cut := time.Now()
	if err := runAll([][]string{{"ip", "-n", p.ns[0], "link", "set", "eth0", "down"}}); err != nil {
		return 0, err
	}
	// The deadline only guards against a standby that never takes over.
	timeout := time.After(90 * time.Second)
	for {
		select {
		case t, ok := <-acks:
			if !ok {
				return 0, fmt.Errorf("tshark ended")
			}
			if t.After(cut) {
				return t.Sub(cut), nil
			}
		case <-timeout:
			st, err := p.state(pairStandby)
			return 0, fmt.Errorf("no DHCPACK from the standby within 90 s of the cut; standby state %q (%v)\n%s", st, err, p.logs())
		}
	}
}

// captureACKs runs tshark in ns and sends the capture time of every
// DHCPACK from src. stop ends the capture.
func captureACKs(ns, src string) (acks <-chan time.Time, stop func(), err error) {
	cmd := exec.Command("ip", "netns", "exec", ns, "tshark", "-l", "-n", "-i", "eth0",
		"-f", "udp src port 67 and src host "+src, "-Y", "dhcp.option.dhcp == 5",
		"-T", "fields", "-e", "frame.time_epoch")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	errOut, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("tshark: %w", err)
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	// tshark says "Capturing on" once the capture runs.
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errOut)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Capturing on") {
				close(ready)
				break
			}
		}
		io.Copy(io.Discard, errOut)
	}()
	ch := make(chan time.Time, 1024)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f, err := strconv.ParseFloat(strings.TrimSpace(sc.Text()), 64)
			if err == nil {
				ch <- time.Unix(0, int64(f*1e9))
			}
		}
	}()
	select {
	case <-ready:
		return ch, stop, nil
	case <-time.After(30 * time.Second):
		stop()
		return nil, nil, fmt.Errorf("tshark never started capturing in %s", ns)
	}
}

// pair is one running pair in its namespaces.
type pair struct {
	ns      [2]string // primary, standby
	cli, br string
	dirs    [2]string
	root    string
	profile string
	primary *exec.Cmd
	procs   []*exec.Cmd
	outs    []*bytes.Buffer
	names   []string
	server  []int // which server each process belongs to
}

// pairSpec is what runs as a pair: the server kind (twinleaf or kea), the
// mode (st or mt), twinleaf's binary and http-client-threads.
type pairSpec struct {
	server, mode  string
	bin           string
	clientThreads int
	loadThreads   string // perfdhcp's -g (loadArgs)
}

// startPair builds the lab, starts both servers of the given kind and
// waits until both report hot-standby. profile is as for runPair.
func startPair(spec pairSpec, profile string) (*pair, error) {
	tag := make([]byte, 3)
	rand.Read(tag)
	pre := "tlh" + hex.EncodeToString(tag)
	p := &pair{ns: [2]string{pre + "p", pre + "s"}, cli: pre + "c", br: pre + "b", profile: profile}
	var err error
	if p.root, err = os.MkdirTemp("", "habench"); err != nil {
		return nil, err
	}
	if err := p.network(); err != nil {
		p.close()
		return nil, err
	}
	for i, addr := range []string{pairPrimary, pairStandby} {
		p.dirs[i] = filepath.Join(p.root, fmt.Sprintf("server%d", i+1))
		if err := os.MkdirAll(p.dirs[i], 0o755); err != nil {
			p.close()
			return nil, err
		}
		if err := p.startServer(spec, i, addr); err != nil {
			p.close()
			return nil, err
		}
	}
	p.primary = p.procs[0]
	for _, addr := range []string{pairPrimary, pairStandby} {
		if err := p.waitState(addr, "hot-standby"); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

// network makes the namespaces and the bridge between them.
func (p *pair) network() error {
	cmds := [][]string{
		{"ip", "netns", "add", p.br},
		{"ip", "-n", p.br, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", p.br, "link", "set", "br0", "up"},
	}
	hosts := []struct{ ns, addr string }{{p.ns[0], pairPrimary}, {p.ns[1], pairStandby}, {p.cli, pairClient}}
	for i, h := range hosts {
		port := fmt.Sprintf("p%d", i)
		cmds = append(cmds,
			[]string{"ip", "netns", "add", h.ns},
			[]string{"ip", "link", "add", "eth0", "netns", h.ns, "type", "veth", "peer", "name", port, "netns", p.br},
			[]string{"ip", "-n", p.br, "link", "set", port, "master", "br0"},
			[]string{"ip", "-n", p.br, "link", "set", port, "up"},
			[]string{"ip", "-n", h.ns, "addr", "add", h.addr + "/16", "dev", "eth0"},
			[]string{"ip", "-n", h.ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", h.ns, "link", "set", "lo", "up"})
		if h.ns == p.cli {
			cmds = append(cmds, []string{"ip", "-n", h.ns, "addr", "add", pairRelay + "/15", "dev", "eth0"})
		} else {
			cmds = append(cmds, []string{"ip", "-n", h.ns, "route", "add", "198.18.0.0/15", "dev", "eth0"})
		}
	}
	return runAll(cmds)
}

// startServer starts server i (0 primary, 1 standby) of the given kind:
// twinleaf, or kea-dhcp4 with kea-ctrl-agent in front in mode st (Kea
// 2.2's Dhcp4 has no HTTP control socket).
func (p *pair) startServer(spec pairSpec, i int, addr string) error {
	server, mode := spec.server, spec.mode
	dir := p.dirs[i]
	control, agent := "", false
	switch {
	case mode == "st" && server == "kea":
		sock := filepath.Join(dir, "kea4.sock")
		control = `"control-socket": { "socket-type": "unix", "socket-name": "` + sock + `" },`
		ca := `{ "Control-agent": { "http-host": "` + addr + `", "http-port": ` + haPort + `,
  "control-sockets": { "dhcp4": { "socket-type": "unix", "socket-name": "` + sock + `" } },
  "loggers": [ { "name": "kea-ctrl-agent", "output_options": [ { "output": "stdout" } ], "severity": "WARN" } ] } }`
		if err := os.WriteFile(filepath.Join(dir, "kea-ca.json"), []byte(ca), 0o644); err != nil {
			return err
		}
		agent = true
	case mode == "st":
		control = `"control-socket": { "socket-type": "http", "socket-address": "` + addr + `", "socket-port": ` + haPort + ` },`
	case mode != "mt":
		return fmt.Errorf("mode %q: want st or mt", mode)
	}
	conf := pairConfig(i, mode == "mt", spec.clientThreads, dir, control)
	if err := os.WriteFile(filepath.Join(dir, "dhcp4.json"), []byte(conf), 0o644); err != nil {
		return err
	}
	path := spec.bin
	if server == "kea" {
		path = "/usr/sbin/kea-dhcp4"
	} else if server != "twinleaf" {
		return fmt.Errorf("server %q: want twinleaf or kea", server)
	}
	if err := p.start(i, server, path, "dhcp4.json"); err != nil || !agent {
		return err
	}
	return p.start(i, "kea-ctrl-agent", "/usr/sbin/kea-ctrl-agent", "kea-ca.json")
}

// start runs path -c conf in server i's namespace and directory.
func (p *pair) start(i int, name, path, conf string) error {
	cmd := exec.Command("ip", "netns", "exec", p.ns[i], path, "-c", conf)
	cmd.Dir = p.dirs[i]
	cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+p.dirs[i], "KEA_LOCKFILE_DIR="+p.dirs[i])
	if p.profile != "" && name == "twinleaf" {
		cmd.Env = append(cmd.Env, fmt.Sprintf("TWINLEAF_CPUPROFILE=%s-server%d.pprof", p.profile, i+1),
			fmt.Sprintf("TWINLEAF_MEMPROFILE=%s-server%d.mem.pprof", p.profile, i+1))
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	p.procs = append(p.procs, cmd)
	p.server = append(p.server, i)
	p.outs = append(p.outs, &out)
	p.names = append(p.names, fmt.Sprintf("server%d %s", i+1, name))
	return nil
}

// pairConfig is server i's configuration, read alike by twinleaf and
// kea-dhcp4: a relayed subnet for perfdhcp's rate runs, the bridge's own
// subnet for the broadcast clients of the failover runs.
func pairConfig(i int, mt bool, clientThreads int, dir, control string) string {
	return fmt.Sprintf(`{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "eth0" ] },
  %s
  "lease-database": { "type": "memfile", "name": "%s", "lfc-interval": 0 },
  "valid-lifetime": 3600, "renew-timer": 900, "rebind-timer": 1800,
  "multi-threading": { "enable-multi-threading": %v, "thread-pool-size": %d, "packet-queue-size": 64 },
  "hooks-libraries": [ { "library": "%slibdhcp_lease_cmds.so" },
    { "library": "%slibdhcp_ha.so", "parameters": { "high-availability": [ {
      "this-server-name": "server%d", "mode": "hot-standby",
      "heartbeat-delay": %d, "max-response-delay": %d, "max-ack-delay": %d, "max-unacked-clients": %d, "sync-timeout": %d,
      "multi-threading": { "enable-multi-threading": %v, "http-dedicated-listener": %v,
        "http-listener-threads": %d, "http-client-threads": %d },
      "peers": [ { "name": "server1", "url": "http://%s:%s/", "role": "primary" },
                 { "name": "server2", "url": "http://%s:%s/", "role": "standby" } ] } ] } } ],
  "subnet4": [
    { "id": 1, "subnet": "198.18.0.0/15", "relay": { "ip-addresses": [ "%s" ] },
      "pools": [ { "pool": "198.18.1.0-198.19.255.254" } ],
      "option-data": [ { "name": "routers", "data": "%s" } ] },
    { "id": 2, "subnet": "10.10.0.0/16", "interface": "eth0",
      "pools": [ { "pool": "10.10.1.0-10.10.255.254" } ],
      "option-data": [ { "name": "routers", "data": "10.10.0.1" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "WARN" } ] } }
`, control, filepath.Join(dir, "leases4.csv"), mt, mtThreads, keaHooks, keaHooks, i+1,
		haSettings["heartbeat-delay"], haSettings["max-response-delay"], haSettings["max-ack-delay"],
		haSettings["max-unacked-clients"], haSettings["sync-timeout"],
		mt, mt, mtListenThreads, clientThreads,
		pairPrimary, haPort, pairStandby, haPort, pairRelay, pairRelay)
}

// standbyCPU is the CPU time of the standby's processes (with Kea 2.2 in
// mode st, kea-ctrl-agent's too: it carries every lease update).
func (p *pair) standbyCPU() float64 {
	var sum float64
	for j, c := range p.procs {
		if p.server[j] == 1 {
			sum += cpuSeconds(c.Process.Pid)
		}
	}
	return sum
}

// state asks the server at addr for its HA state with ha-heartbeat, which
// both kinds answer on the peer URL in both modes.
func (p *pair) state(addr string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", p.cli, "curl", "-s", "-m", "5", "-X", "POST",
		"-H", "Content-Type: application/json", "-d", `{"command": "ha-heartbeat", "service": ["dhcp4"]}`,
		"http://"+addr+":"+haPort+"/").Output()
	if err != nil {
		return "", fmt.Errorf("ha-heartbeat to %s: curl: %v", addr, err)
	}
	var as []struct {
		Arguments struct {
			State string `json:"state"`
		} `json:"arguments"`
	}
	if err := json.Unmarshal(out, &as); err != nil || len(as) != 1 {
		return "", fmt.Errorf("ha-heartbeat to %s: not a one-answer list: %v: %s", addr, err, out)
	}
	return as[0].Arguments.State, nil
}

// batchSize is the mean number of updates per lease4-batch request the
// twinleaf server at addr received, from its status-get; 0 when it
// received none or could not be asked.
func (p *pair) batchSize(addr string) float64 {
	out, err := exec.Command("ip", "netns", "exec", p.cli, "curl", "-s", "-m", "5", "-X", "POST",
		"-H", "Content-Type: application/json", "-d", `{"command": "status-get"}`,
		"http://"+addr+":"+haPort+"/").Output()
	if err != nil {
		return 0
	}
	var as []struct {
		Arguments struct {
			HA []struct {
				Servers struct {
					Local struct {
						Twinleaf struct {
							Batches float64 `json:"lease4-batches-received"`
							Updates float64 `json:"lease4-batch-updates-received"`
						} `json:"twinleaf"`
					} `json:"local"`
				} `json:"ha-servers"`
			} `json:"high-availability"`
		} `json:"arguments"`
	}
	if json.Unmarshal(out, &as) != nil || len(as) != 1 || len(as[0].Arguments.HA) != 1 {
		return 0
	}
	t := as[0].Arguments.HA[0].Servers.Local.Twinleaf
	if t.Batches == 0 {
		return 0
	}
	return t.Updates / t.Batches
}

// waitState waits until the server at addr reports state. The deadline
// only guards against a pair that never forms.
func (p *pair) waitState(addr, state string) error {
	var got string
	var err error
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if got, err = p.state(addr); err == nil && got == state {
			return nil
		}
	}
	return fmt.Errorf("%s never reached %s: last state %q, error %v\n%s", addr, state, got, err, p.logs())
}

// settledCounts counts both servers' leases once the standby has caught
// up with the updates still in flight when perfdhcp stopped: the counts
// are read until they repeat (at most 30 s).
func (p *pair) settledCounts() ([2]int, error) {
	var last [2]int
	for i := 0; i < 60; i++ {
		var now [2]int
		for j := range now {
			n, err := countLeases(filepath.Join(p.dirs[j], "leases4.csv"))
			if err != nil {
				return now, err
			}
			now[j] = n
		}
		if i > 0 && now == last {
			return now, nil
		}
		last = now
		time.Sleep(500 * time.Millisecond)
	}
	return last, nil
}

// countLeases counts the leases a memfile CSV holds: the last row of each
// address, if it is an unexpired default-state lease. A row still being
// written at the end of the file is left out.
func countLeases(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := liveLeases(b, time.Now().Unix())
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// liveLeases counts the leases of a memfile CSV's contents b that are
// live at now (Unix seconds). Kea escapes commas inside fields, so a row
// splits on every comma; a last row without its newline is left out.
func liveLeases(b []byte, now int64) (int, error) {
	lines := strings.Split(string(b), "\n")
	lines = lines[:len(lines)-1] // the part after the last newline
	if len(lines) == 0 {
		return 0, nil
	}
	col := map[string]int{}
	for i, name := range strings.Split(lines[0], ",") {
		col[name] = i
	}
	for _, name := range []string{"address", "expire", "state"} {
		if _, ok := col[name]; !ok {
			return 0, fmt.Errorf("header has no %q column: %q", name, lines[0])
		}
	}
	live := map[string]bool{}
	for _, line := range lines[1:] {
		row := strings.Split(line, ",")
		if len(row) <= max(col["address"], col["expire"], col["state"]) {
			continue
		}
		exp, _ := strconv.ParseInt(row[col["expire"]], 10, 64)
		live[row[col["address"]]] = exp > now && row[col["state"]] == "0"
	}
	n := 0
	for _, ok := range live {
		if ok {
			n++
		}
	}
	return n, nil
}

// messageID is the first Kea-style message ID of a log line, such as
// HA_LEASE_UPDATE_FAILED (twinleaf logs Kea's IDs).
var messageID = regexp.MustCompile(`\b[A-Z][A-Z0-9]*(_[A-Z0-9]+)+\b`)

// messages counts the message IDs each server logged (at WARN and above,
// as configured), so drops can be told apart: parking lot full, lease
// update failed, and so on.
func (p *pair) messages() string {
	var b strings.Builder
	for i, o := range p.outs {
		counts := map[string]int{}
		sc := bufio.NewScanner(bytes.NewReader(o.Bytes()))
		for sc.Scan() {
			if id := messageID.FindString(sc.Text()); id != "" {
				counts[id]++
			}
		}
		if len(counts) == 0 {
			continue
		}
		ids := make([]string, 0, len(counts))
		for id := range counts {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		fmt.Fprintf(&b, "    %s:", p.names[i])
		for _, id := range ids {
			fmt.Fprintf(&b, " %s x%d", id, counts[id])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// logs is every process's output, for error reports.
func (p *pair) logs() string {
	var b strings.Builder
	for i, o := range p.outs {
		s := o.String()
		if len(s) > 1500 {
			s = "..." + s[len(s)-1500:]
		}
		fmt.Fprintf(&b, "--- %s:\n%s\n", p.names[i], s)
	}
	return b.String()
}

// stop asks every process to end (SIGTERM), and kills it after 10 s.
func (p *pair) stop() {
	for _, c := range p.procs {
		if c.ProcessState != nil {
			continue
		}
		c.Process.Signal(syscall.SIGTERM)
		t := time.AfterFunc(10*time.Second, func() { c.Process.Kill() })
		c.Wait()
		t.Stop()
	}
}

// close stops the processes and removes the namespaces and files.
func (p *pair) close() {
	p.stop()
	teardown(p.ns[0], p.ns[1], p.cli, p.br)
	if p.root != "" {
		os.RemoveAll(p.root)
	}
}
