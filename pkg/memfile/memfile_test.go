package memfile

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

func TestLoadKea22File(t *testing.T) {
	// testdata/kea22.csv was written by Kea 2.2.0 from Debian here, serving
	// perfdhcp (11 columns, no pool_id).
	s := lease.NewStore()
	rep, err := load("testdata/kea22.csv", s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 5 || s.Len() != 5 || len(rep.Skipped) != 0 {
		t.Fatalf("report %+v, store %d leases", rep, s.Len())
	}
	l, _ := s.Get(netip.MustParseAddr("198.51.100.102"))
	hw, _ := net.ParseMAC("00:0c:01:02:03:06")
	if l == nil || l.HWAddr.String() != hw.String() || FormatHex(l.ClientID) != "01:00:0c:01:02:03:06" ||
		l.ValidLft != 120 || l.Expire().Unix() != 1795741815 || l.SubnetID != 2 || l.PoolID != 0 {
		t.Errorf("lease = %+v", l)
	}
}

func TestLoadKea3File(t *testing.T) {
	// testdata/kea3.csv is hand-written as Kea 3.x writes rows: escaping,
	// user context, a declined lease, a delete, a reclaimed lease and a
	// released one (valid 0, state 3, which reads back as a delete).
	s := lease.NewStore()
	rep, err := load("testdata/kea3.csv", s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 0 {
		t.Fatalf("skipped %v", rep.Skipped)
	}
	tests := []struct {
		addr   string
		absent bool
		check  func(*lease.Lease) bool
	}{
		{addr: "192.0.2.100", check: func(l *lease.Lease) bool {
			return l.Hostname == "laptop,work&home" && l.FqdnFwd && l.FqdnRev && l.PoolID == 2 &&
				l.UserContext["ISC"].(map[string]any)["relay-agent-info"] != nil
		}},
		{addr: "192.0.2.101", absent: true},
		{addr: "192.0.2.102", check: func(l *lease.Lease) bool { return l.State == lease.StateDeclined && len(l.HWAddr) == 0 }},
		{addr: "192.0.2.103", check: func(l *lease.Lease) bool { return l.State == lease.StateReclaimed }},
		{addr: "192.0.2.104", absent: true},
	}
	for _, tt := range tests {
		l, ok := s.Get(netip.MustParseAddr(tt.addr))
		if tt.absent {
			if ok {
				t.Errorf("%s: present, want deleted", tt.addr)
			}
			continue
		}
		if !ok || !tt.check(l) {
			t.Errorf("%s: %+v", tt.addr, l)
		}
	}
}

func TestRowRoundTrip(t *testing.T) {
	hw, _ := net.ParseMAC("1a:1b:1c:1d:1e:1f")
	in := &lease.Lease{Addr: netip.MustParseAddr("192.0.2.7"), HWAddr: hw, ClientID: []byte{1, 0x1a, 2},
		ValidLft: 3600, CLTT: time.Unix(1795770000, 0).UTC(), SubnetID: 9, PoolID: 3, FqdnFwd: true,
		Hostname: "a,b&c", State: lease.StateDefault, UserContext: map[string]any{"k": "v,w", "n": 1.0}}
	row := FormatRow(in)
	want := "192.0.2.7,1a:1b:1c:1d:1e:1f,01:1a:02,3600,1795773600,9,1,0,a&#x2cb&#x26c,0,{ \"k\": \"v&#x2cw\"&#x2c \"n\": 1 },3\n"
	if row != want {
		t.Fatalf("row\n got %q\nwant %q", row, want)
	}
	sch, _ := parseHeader(strings.TrimSuffix(Header, "\n"))
	out, err := sch.parseRow(strings.TrimSuffix(row, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !lease.Equal(in, out) || out.UserContext["k"] != "v,w" {
		t.Errorf("round trip: got %+v, want %+v", out, in)
	}
}

func TestBadRows(t *testing.T) {
	sch, _ := parseHeader(strings.TrimSuffix(Header, "\n"))
	tests := []struct{ row, want string }{
		{"192.0.2.1,,,100,200,1,0,0,,0,,0", "neither hwaddr nor client_id"},
		{"300.0.2.1,01:02,,100,200,1,0,0,,0,,0", "not an IPv4 address"},
		{"192.0.2.1,01:xx,,100,200,1,0,0,,0,,0", "hwaddr"},
		{"192.0.2.1,01:02,,100,200,1,true,0,,0,,0", "fqdn_fwd"},
		{"192.0.2.1,01:02,,100,50,1,0,0,,0,,0", "expire"},
		{"192.0.2.1,01:02,,100,200,1,0,0,,0,[1],0", "user_context"},
		{"192.0.2.1,01:02,,100,200,1,0,0,,0", "columns"},
	}
	for _, tt := range tests {
		if _, err := sch.parseRow(tt.row); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.row, err, tt.want)
		}
	}
	if _, err := parseHeader("address,hwaddr,client_id,valid_lifetime,expire,subnet,fqdn_fwd,fqdn_rev,hostname"); err == nil {
		t.Error("a misnamed header column was accepted")
	}
}

func TestMaxRowErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	content := Header + "bad\nbad\n192.0.2.1,01:02,,100,200,1,0,0,,0,,0\n"
	os.WriteFile(path, []byte(content), 0o644)
	if _, err := load(path, lease.NewStore(), 1); err == nil {
		t.Error("2 bad rows with max-row-errors 1 loaded")
	}
	s := lease.NewStore()
	rep, err := load(path, s, 0)
	if err != nil || len(rep.Skipped) != 2 || s.Len() != 1 || rep.Skipped[0].Line != 2 {
		t.Errorf("unlimited: %v %+v", err, rep)
	}
}

func mkLease(i int) *lease.Lease {
	hw := net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}
	return &lease.Lease{Addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), HWAddr: hw,
		ValidLft: 3600, CLTT: time.Unix(1795770000+int64(i), 0).UTC(), SubnetID: 1}
}

