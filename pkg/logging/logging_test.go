package logging

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

	"github.com/hashicorp/go-hclog"
)

var testTime = time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.Local)

// newTest builds a Manager writing stdout to a buffer with a fixed clock,
// pid and tid, and no systemd environment unless env says so.
func newTest(t *testing.T, cfg Config, env map[string]string) (*Manager, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	m, err := New(cfg, Options{
		Stdout: &out, Stderr: &out,
		Getenv:  func(k string) string { return env[k] },
		Now:     func() time.Time { return testTime },
		PID:     1234,
		TID:     func() int { return 5678 },
		OnError: func(err error) { t.Errorf("write error: %v", err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, &out
}

func TestLineShape(t *testing.T) {
	m, out := newTest(t, Config{}, nil)
	hw := net.HardwareAddr{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	client := "[hwtype=1 " + hw.String() + "], cid=[no info], tid=0x1234"
	m.Logger("kea-dhcp4.leases").Info("DHCP4_LEASE_ALLOC", client, netip.MustParseAddr("192.168.1.100"), uint32(43200))
	want := "2026-11-27 10:00:00.123 INFO  [kea-dhcp4.leases/1234.5678] DHCP4_LEASE_ALLOC [hwtype=1 aa:bb:cc:dd:ee:ff], cid=[no info], tid=0x1234: lease 192.168.1.100 has been allocated for 43200 seconds\n"
	if got := out.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestMessageExpansion(t *testing.T) {
	tests := []struct {
		id   string
		args []any
		want string
	}{
		{"DHCP4_SHUTDOWN", nil, "DHCP4_SHUTDOWN server shutdown"},
		{"HA_STATE_TRANSITION", []any{"server1", "READY", "HOT-STANDBY", "HOT-STANDBY"},
			"HA_STATE_TRANSITION server1: server transitions from READY to HOT-STANDBY state, partner state is HOT-STANDBY"},
		{"DHCP4_LEASE_ALLOC", []any{"c"}, "DHCP4_LEASE_ALLOC c: lease %2 has been allocated for %3 seconds"},
		{"DHCP4_SHUTDOWN", []any{7}, "DHCP4_SHUTDOWN server shutdown, 7"},
		{"TWINLEAF_UNKNOWN", []any{"a", 1, true}, "TWINLEAF_UNKNOWN a, 1, true"},
		{"TWINLEAF_TYPES", []any{net.HardwareAddr{1, 0xab}, netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParseAddrPort("10.0.0.1:67"), 1500 * time.Millisecond, int64(-3), uint8(9), nil, struct{}{}},
			"TWINLEAF_TYPES 01:ab, 10.0.0.0/8, 10.0.0.1:67, 1.5s, -3, 9, (nil), %!(unsupported)"},
	}
	for _, tt := range tests {
		if got := string(appendMessage(nil, tt.id, tt.args)); got != tt.want {
			t.Errorf("%s %v:\n got  %q\n want %q", tt.id, tt.args, got, tt.want)
		}
	}
}

func TestCatalogPlaceholders(t *testing.T) {
	for _, id := range []string{"DHCP4_STARTED", "DHCP4_SHUTDOWN", "DHCP4_CONFIG_COMPLETE", "DHCP4_LEASE_ALLOC",
		"DHCP4_LEASE_OFFER", "DHCP4_RELEASE", "DHCP4_DECLINE_LEASE", "DHCP4_PACKET_NAK_0001", "DHCP4_QUERY_DATA",
		"DHCP4_RESPONSE_DATA", "DHCP4_BUFFER_RECEIVED", "DHCPSRV_MEMFILE_LFC_START", "HA_STATE_TRANSITION",
		"HA_LEASES_SYNC_LEASE_PAGE_RECEIVED", "HA_SYNC_SUCCESSFUL", "HA_SYNC_FAILED", "HA_LOCAL_DHCP_DISABLE",
		"HA_LOCAL_DHCP_ENABLE", "HA_COMMUNICATION_INTERRUPTED", "HA_COMMUNICATION_INTERRUPTED_CLIENT4_UNACKED",
		"HA_HIGH_CLOCK_SKEW", "HA_LEASE_UPDATE_FAILED", "HA_LEASE_UPDATE_CONFLICT", "HA_TERMINATED"} {
		if _, ok := Text(id); !ok {
			t.Errorf("catalog lacks %s", id)
		}
	}
	// Every text numbers its placeholders 1..n with no gap, so arguments
	// line up with Kea's order.
	for id, text := range keaMessages {
		seen := map[int]bool{}
		for i := 0; i+1 < len(text); i++ {
			if text[i] == '%' && text[i+1] >= '1' && text[i+1] <= '9' {
				seen[int(text[i+1]-'0')] = true
			}
		}
		for n := 1; n <= len(seen); n++ {
			if !seen[n] {
				t.Errorf("%s: placeholders %v skip %%%d", id, seen, n)
			}
		}
	}
}

func TestSeverityAndDebugLevel(t *testing.T) {
	type call struct {
		sev Severity
		dbg int
	}
	calls := []call{{SevDebug, 0}, {SevDebug, 40}, {SevDebug, 41}, {SevDebug, 99}, {SevInfo, 0}, {SevWarn, 0}, {SevError, 0}, {SevFatal, 0}}
	tests := []struct {
		severity string
		debug    int
		want     string // which calls print, by index
	}{
		{"DEBUG", 40, "014567"},
		{"DEBUG", 0, "04567"},
		{"debug", 99, "01234567"},
		{"INFO", 99, "4567"},
		{"WARN", 0, "567"},
		{"ERROR", 0, "67"},
		{"FATAL", 0, "7"},
		{"NONE", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.severity+fmt.Sprint(tt.debug), func(t *testing.T) {
			m, out := newTest(t, Config{Loggers: []LoggerConfig{{Name: RootName, Severity: tt.severity, DebugLevel: tt.debug,
				Outputs: []OutputConfig{{Output: "stdout", Flush: true, Pattern: "%m\n"}}}}}, nil)
			l := m.Logger(RootName)
			for i, c := range calls {
				id := fmt.Sprint("C", i)
				switch c.sev {
				case SevDebug:
					l.Debug(c.dbg, id)
				case SevInfo:
					l.Info(id)
				case SevWarn:
					l.Warn(id)
				case SevError:
					l.Error(id)
				case SevFatal:
					l.Fatal(id)
				}
			}
			got := strings.ReplaceAll(strings.ReplaceAll(out.String(), "C", ""), "\n", "")
			if got != tt.want {
				t.Errorf("printed calls %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInheritance(t *testing.T) {
	dir := t.TempDir()
	haLog := filepath.Join(dir, "ha.log")
	cfg := Config{Loggers: []LoggerConfig{
		{Name: RootName, Severity: "WARN", Outputs: []OutputConfig{{Output: "stdout", Flush: true, Pattern: "%c %p %m\n"}}},
		{Name: "kea-dhcp4.dhcpsrv", Severity: "DEBUG", DebugLevel: 10},
		{Name: "kea-dhcp4.ha-hooks", Severity: "INFO", Outputs: []OutputConfig{{Output: haLog, Flush: true, Pattern: "%c %p %m\n"}}},
	}}
	m, out := newTest(t, cfg, nil)
	m.Logger("kea-dhcp4.leases").Info("A")               // root: WARN, dropped
	m.Logger("kea-dhcp4.leases").Warn("B")               // root's outputs
	m.Logger("kea-dhcp4.dhcpsrv").Debug(10, "C")         // own level, root's outputs
	m.Logger("kea-dhcp4.dhcpsrv.memfile").Debug(10, "D") // grandchild inherits dhcpsrv
	m.Logger("kea-dhcp4.dhcpsrv.memfile").Debug(11, "E") // above debuglevel
	m.Logger("kea-dhcp4.ha-hooks").Info("F")             // own file only
	wantOut := "kea-dhcp4.leases WARN B\nkea-dhcp4.dhcpsrv DEBUG C\nkea-dhcp4.dhcpsrv.memfile DEBUG D\n"
	if out.String() != wantOut {
		t.Errorf("stdout %q, want %q", out.String(), wantOut)
	}
	if got, _ := os.ReadFile(haLog); string(got) != "kea-dhcp4.ha-hooks INFO F\n" {
		t.Errorf("ha.log %q", got)
	}

	// A reload changes loggers already handed out.
	cfg.Loggers[0].Severity = "INFO"
	if err := m.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	m.Logger("kea-dhcp4.leases").Info("G")
	if out.String() != "kea-dhcp4.leases INFO G\n" {
		t.Errorf("after reload: %q", out.String())
	}
}

func TestDebugFlag(t *testing.T) {
	m, out := newTest(t, Config{Debug: true, Loggers: []LoggerConfig{{Name: RootName, Severity: "ERROR",
		Outputs: []OutputConfig{{Output: "stdout", Flush: true, Pattern: "%p %m\n"}}}}}, nil)
	m.Logger("kea-dhcp4.packets").Debug(99, "X")
	if out.String() != "DEBUG X\n" {
		t.Errorf("-d: %q", out.String())
	}
}

func TestJournalMode(t *testing.T) {
	for _, env := range []map[string]string{{"JOURNAL_STREAM": "8:1234"}, {"INVOCATION_ID": "abc"}} {
		m, out := newTest(t, Config{}, env)
		m.Logger(RootName).Warn("DHCP4_SHUTDOWN")
		if want := "<4>WARN  [kea-dhcp4/1234.5678] DHCP4_SHUTDOWN server shutdown\n"; out.String() != want {
			t.Errorf("env %v: %q, want %q", env, out.String(), want)
		}
	}
	// With a file output configured the console keeps Kea's pattern.
	cfg := Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "INFO", Outputs: []OutputConfig{
		{Output: "stdout", Flush: true}, {Output: filepath.Join(t.TempDir(), "x.log"), Flush: true}}}}}
	m, out := newTest(t, cfg, map[string]string{"JOURNAL_STREAM": "8:1"})
	m.Logger(RootName).Info("DHCP4_SHUTDOWN")
	if !strings.HasPrefix(out.String(), "2026-11-27 10:00:00.123 INFO ") {
		t.Errorf("file configured: %q", out.String())
	}
}

func TestRotation(t *testing.T) {
	for _, maxVer := range []int{0, 1, 3} {
		t.Run(fmt.Sprint("maxver", maxVer), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "kea-dhcp4.log")
			m, _ := newTest(t, Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "INFO", Outputs: []OutputConfig{
				{Output: path, MaxSize: 1000, MaxVer: maxVer, Flush: true, Pattern: "%m\n"}}}}}, nil)
			l := m.Logger(RootName)
			// 100-byte lines; the size is raised to Kea's minimum, so
			// 2048 lines fill exactly 1 file and 10 lines spill into the next;
			// 10 files' worth forces every version to be written.
			line := strings.Repeat("x", 99-len("L"))
			n := 10*MinMaxSize/100 + 5
			for i := 0; i < n; i++ {
				l.Info("L" + line)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != maxVer+1 {
				t.Fatalf("%d files, want %d: %v", len(entries), maxVer+1, entries)
			}
			for _, e := range entries {
				fi, _ := e.Info()
				if fi.Size() > MinMaxSize {
					t.Errorf("%s is %d bytes, over %d", e.Name(), fi.Size(), MinMaxSize)
				}
				if e.Name() != "kea-dhcp4.log" && fi.Size() != MinMaxSize {
					t.Errorf("rotated %s is %d bytes, want %d (full)", e.Name(), fi.Size(), MinMaxSize)
				}
			}
			for v := 1; v <= maxVer; v++ {
				if _, err := os.Stat(fmt.Sprintf("%s.%d", path, v)); err != nil {
					t.Error(err)
				}
			}
			cur, _ := os.ReadFile(path)
			if want := (n * 100) % MinMaxSize; len(cur) != want {
				t.Errorf("current file %d bytes, want %d", len(cur), want)
			}
		})
	}
}

func TestReopen(t *testing.T) {
	// Both SIGHUP paths leave the moved file with what was written before
	// and send later lines to a new file at the configured path.
	for _, how := range []string{"Reopen", "Configure"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.log")
			cfg := Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "INFO", Outputs: []OutputConfig{
				{Output: path, Flush: false, Pattern: "%m\n"}}}}}
			m, _ := newTest(t, cfg, nil)
			m.Logger(RootName).Info("A")
			if err := os.Rename(path, path+".old"); err != nil {
				t.Fatal(err)
			}
			var err error
			if how == "Reopen" {
				err = m.Reopen()
			} else {
				err = m.Configure(cfg)
			}
			if err != nil {
				t.Fatal(err)
			}
			m.Logger(RootName).Info("B")
			m.Close()
			old, _ := os.ReadFile(path + ".old")
			cur, _ := os.ReadFile(path)
			if string(old) != "A\n" || string(cur) != "B\n" {
				t.Errorf("old %q, current %q", old, cur)
			}
		})
	}
}

func TestSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skipf("unix datagram sockets unavailable: %v", err)
	}
	defer conn.Close()
	var out bytes.Buffer
	m, err := New(Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "INFO", Outputs: []OutputConfig{{Output: "syslog:local7"}}}}},
		Options{Stdout: &out, Getenv: func(string) string { return "" }, Now: func() time.Time { return testTime },
			SyslogNetwork: "unixgram", SyslogAddr: sock, PID: 1234, TID: func() int { return 5678 },
			OnError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Logger("kea-dhcp4.ha-hooks").Error("HA_SYNC_FAILED", "server1", "server2", "timeout")
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	// local7 (23) * 8 + err (3) = 187.
	want := "<187>Nov 27 10:00:00 kea-dhcp4[1234]: ERROR [kea-dhcp4.ha-hooks.5678] HA_SYNC_FAILED server1: lease database synchronization with server2 failed: timeout"
	if got := string(buf[:n]); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "LOUD"}}}, `unknown severity "LOUD"`},
		{Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "DEBUG", DebugLevel: 100}}}, "debuglevel 100 is out of range"},
		{Config{Loggers: []LoggerConfig{{Severity: "INFO"}}}, "has no name"},
		{Config{Loggers: []LoggerConfig{{Name: "a", Severity: "INFO"}, {Name: "a", Severity: "INFO"}}}, "configured twice"},
		{Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "INFO", Outputs: []OutputConfig{{Output: "stdout", Pattern: "%x"}}}}}, "%x is not supported"},
		{Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "INFO", Outputs: []OutputConfig{{Output: "/nonexistent/dir/k.log"}}}}}, "opening log file /nonexistent/dir/k.log"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, Options{Getenv: func(string) string { return "" }})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tt.cfg, err, tt.want)
		}
	}
}

