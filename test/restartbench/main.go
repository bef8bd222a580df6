// Command restartbench measures how long a server takes to come back with a
// large lease file, and how much memory that takes: twinleaf with its bbolt
// mirror (a start after the mirror was written), twinleaf without it (the
// mirror deleted, so the CSV is read in full and the mirror rebuilt), and
// Kea 2.2 on the same leases.
//
// The lease file holds -leases live leases in -rows rows of history
// (renewals and releases), generated with pkg/memfile's row format. Each
// server gets the layout it writes itself: twinleaf Kea 3.x's 12 columns,
// Kea 2.2 its 11, so neither converts the file on load. Ready is the time
// from exec to the later of the server answering version-get on its
// control socket and logging DHCP4_STARTED; peak RSS is VmHWM from /proc
// at that moment. Each figure is the median of -runs starts.
//
// It needs root (each server runs in its own network namespace, on one
// end of a veth pair: this kernel has no dummy interfaces) and
// kea-dhcp4; `make bench` runs it.
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/memfile"
)

// config is the servers' configuration: one relayed subnet large enough
// for the leases, a unix control socket, the lease commands (to count the
// leases loaded) and no periodic LFC, so nothing rewrites the file.
const config = `{
"Dhcp4": {
    "interfaces-config": { "interfaces": [ "eth0" ] },
    "control-socket": { "socket-type": "unix", "socket-name": "ctrl.sock" },
    "hooks-libraries": [ { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" } ],
    "lease-database": { "type": "memfile", "name": "leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 86400,
    "subnet4": [ { "id": 1, "subnet": "198.18.0.0/15", "relay": { "ip-addresses": [ "198.18.0.1" ] },
                   "pools": [ { "pool": "198.18.1.0-198.19.255.254" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "INFO" } ]
}
}
`

// firstAddr is the pool's first address; generated leases count up from it.
var firstAddr = netip.MustParseAddr("198.18.1.0")

type result struct {
	name      string
	ready     time.Duration // median of the runs
	ctrl      time.Duration // to the first control answer
	started   time.Duration // to DHCP4_STARTED
	rssKiB    int
	leases    int // leases the server reports holding
	err       error
	allReady  []time.Duration
	allRSSKiB []int
}

func main() {
	live := flag.Int("leases", 100000, "live leases in the file")
	rows := flag.Int("rows", 1000000, "rows of history in the file")
	runs := flag.Int("runs", 3, "measured starts per server")
	bin := flag.String("twinleaf", "bin/twinleaf-dhcp4", "twinleaf daemon binary")
	kea := flag.String("kea", "/usr/sbin/kea-dhcp4", "Kea 2.2 daemon binary")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "restartbench: needs root for network namespaces")
		os.Exit(2)
	}
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "restartbench:", err)
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "restartbench")
	if err != nil {
		fmt.Fprintln(os.Stderr, "restartbench:", err)
		os.Exit(2)
	}
	defer os.RemoveAll(dir)
	kea3, kea22 := filepath.Join(dir, "kea3.csv"), filepath.Join(dir, "kea22.csv")
	start := time.Now()
	if err := generate(kea3, kea22, *live, *rows, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "restartbench:", err)
		os.Exit(1)
	}
	st, _ := os.Stat(kea3)
	fmt.Printf("lease file: %d rows, %d live leases, %d MB (generated in %v)\n\n",
		*rows, *live, st.Size()>>20, time.Since(start).Round(time.Millisecond))

	results := []result{
		measure("twinleaf, mirror", absBin, kea3, *runs, true),
		measure("twinleaf, no mirror", absBin, kea3, *runs, false),
		measure("kea 2.2", *kea, kea22, *runs, false),
	}
	printTable(results, *live)
}