// TestCutAtEveryOffset simulates a crash in the middle of writing the last
// rows: for every length the file may have been cut to, loading keeps
// every complete row, and reopening for append repairs the tail.
func TestCutAtEveryOffset(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.csv")
	j, err := Open(Options{Path: full, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := j.Commit(lease.Change{New: mkLease(i)}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	data, _ := os.ReadFile(full)
	lastRows := len(FormatRow(mkLease(2))) + len(FormatRow(mkLease(3)))
	for cut := len(data) - lastRows; cut <= len(data); cut++ {
		path := filepath.Join(dir, fmt.Sprintf("cut%d.csv", cut))
		os.WriteFile(path, data[:cut], 0o644)
		complete := strings.Count(string(data[:cut]), "\n") - 1 // minus the header
		s := lease.NewStore()
		rep, err := load(path, s, 0)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if s.Len() != complete || len(rep.Skipped) != 0 {
			t.Fatalf("cut at %d: %d leases (skipped %v), want %d", cut, s.Len(), rep.Skipped, complete)
		}
		if truncated := data[cut-1] != '\n'; truncated != (len(rep.Truncated) == 1) {
			t.Fatalf("cut at %d: truncated report %v", cut, rep.Truncated)
		}
		j, err := Open(Options{Path: path, Persist: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Commit(lease.Change{New: mkLease(9)}); err != nil {
			t.Fatal(err)
		}
		j.Close()
		s = lease.NewStore()
		if rep, err := load(path, s, 0); err != nil || len(rep.Skipped) != 0 || s.Len() != complete+1 {
			t.Fatalf("cut at %d, appended after repair: %d leases, skipped %v, err %v", cut, s.Len(), rep.Skipped, err)
		}
	}
}

func TestConcurrentCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	j, err := Open(Options{Path: path, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				l := mkLease(w*100 + i)
				if err := j.Commit(lease.Change{New: l}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	old := mkLease(5)
	if err := j.Commit(lease.Change{Old: old}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	s := lease.NewStore()
	rep, err := load(path, s, 0)
	if err != nil || len(rep.Skipped) != 0 || s.Len() != 799 {
		t.Fatalf("after 800 commits and a delete: %d leases, %+v, %v", s.Len(), rep, err)
	}
	for i := range 800 {
		want := mkLease(i)
		got, ok := s.Get(want.Addr)
		if ok == (i == 5) || ok && (!bytes.Equal(got.HWAddr, want.HWAddr) || !got.CLTT.Equal(want.CLTT)) {
			t.Errorf("lease %d: got %+v (held %v), want %+v", i, got, ok, want)
		}
	}
}

func TestPersistFalse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "never.csv")
	j, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Commit(lease.Change{New: mkLease(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("persist false created %s", path)
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, p := range []string{"testdata/kea22.csv", "testdata/kea3.csv", "testdata/lfc-input.csv", "testdata/lfc-kea22-output.csv", "testdata/kea22-release.csv"} {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(Header + "192.0.2.1,01,,1,1,1,0,0,&#x,0,,0\n"))
	f.Add([]byte("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname\n192.0.2.1,1:2,,9,9,1,0,0,x\n"))
	f.Add([]byte(Header + "192.0.2.1,01:02,,100,2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := lease.NewStore()
		var rep LoadReport
		if err := loadFile("fuzz", strings.NewReader(string(b)), s, 0, &rep); err != nil {
			return
		}
		// Every lease loaded must survive a write and a re-read unchanged.
		for _, l := range s.All() {
			sch, _ := parseHeader(strings.TrimSuffix(Header, "\n"))
			back, err := sch.parseRow(strings.TrimSuffix(FormatRow(l), "\n"))
			if err != nil {
				t.Fatalf("row %q written from a loaded lease does not read back: %v", FormatRow(l), err)
			}
			if !lease.Equal(l, back) {
				t.Fatalf("round trip changed %+v into %+v", l, back)
			}
		}
	})
}

// BenchmarkCommit measures durable commits on a real file: one committer
// pays a whole fdatasync per lease, eight share them. cpu-ns/op is the
// process's CPU time (user and system) per commit: what a flush costs
// the machine beyond the wait, the figure that decides how much group
// commit saves.
func BenchmarkCommit(b *testing.B) {
	for _, committers := range []int{1, 8} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) {
			j, err := Open(Options{Path: filepath.Join(b.TempDir(), "l.csv"), Persist: true})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			cpu0 := cpuTime()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range committers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < b.N; i += committers {
						if err := j.Commit(lease.Change{New: mkLease(i)}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCommitFailure makes the file unwritable for one commit: the caller
// gets the error, and the rows neither load later nor damage the rows
// committed after.
func TestCommitFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	j, err := Open(Options{Path: path, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Commit(lease.Change{New: mkLease(1)}); err != nil {
		t.Fatal(err)
	}
	good := j.f
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j.f = ro // writes fail as on a failing disk
	if err := j.Commit(lease.Change{New: mkLease(2)}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("commit to an unwritable file: %v, want an error naming %s", err, path)
	}
	ro.Close()
	j.f = good
	if err := j.Commit(lease.Change{New: mkLease(3)}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	s := lease.NewStore()
	rep, err := load(path, s, 0)
	_, has2 := s.Get(mkLease(2).Addr)
	if err != nil || len(rep.Skipped) != 0 || s.Len() != 2 || has2 {
		t.Errorf("after a failed commit: %d leases (failed one present: %v), %+v, %v", s.Len(), has2, rep, err)
	}
}

// TestFormatHex checks Kea's colon hex against net.HardwareAddr's, which
// the column format was first written with, for every length a row meets.
func TestFormatHex(t *testing.T) {
	for n := range 21 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + 250)
		}
		want := ""
		if n > 0 {
			want = net.HardwareAddr(b).String()
		}
		if got := FormatHex(b); got != want {
			t.Errorf("FormatHex(%d bytes) = %q, want %q", n, got, want)
		}
	}
}