func TestPatterns(t *testing.T) {
	r := &record{time: testTime, sev: SevWarn, logger: "kea-dhcp4", pid: 1, tid: 2, msg: []byte("M")}
	tests := []struct{ pattern, want string }{
		{"", "2026-11-27 10:00:00.123 WARN  [kea-dhcp4/1.2] M\n"},
		{DefaultSyslogPattern, "WARN  [kea-dhcp4.2] M\n"},
		{"%5p|%-6c|%%|%n", " WARN|kea-dhcp4|%|\n"},
		{"%D{%y%m%d %Q}", "261127 123.456"},
		{"%D", "2026-11-27 10:00:00"},
	}
	for _, tt := range tests {
		p, err := compilePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if got := string(p.render(nil, r)); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.pattern, got, tt.want)
		}
	}
}

func FuzzPattern(f *testing.F) {
	for _, s := range []string{"", DefaultPattern, DefaultSyslogPattern, "%-5p %c %m%n", "%D{%Y", "%", "%-", "%99999p", "%D{%Z}", "%d{%q}x%%"} {
		f.Add(s)
	}
	r := &record{time: testTime, sev: SevInfo, logger: "l", msg: []byte("m")}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := compilePattern(s)
		if err != nil {
			if !strings.Contains(err.Error(), "bad pattern") {
				t.Errorf("error %q does not say it is a pattern error", err)
			}
			return
		}
		p.render(nil, r)
	})
}