// generate writes the same history in both layouts: rounds of renewals
// over a quarter more addresses than live leases, the extra ones released
// (valid lifetime 0) in the last round, until rows rows are written.
func generate(kea3, kea22 string, live, rows int, now time.Time) error {
	addrs := live + live/4
	if addrs == 0 || rows < addrs {
		return fmt.Errorf("need at least %d rows for %d live leases", addrs, live)
	}
	f3, err := os.Create(kea3)
	if err != nil {
		return err
	}
	defer f3.Close()
	f22, err := os.Create(kea22)
	if err != nil {
		return err
	}
	defer f22.Close()
	w3, w22 := bufio.NewWriterSize(f3, 1<<20), bufio.NewWriterSize(f22, 1<<20)
	w3.WriteString(strings.Join(memfile.Columns, ",") + "\n")
	w22.WriteString(strings.Join(memfile.Columns[:11], ",") + "\n")
	write := func(l *lease.Lease) {
		row := memfile.FormatRow(l)
		w3.WriteString(row)
		// Kea 2.2's row is Kea 3's without the last column, pool_id.
		w22.WriteString(row[:strings.LastIndexByte(row, ',')] + "\n")
	}
	// The rows left over from whole rounds are the oldest renewals of
	// live leases; then every round renews each address once, and the
	// last one releases the addresses past the live ones.
	rounds := rows / addrs
	for n := 0; n < rows-rounds*addrs; n++ {
		write(genLease(n%live, now.Add(-time.Duration(rounds+1)*10*time.Minute)))
	}
	for round := 0; round < rounds; round++ {
		for i := 0; i < addrs; i++ {
			l := genLease(i, now.Add(-time.Duration(rounds-round)*10*time.Minute))
			if round == rounds-1 && i >= live {
				l.ValidLft = 0
			}
			write(l)
		}
	}
	for _, w := range []*bufio.Writer{w3, w22} {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// genLease is client i's lease, last renewed at cltt.
func genLease(i int, cltt time.Time) *lease.Lease {
	a := firstAddr.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) + uint32(i)
	hw := net.HardwareAddr{0x02, 0x00, 0x00, byte(i >> 16), byte(i >> 8), byte(i)}
	return &lease.Lease{
		Addr:     netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}),
		HWAddr:   hw,
		ClientID: append([]byte{1}, hw...),
		ValidLft: 86400,
		CLTT:     cltt,
		SubnetID: 1,
		Hostname: fmt.Sprintf("host-%d", i),
	}
}

// measure starts one server runs times on a fresh copy of file. With
// mirror, a first, unmeasured start writes the mirror, and the measured
// starts use it; without, the mirror is deleted before each start.
func measure(name, bin, file string, runs int, mirror bool) result {
	res := result{name: name}
	tag := make([]byte, 3)
	rand.Read(tag)
	ns := "tlr" + hex.EncodeToString(tag)
	defer exec.Command("ip", "netns", "del", ns).Run()
	for _, c := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"},
		{"ip", "-n", ns, "link", "set", "eth1", "up"},
		{"ip", "-n", ns, "addr", "add", "192.0.2.2/24", "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			res.err = fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, out)
			return res
		}
	}
	dir, err := os.MkdirTemp("", "restartbench-"+strings.Fields(name)[0])
	if err != nil {
		res.err = err
		return res
	}
	defer os.RemoveAll(dir)
	if err := copyFile(file, filepath.Join(dir, "leases4.csv")); err != nil {
		res.err = err
		return res
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.conf"), []byte(config), 0o644); err != nil {
		res.err = err
		return res
	}
	if mirror {
		if _, err := start(ns, bin, dir); err != nil {
			res.err = fmt.Errorf("writing the mirror: %w", err)
			return res
		}
		if _, err := os.Stat(filepath.Join(dir, "leases4.csv.mirror")); err != nil {
			res.err = fmt.Errorf("the first start wrote no mirror: %w", err)
			return res
		}
	}
	var ctrls, starteds []time.Duration
	for i := 0; i < runs; i++ {
		if !mirror {
			os.Remove(filepath.Join(dir, "leases4.csv.mirror"))
		}
		// Every start reads the file from the page cache, as a restart
		// right after a crash would.
		r, err := start(ns, bin, dir)
		if err != nil {
			res.err = err
			return res
		}
		res.allReady = append(res.allReady, max(r.ctrl, r.started))
		res.allRSSKiB = append(res.allRSSKiB, r.rssKiB)
		ctrls, starteds = append(ctrls, r.ctrl), append(starteds, r.started)
		res.leases = r.leases
	}
	res.ready, res.ctrl, res.started = median(res.allReady), median(ctrls), median(starteds)
	rss := append([]int(nil), res.allRSSKiB...)
	sort.Ints(rss)
	res.rssKiB = rss[len(rss)/2]
	return res
}