func BenchmarkDisabledDebug(b *testing.B) {
	m, err := New(Config{}, Options{Stdout: &bytes.Buffer{}, Getenv: func(string) string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	l := m.Logger("kea-dhcp4.packets")
	addr := netip.MustParseAddr("192.0.2.1")
	iface := string([]byte("eth0"))
	n := 123456
	b.ReportAllocs()
	for b.Loop() {
		l.Debug(DbgTraceDetail, "DHCP4_BUFFER_RECEIVED", addr, n, addr, 67, iface)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		l.Debug(DbgTraceDetail, "DHCP4_BUFFER_RECEIVED", addr, n, addr, 67, iface)
	}); allocs != 0 {
		b.Errorf("a disabled debug call allocates %v times", allocs)
	}
}

func TestDisabledCallDoesNotAllocate(t *testing.T) {
	m, _ := newTest(t, Config{}, nil)
	l := m.Logger("kea-dhcp4.packets")
	addr := netip.MustParseAddr("192.0.2.1")
	iface := string([]byte("eth0"))
	n := 123456
	if allocs := testing.AllocsPerRun(100, func() {
		l.Debug(DbgTraceDetail, "DHCP4_BUFFER_RECEIVED", addr, n, addr, 67, iface)
	}); allocs != 0 {
		t.Errorf("a disabled debug call allocates %v times", allocs)
	}
}

func TestHCLog(t *testing.T) {
	m, out := newTest(t, Config{Loggers: []LoggerConfig{
		{Name: RootName, Severity: "INFO", Outputs: []OutputConfig{{Output: "stdout", Flush: true, Pattern: "%c %p %m\n"}}},
		{Name: "kea-dhcp4.packets", Severity: "DEBUG", DebugLevel: 40},
	}}, nil)
	h := m.Logger(RootName).HCLog()
	h.Debug("HIDDEN")
	h.With("iface", "eth0").Warn("DHCP4_PACKET_SEND_FAIL failed to send", "error", "EPERM")
	p := h.Named("packets")
	p.Debug("DHCP4_PACKET_DROP", "reason", "no subnet")
	p.Trace("HIDDEN_TRACE")
	p.StandardLogger(nil).Print("from log")
	want := "kea-dhcp4 WARN DHCP4_PACKET_SEND_FAIL failed to send iface=eth0 error=EPERM\n" +
		"kea-dhcp4.packets DEBUG DHCP4_PACKET_DROP reason=no subnet\n" +
		"kea-dhcp4.packets INFO from log\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
	if h.IsDebug() || !p.IsDebug() || p.IsTrace() || p.GetLevel() != hclog.Debug || p.Name() != "kea-dhcp4.packets" {
		t.Errorf("levels: root debug %v, packets debug %v trace %v level %v", h.IsDebug(), p.IsDebug(), p.IsTrace(), p.GetLevel())
	}
}

func TestConcurrentReload(t *testing.T) {
	dir := t.TempDir()
	cfgFor := func(name string) Config {
		return Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "INFO", Outputs: []OutputConfig{
			{Output: filepath.Join(dir, name), Flush: true, Pattern: "%m\n"}}}}}
	}
	m, _ := newTest(t, cfgFor("a.log"), nil)
	l := m.Logger("kea-dhcp4.leases")
	done := make(chan struct{})
	var writers sync.WaitGroup
	for range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for {
				select {
				case <-done:
					return
				default:
					l.Info("LINE")
				}
			}
		}()
	}
	for i := range 20 {
		if err := m.Configure(cfgFor(fmt.Sprintf("%c.log", 'a'+i%2))); err != nil {
			t.Error(err)
		}
		if err := m.Reopen(); err != nil {
			t.Error(err)
		}
	}
	close(done)
	writers.Wait()
	m.Close()
	// Every line that reached a file is whole.
	for _, name := range []string{"a.log", "b.log"} {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if line != "LINE" && line != "" {
				t.Fatalf("%s has a torn line %q", name, line)
			}
		}
	}
}