// oneStart is what one start measured.
type oneStart struct {
	ctrl, started time.Duration
	rssKiB        int
	leases        int
}

// start runs the server in ns from dir until it is ready, records the
// figures, counts its leases and stops it with SIGTERM.
func start(ns, bin, dir string) (oneStart, error) {
	var r oneStart
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "-c", "bench.conf")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	cmd.Stderr = cmd.Stdout
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	exited := make(chan struct{})
	started := make(chan time.Duration, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "DHCP4_STARTED") {
				started <- time.Since(t0)
			}
			log.WriteString(sc.Text() + "\n")
		}
		cmd.Wait()
		close(exited)
	}()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	sock := filepath.Join(dir, "ctrl.sock")
	for {
		if _, err := command(sock, "version-get"); err == nil {
			r.ctrl = time.Since(t0)
			break
		}
		select {
		case <-exited:
			return r, fmt.Errorf("%s exited at start-up:\n%s", bin, log.String())
		case <-time.After(2 * time.Millisecond):
		}
		if time.Since(t0) > 10*time.Minute {
			return r, fmt.Errorf("%s never answered on %s", bin, sock)
		}
	}
	select {
	case r.started = <-started:
	case <-exited:
		return r, fmt.Errorf("%s exited at start-up:\n%s", bin, log.String())
	}
	r.rssKiB = peakRSS(cmd.Process.Pid)
	ans, err := command(sock, "lease4-get-all")
	if err != nil {
		return r, err
	}
	var leases struct {
		Arguments struct {
			Leases []json.RawMessage `json:"leases"`
		} `json:"arguments"`
	}
	if err := json.Unmarshal(ans, &leases); err != nil {
		return r, fmt.Errorf("lease4-get-all: %w", err)
	}
	r.leases = len(leases.Arguments.Leases)
	return r, nil
}

// command sends one control command on the unix socket and returns the
// answer, which must say result 0.
func command(sock, name string) (json.RawMessage, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(c, `{ "command": "`+name+`" }`); err != nil {
		return nil, err
	}
	var ans json.RawMessage
	if err := json.NewDecoder(c).Decode(&ans); err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", name, err)
	}
	var res struct {
		Result int    `json:"result"`
		Text   string `json:"text"`
	}
	if err := json.Unmarshal(ans, &res); err != nil || res.Result != 0 {
		return nil, fmt.Errorf("%s: result %d: %s %v", name, res.Result, res.Text, err)
	}
	return ans, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// peakRSS is VmHWM in KiB.
func peakRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return 0
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// printTable shows the servers side by side, then twinleaf's ratios to Kea.
func printTable(rs []result, live int) {
	fmt.Printf("%-20s %10s %10s %10s %12s %8s  %s\n", "server", "ready", "control", "STARTED", "peak RSS", "leases", "all runs")
	var kea *result
	for i, r := range rs {
		if r.err != nil {
			fmt.Printf("%-20s error: %v\n", r.name, r.err)
			continue
		}
		if strings.HasPrefix(r.name, "kea") {
			kea = &rs[i]
		}
		note := ""
		if r.leases != live {
			note = fmt.Sprintf("  (expected %d leases)", live)
		}
		fmt.Printf("%-20s %10v %10v %10v %9d KiB %8d  %v %v KiB%s\n", r.name, r.ready.Round(time.Millisecond),
			r.ctrl.Round(time.Millisecond), r.started.Round(time.Millisecond), r.rssKiB, r.leases,
			roundAll(r.allReady), r.allRSSKiB, note)
	}
	if kea == nil {
		return
	}
	fmt.Println("\nagainst Kea 2.2 (lower is better):")
	for _, r := range rs {
		if r.err != nil || strings.HasPrefix(r.name, "kea") {
			continue
		}
		fmt.Printf("%-20s ready x%.3f  peak RSS x%.2f\n", r.name,
			float64(r.ready)/float64(kea.ready), float64(r.rssKiB)/float64(kea.rssKiB))
	}
}

func roundAll(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(time.Millisecond)
	}
	return out
}