func TestBadReloadKeepsOld(t *testing.T) {
	m, out := newTest(t, Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "INFO",
		Outputs: []OutputConfig{{Output: "stdout", Flush: true, Pattern: "%m\n"}}}}}, nil)
	err := m.Configure(Config{Loggers: []LoggerConfig{{Name: RootName, Severity: "INFO",
		Outputs: []OutputConfig{{Output: "/nonexistent/dir/x.log"}}}}})
	if err == nil {
		t.Fatal("a log file in a missing directory was accepted")
	}
	m.Logger(RootName).Info("STILL")
	if out.String() != "STILL\n" {
		t.Errorf("after a failed reload: %q", out.String())
	}
}

func FuzzExpand(f *testing.F) {
	for _, text := range keaMessages {
		f.Add(text, "a", 2)
	}
	f.Add("%", "x", 0)
	f.Add("%0 %10 %99999999999999999999 %1%2%", "x", 1)
	f.Fuzz(func(t *testing.T, text, s string, n int) {
		args := []any{s, n, netip.Addr{}}
		out := string(expand(nil, text, args))
		// Text without placeholders comes back unchanged, plus the unused
		// arguments.
		if !strings.Contains(text, "%") && !strings.HasPrefix(out, text) {
			t.Errorf("expand(%q) = %q lost the text", text, out)
		}
	})
}
