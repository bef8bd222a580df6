package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConfigs loads every shipped configuration: our versions of Kea's
// templates in configs/ and the lab configs in configs/lab/.
func TestConfigs(t *testing.T) {
	var files []string
	for _, g := range []string{"../../configs/*.conf", "../../configs/lab/*.conf"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 4 {
		t.Fatalf("found %d configs, want at least the 4 templates", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(c.Dhcp4.Subnets) == 0 || len(c.Dhcp4.InterfacesConfig.Interfaces) == 0 {
				t.Errorf("no subnets or interfaces: %+v", c.Dhcp4)
			}
			for _, s := range c.Dhcp4.Subnets {
				if s.ID == 0 {
					t.Errorf("subnet %s has no id", s.Prefix)
				}
			}
		})
	}
}

// TestTemplates checks what the templates say arrived in the structs.
func TestTemplates(t *testing.T) {
	for _, tt := range []struct {
		file      string
		this      string
		listener  bool
		tls       bool
		mt        bool
		hosts     int
		peerWarns int
	}{
		{file: "home-server1.conf", this: "server1", hosts: 2},
		{file: "home-server2.conf", this: "server2", hosts: 2},
		{file: "secure-mt-server1.conf", this: "server1", listener: true, tls: true, mt: true, peerWarns: 2},
		{file: "secure-mt-server2.conf", this: "server2", listener: true, tls: true, mt: true, peerWarns: 2},
	} {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(filepath.Join("../../configs", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			d := c.Dhcp4
			if len(d.HA) != 1 {
				t.Fatalf("HA relationships = %d, want 1", len(d.HA))
			}
			h := d.HA[0]
			if h.ThisServerName != tt.this || h.Mode != "hot-standby" || len(h.Peers) != 2 {
				t.Errorf("HA = %q %q %d peers", h.ThisServerName, h.Mode, len(h.Peers))
			}
			if h.MaxAckDelay != 5000 || h.MaxUnackedClients != 5 || h.HeartbeatDelay != 10000 {
				t.Errorf("HA timings = %d %d %d", h.MaxAckDelay, h.MaxUnackedClients, h.HeartbeatDelay)
			}
			if h.MultiThreading.DedicatedListener != tt.listener || d.MultiThreading.Enable != tt.mt {
				t.Errorf("listener %v, mt %v", h.MultiThreading.DedicatedListener, d.MultiThreading.Enable)
			}
			if !d.LeaseCmds {
				t.Error("lease_cmds not loaded")
			}
			if got := d.ControlSockets[0].CertFile != ""; got != tt.tls {
				t.Errorf("control socket TLS = %v", got)
			}
			if *d.ValidLifetime != 43200 || *d.RenewTimer != 21600 || *d.RebindTimer != 32400 {
				t.Error("global timers not read")
			}
			e := d.ExpiredLeasesProcessing
			if e.ReclaimTimerWaitTime != 3600 || e.HoldReclaimedTime != 172800 || e.MaxReclaimLeases != 0 || e.FlushReclaimedTimerWaitTime != 25 {
				t.Errorf("expired-leases-processing = %+v", e)
			}
			s := d.Subnets[0]
			want := Pool{First: netip.MustParseAddr("192.168.1.100"), Last: netip.MustParseAddr("192.168.1.199")}
			if s.ID != 1 || s.Prefix != netip.MustParsePrefix("192.168.1.0/24") || len(s.Pools) != 1 ||
				s.Pools[0].First != want.First || s.Pools[0].Last != want.Last {
				t.Errorf("subnet = %d %s %+v", s.ID, s.Prefix, s.Pools)
			}
			if len(s.Reservations) != tt.hosts {
				t.Errorf("reservations = %d, want %d", len(s.Reservations), tt.hosts)
			}
			n := 0
			for _, w := range c.Warnings {
				if strings.HasSuffix(w.Path, "/require-client-certs") {
					n++
				}
			}
			if n != tt.peerWarns {
				t.Errorf("require-client-certs warnings = %d, want %d: %v", n, tt.peerWarns, c.Warnings)
			}
			if len(d.Loggers) != 1 || d.Loggers[0].Outputs[0].MaxVer != 4 {
				t.Errorf("loggers = %+v", d.Loggers)
			}
		})
	}
}

// want is the expectation in the first line of each testdata/bad file:
// "// want: FILE:LINE:COL PATH | MESSAGE-PREFIX", PATH "-" for none.
type want struct {
	file      string
	line, col int
	path, msg string
}

func parseWant(t *testing.T, f string) want {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	spec, ok := strings.CutPrefix(first, "// want: ")
	if !ok {
		t.Fatalf("%s: first line must be // want: FILE:LINE:COL PATH | MESSAGE", f)
	}
	loc, msg, ok1 := strings.Cut(spec, " | ")
	pos, path, ok2 := strings.Cut(loc, " ")
	parts := strings.Split(pos, ":")
	if !ok1 || !ok2 || len(parts) != 3 {
		t.Fatalf("%s: malformed want line %q", f, first)
	}
	line, err1 := strconv.Atoi(parts[1])
	col, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: malformed position in %q", f, first)
	}
	if path == "-" {
		path = ""
	}
	return want{file: parts[0], line: line, col: col, path: path, msg: msg}
}

// TestBad loads every broken config and checks the first error's file,
// position, key path and message.
func TestBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 45 {
		t.Fatalf("%d broken configs, want at least 45", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".conf"), func(t *testing.T) {
			w := parseWant(t, f)
			c, err := Load(f)
			if err == nil {
				t.Fatalf("loaded without error (warnings %v)", c.Warnings)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			got := want{file: e.File, line: e.Line, col: e.Col, path: e.Path, msg: e.Msg}
			if got.file != w.file || got.line != w.line || got.col != w.col || got.path != w.path || !strings.HasPrefix(got.msg, w.msg) {
				t.Errorf("first error\n got  %s:%d:%d %q %q\n want %s:%d:%d %q %q...", got.file, got.line, got.col, got.path, got.msg,
					w.file, w.line, w.col, w.path, w.msg)
			}
			if !strings.HasPrefix(err.Error(), e.Error()) {
				t.Errorf("Error() = %q does not start with the first error %q", err, e)
			}
		})
	}
}

// TestErrorsSorted checks that every problem is reported, in file order,
// one per line.
func TestErrorsSorted(t *testing.T) {
	src := `{"Dhcp4": {
    "valid-lifetime": "long",
    "renew-timr": 5,
    "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "pools": [ { "pool": "10.0.1.1-10.0.1.9" } ] } ],
    "authoritative": 1
}}`
	_, err := Parse("x.conf", []byte(src))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %T %v, want Errors", err, err)
	}
	var got []string
	for _, e := range es {
		got = append(got, strconv.Itoa(e.Line)+" "+e.Path)
	}
	want := []string{"2 Dhcp4/valid-lifetime", "3 Dhcp4/renew-timr", "5 Dhcp4/authoritative"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors at %q, want %q", got, want)
	}
	if n := strings.Count(err.Error(), "\n"); n != len(es)-1 {
		t.Errorf("Error() has %d newlines for %d errors", n, len(es))
	}
}

// get walks a path like "expired-leases-processing/max-reclaim-time" in
// an Effective map.
func get(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, "/") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// TestEffectiveDefaults checks Kea's defaults in Effective for a minimal
// config, and that set values win over them.
func TestEffectiveDefaults(t *testing.T) {
	min := `{"Dhcp4": {"interfaces-config": {"interfaces": ["eth0"]},
	  "subnet4": [ {"subnet": "10.0.0.0/24"}, {"subnet": "10.0.1.0/24", "id": 7} ]}}`
	set := `{"Dhcp4": {"interfaces-config": {"interfaces": ["eth0"], "dhcp-socket-type": "udp"},
	  "valid-lifetime": 600, "expired-leases-processing": {"hold-reclaimed-time": 0},
	  "lease-database": {"type": "memfile", "lfc-interval": 0, "name": "/tmp/l.csv"},
	  "multi-threading": {"enable-multi-threading": true, "thread-pool-size": 4}, "parked-packet-limit": 0}}`
	for _, tt := range []struct {
		src, path string
		want      any
	}{
		{min, "valid-lifetime", 7200},
		{min, "decline-probation-period", 86400},
		{min, "match-client-id", true},
		{min, "echo-client-id", true},
		{min, "authoritative", false},
		{min, "next-server", "0.0.0.0"},
		{min, "calculate-tee-times", false},
		{min, "t1-percent", 0.5},
		{min, "t2-percent", 0.875},
		{min, "reservations-in-subnet", true},
		{min, "reservations-out-of-pool", false},
		{min, "expired-leases-processing/reclaim-timer-wait-time", 10},
		{min, "expired-leases-processing/flush-reclaimed-timer-wait-time", 25},
		{min, "expired-leases-processing/hold-reclaimed-time", 3600},
		{min, "expired-leases-processing/max-reclaim-leases", 100},
		{min, "expired-leases-processing/max-reclaim-time", 250},
		{min, "expired-leases-processing/unwarned-reclaim-cycles", 5},
		{min, "lease-database/type", "memfile"},
		// Kea 2.2's config-get prints only the lease-database and
		// interfaces-config keys that were configured, plus these.
		{min, "lease-database/lfc-interval", nil},
		{min, "lease-database/persist", nil},
		{min, "multi-threading/enable-multi-threading", false},
		{min, "multi-threading/packet-queue-size", 64},
		{min, "interfaces-config/dhcp-socket-type", nil},
		{min, "interfaces-config/re-detect", true},
		{min, "interfaces-config/outbound-interface", nil},
		{min, "subnet4/0/id", 1},
		{min, "subnet4/1/id", 7},
		{min, "parked-packet-limit", 256},
		{set, "parked-packet-limit", 0},
		{set, "valid-lifetime", 600},
		{set, "interfaces-config/dhcp-socket-type", "udp"},
		{set, "expired-leases-processing/hold-reclaimed-time", 0},
		{set, "expired-leases-processing/max-reclaim-leases", 100},
		{set, "lease-database/lfc-interval", 0},
		{set, "lease-database/name", "/tmp/l.csv"},
		{set, "multi-threading/enable-multi-threading", true},
		{set, "multi-threading/thread-pool-size", 4},
		{set, "multi-threading/packet-queue-size", 64},
	} {
		c, err := Parse("t.conf", []byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		if tt.path == "parked-packet-limit" && numeric(c.Dhcp4.ParkedPacketLimit) != numeric(tt.want) {
			t.Errorf("Dhcp4.ParkedPacketLimit = %d, want %v", c.Dhcp4.ParkedPacketLimit, tt.want)
		}
		got := get(c.Effective(), "Dhcp4/"+tt.path)
		if numeric(got) != numeric(tt.want) {
			t.Errorf("%s = %v (%T), want %v", tt.path, got, got, tt.want)
		}
	}
}

// numeric makes 7200, uint32(7200) and 7200.0 compare equal.
func numeric(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return v
		}
		return f
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		return x
	}
	return v
}

// TestSubnetIDs checks Kea 2.2's numbering of subnets without "id".
func TestSubnetIDs(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      map[string]uint32
	}{
		{"file order", `{"Dhcp4": {"subnet4": [{"subnet": "10.0.0.0/24"}, {"subnet": "10.0.1.0/24"}]}}`,
			map[string]uint32{"10.0.0.0/24": 1, "10.0.1.0/24": 2}},
		{"explicit ids are not skipped", `{"Dhcp4": {"subnet4": [{"subnet": "10.0.0.0/24"}, {"subnet": "10.0.1.0/24", "id": 9}, {"subnet": "10.0.2.0/24"}]}}`,
			map[string]uint32{"10.0.0.0/24": 1, "10.0.1.0/24": 9, "10.0.2.0/24": 2}},
		{"shared networks first", `{"Dhcp4": {"subnet4": [{"subnet": "10.0.0.0/24"}],
		  "shared-networks": [{"name": "n", "subnet4": [{"subnet": "10.0.1.0/24"}]}]}}`,
			map[string]uint32{"10.0.1.0/24": 1, "10.0.0.0/24": 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.conf", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]uint32{}
			for _, s := range c.Dhcp4.Subnets {
				got[s.Prefix.String()] = s.ID
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
		})
	}
}

// TestComments checks Kea's three comment styles, and that comment
// markers inside strings are text.
func TestComments(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      uint32
	}{
		{"hash", "# top\n{\"Dhcp4\": { # here\n \"valid-lifetime\": 60 # end\n}}", 60},
		{"slashes", "// top\n{\"Dhcp4\": { // here\n \"valid-lifetime\": 61 // end\n}}", 61},
		{"block", "/* top\n */{\"Dhcp4\": {/* a */\"valid-lifetime\"/* b */: /* c */62/* d */}}", 62},
		{"block with stars", "{\"Dhcp4\": {/** x * y **/\"valid-lifetime\": 63}}", 63},
		{"markers in strings", "{\"Dhcp4\": {\"server-tag\": \"a // b # c /* d */\", \"valid-lifetime\": 64}}", 64},
		{"comment at end of file", "{\"Dhcp4\": {\"valid-lifetime\": 65}}\n// done", 65},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.conf", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := *c.Dhcp4.ValidLifetime; got != tt.want {
				t.Errorf("valid-lifetime = %d, want %d", got, tt.want)
			}
			if tt.name == "markers in strings" && c.Dhcp4.ServerTag != "a // b # c /* d */" {
				t.Errorf("server-tag = %q", c.Dhcp4.ServerTag)
			}
		})
	}
}

// TestIncludes checks that include paths are relative to the including
// file, that nested includes work and that errors point into the
// included file.
func TestIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.conf", `{"Dhcp4": {
    "interfaces-config": { "interfaces": [ "eth0" ] },
    "subnet4": [ <?include "parts/subnets.json"?> ]
}}`)
	write("parts/subnets.json", "// the subnets\n{ \"id\": 1, \"subnet\": \"10.0.0.0/24\",\n  \"pools\": [ <?include \"pool.json\"?> ] }")
	write("parts/pool.json", `{ "pool": "10.0.0.10-10.0.0.20" }`)
	write("bad.conf", "{\"Dhcp4\": {\n \"subnet4\": [ <?include \"parts/bad.json\"?> ] }}")
	write("parts/bad.json", "{ \"id\": 1,\n  \"subnet\": \"10.0.0.0/24\",\n  \"pools\": [ { \"pool\": \"10.9.0.1-10.9.0.2\" } ] }")

	c, err := Load(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Dhcp4.Subnets; len(s) != 1 || len(s[0].Pools) != 1 || s[0].Pools[0].First != netip.MustParseAddr("10.0.0.10") {
		t.Fatalf("subnets = %+v", s)
	}
	// Parse resolves includes against the named file's directory too.
	data, err := os.ReadFile(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(filepath.Join(dir, "main.conf"), data); err != nil {
		t.Errorf("Parse: %v", err)
	}

	_, err = Load(filepath.Join(dir, "bad.conf"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want *Error", err)
	}
	if e.File != filepath.Join(dir, "parts/bad.json") || e.Line != 3 || e.Col != 24 || e.Path != "Dhcp4/subnet4[0]/pools[0]/pool" {
		t.Errorf("error at %s:%d:%d %s, want parts/bad.json:3:24", e.File, e.Line, e.Col, e.Path)
	}
}

// TestWarnings checks what is accepted but said.
func TestWarnings(t *testing.T) {
	sub := func(extra string) string {
		return `{"Dhcp4": {` + extra + `}}`
	}
	for _, tt := range []struct {
		name, src    string
		line, col    int
		path, prefix string
	}{
		{"renew above rebind", sub("\n\"renew-timer\": 100, \"rebind-timer\": 50"), 2, 16, "Dhcp4/renew-timer", "in Dhcp4, the value of renew-timer 100"},
		{"reservation-mode", sub("\n\"reservation-mode\": \"all\""), 2, 21, "Dhcp4/reservation-mode", "reservation-mode is Kea 2.2's form"},
		{"http socket without TLS or auth", sub("\n\"control-socket\": {\"socket-type\": \"http\"}"), 2, 19, "Dhcp4/control-socket", "HTTP control socket on 127.0.0.1:8000 has neither"},
		{"host bits in subnet", sub("\n\"subnet4\": [{\"subnet\": \"10.0.0.1/24\"}]"), 2, 24, "Dhcp4/subnet4[0]/subnet", `"10.0.0.1/24" has host bits set`},
		{"overlapping subnets", sub("\n\"subnet4\": [{\"subnet\": \"10.0.0.0/16\"},\n{\"subnet\": \"10.0.1.0/24\"}]"), 3, 1, "Dhcp4/subnet4[1]/subnet", "subnet 10.0.1.0/24 overlaps subnet 10.0.0.0/16"},
		{"other daemons' sections", "{\"Dhcp4\": {},\n\"Dhcp6\": {}}", 2, 10, "/Dhcp6", "accepted and ignored, as Kea does"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("w.conf", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.Warnings {
				if w.File == "w.conf" && w.Line == tt.line && w.Col == tt.col && w.Path == tt.path && strings.HasPrefix(w.Msg, tt.prefix) {
					return
				}
			}
			t.Errorf("no warning %d:%d %s %q...; got %v", tt.line, tt.col, tt.path, tt.prefix, c.Warnings)
		})
	}
}

// TestNumbers checks number forms: Kea's lexer takes a leading dot.
func TestNumbers(t *testing.T) {
	for _, tt := range []struct {
		text string
		want float64
		ok   bool
	}{
		{".5", 0.5, true},
		{"0.25", 0.25, true},
		{"1.", 0, false},
		{"01", 0, false},
		{"1e", 0, false},
		{"--1", 0, false},
	} {
		src := `{"Dhcp4": {"calculate-tee-times": true, "t2-percent": 0.9, "t1-percent": ` + tt.text + `}}`
		c, err := Parse("n.conf", []byte(src))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.text, err, tt.ok)
			continue
		}
		if err == nil && *c.Dhcp4.T1Percent != tt.want {
			t.Errorf("%s: t1-percent = %v, want %v", tt.text, *c.Dhcp4.T1Percent, tt.want)
		}
	}
}

// TestControlSockets checks both spellings and the defaults of HTTP
// sockets.
func TestControlSockets(t *testing.T) {
	src := `{"Dhcp4": {"control-sockets": [
	  {"socket-type": "unix", "socket-name": "/run/kea/kea4.sock"},
	  {"socket-type": "http", "http-headers": [{"name": "X-Frame-Options", "value": "DENY"}],
	   "authentication": {"type": "basic", "directory": "/etc/kea/creds",
	     "clients": [{"user": "admin", "password": "1234"}, {"user-file": "u", "password-file": "p"}, {"password-file": "both"}]}}
	]}}`
	c, err := Parse("cs.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cs := c.Dhcp4.ControlSockets
	if len(cs) != 2 || cs[0].Type != "unix" || cs[0].Name != "/run/kea/kea4.sock" {
		t.Fatalf("sockets = %+v", cs)
	}
	h := cs[1]
	if h.Address != "127.0.0.1" || h.Port != 8000 || !h.CertRequired || h.Headers["X-Frame-Options"] != "DENY" {
		t.Errorf("http socket = %+v", h)
	}
	if h.Auth == nil || h.Auth.Realm != "kea-dhcpv4-server" || len(h.Auth.Clients) != 3 || h.Auth.Clients[2].PasswordFile != "both" {
		t.Errorf("authentication = %+v", h.Auth)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %v; a socket with authentication is not open", c.Warnings)
	}
}

// TestEffectiveMatchesKea compares Effective with what kea-dhcp4 2.2.0
// answered to config-get for the same file: every value Kea prints must
// be there and equal. Effective may print more (defaults Kea leaves out).
func TestEffectiveMatchesKea(t *testing.T) {
	c, err := Load("testdata/effective/kea22.conf")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/effective/kea22-config-get.json")
	if err != nil {
		t.Fatal(err)
	}
	var kea any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&kea); err != nil {
		t.Fatal(err)
	}
	// Round-trip ours through encoding/json, as a control client sees it.
	b, err := json.Marshal(c.Effective())
	if err != nil {
		t.Fatal(err)
	}
	var ours any
	dec = json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&ours); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, k, o any)
	walk = func(path string, k, o any) {
		switch kv := k.(type) {
		case map[string]any:
			om, ok := o.(map[string]any)
			if !ok {
				t.Errorf("%s: Kea has a map, we have %v", path, o)
				return
			}
			for key, v := range kv {
				if _, ok := om[key]; !ok {
					t.Errorf("%s/%s: missing; Kea prints %v", path, key, v)
					continue
				}
				walk(path+"/"+key, v, om[key])
			}
		case []any:
			ol, ok := o.([]any)
			if !ok || len(ol) != len(kv) {
				t.Errorf("%s: Kea has %v, we have %v", path, k, o)
				return
			}
			for i := range kv {
				walk(path+"["+strconv.Itoa(i)+"]", kv[i], ol[i])
			}
		default:
			if numeric(k) != numeric(o) {
				t.Errorf("%s = %v, Kea says %v", path, o, k)
			}
		}
	}
	walk("", kea, ours)
}

// TestDeepNesting checks that absurd nesting is an error, not a crash.
func TestDeepNesting(t *testing.T) {
	src := `{"Dhcp4": {"user-context": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}`
	_, err := Parse("deep.conf", []byte(src))
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "nested more than") {
		t.Fatalf("got %v, want a nesting error", err)
	}
}

// TestUnknownKeys checks the three outcomes for a key twinleaf does not
// read: not yet (Kea takes it there), unknown with a suggestion, or
// unknown because Kea takes it only elsewhere.
func TestUnknownKeys(t *testing.T) {
	for _, tt := range []struct {
		name, src, path, msg string
	}{
		{"not yet", `{"Dhcp4": {"dhcp-queue-control": {}}}`, "Dhcp4/dhcp-queue-control", "supported by Kea, not yet by twinleaf: dhcp-queue-control"},
		{"not yet in a subnet", `{"Dhcp4": {"subnet4": [{"subnet": "10.0.0.0/24", "4o6-subnet": "2001:db8::/64"}]}}`, "Dhcp4/subnet4[0]/4o6-subnet", "supported by Kea, not yet"},
		{"typo", `{"Dhcp4": {"decline-probaton-period": 5}}`, "Dhcp4/decline-probaton-period", `unknown key "decline-probaton-period"; did you mean "decline-probation-period"?`},
		{"valid elsewhere only", `{"Dhcp4": {"subnet4": [{"subnet": "10.0.0.0/24", "pool": "10.0.0.5-10.0.0.9"}]}}`, "Dhcp4/subnet4[0]/pool", `unknown key "pool"; did you mean "pools"?`},
		{"reservation key in a pool", `{"Dhcp4": {"subnet4": [{"subnet": "10.0.0.0/24", "pools": [{"pool": "10.0.0.5-10.0.0.9", "hw-address": "aa:bb:cc:dd:ee:ff"}]}]}}`, "Dhcp4/subnet4[0]/pools[0]/hw-address", `unknown key "hw-address"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("u.conf", []byte(tt.src))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Path != tt.path || !strings.HasPrefix(e.Msg, tt.msg) {
				t.Errorf("got %s: %s\nwant %s: %s...", e.Path, e.Msg, tt.path, tt.msg)
			}
		})
	}
}

// TestDurations checks the unit each helper applies.
func TestDurations(t *testing.T) {
	c, err := Load("../../configs/home-server1.conf")
	if err != nil {
		t.Fatal(err)
	}
	e, h := c.Dhcp4.ExpiredLeasesProcessing, &c.Dhcp4.HA[0]
	for _, tt := range []struct {
		name      string
		got, want time.Duration
	}{
		{"reclaim", e.ReclaimEvery(), time.Hour},
		{"flush", e.FlushEvery(), 25 * time.Second},
		{"hold", e.HoldReclaimed(), 48 * time.Hour},
		{"reclaim limit", e.ReclaimTimeLimit(), 0},
		{"lfc", c.Dhcp4.LeaseDatabase.LFCEvery(), time.Hour},
		{"heartbeat", h.Heartbeat(), 10 * time.Second},
		{"response", h.ResponseTimeout(), time.Minute},
		{"ack", h.AckDelay(), 5 * time.Second},
		{"sync", h.SyncTimeoutDuration(), time.Minute},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestMaxRejectedPos: max-rejected-lease-updates is read with Kea's
// default, and its position is kept only when the file writes it, so the
// daemon warns about it (twinleaf never terminates for rejected updates)
// only when the operator set it.
func TestMaxRejectedPos(t *testing.T) {
	b, err := os.ReadFile("../../configs/home-server1.conf")
	if err != nil {
		t.Fatal(err)
	}
	const key = `"max-unacked-clients": 5,`
	for _, tt := range []struct {
		name  string
		data  string
		value uint32
		line  int // 0: no position
	}{
		{"absent", string(b), 10, 0},
		{"written", strings.Replace(string(b), key, key+` "max-rejected-lease-updates": 3,`, 1), 3,
			strings.Count(string(b[:strings.Index(string(b), key)]), "\n") + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("home.conf", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			h := c.Dhcp4.HA[0]
			if h.MaxRejectedLeaseUpdates != tt.value || h.MaxRejectedPos.Line != tt.line || (tt.line != 0) != (h.MaxRejectedPos.File == "home.conf") {
				t.Errorf("max-rejected-lease-updates %d at %+v, want %d at line %d", h.MaxRejectedLeaseUpdates, h.MaxRejectedPos, tt.value, tt.line)
			}
		})
	}
}

// A load-balancing pair's pools must be split by scope class, as Kea's
// documentation asks; a pool open to both servers draws a warning at its
// position, and hot-standby needs no split.
func TestSharedPools(t *testing.T) {
	conf := func(mode, subnet string) string {
		return `{"Dhcp4": {"hooks-libraries": [{"library": "libdhcp_lease_cmds.so"},
  {"library": "libdhcp_ha.so", "parameters": {"high-availability": [{"this-server-name": "server1", "mode": "` + mode + `",
    "peers": [{"name": "server1", "url": "http://127.0.0.1:8001/", "role": "primary"},
      {"name": "server2", "url": "http://127.0.0.2:8001/", "role": "` + map[string]string{"load-balancing": "secondary", "hot-standby": "standby"}[mode] + `"},
      {"name": "server3", "url": "http://127.0.0.3:8001/", "role": "backup"}]}]}}],
"subnet4": [{"id": 1, "subnet": "192.0.2.0/24", ` + subnet + `}]}}`
	}
	pools := func(classes ...string) string {
		var s []string
		for i, c := range classes {
			p := fmt.Sprintf(`{"pool": "192.0.2.%d-192.0.2.%d"`, 10*i+10, 10*i+19)
			if c != "" {
				p += `, "client-class": "` + c + `"`
			}
			s = append(s, p+"}")
		}
		return `"pools": [` + strings.Join(s, ",\n") + `]`
	}
	tests := []struct {
		name, mode, subnet string
		want               []string // warned pools' paths
	}{
		{"split", "load-balancing", pools("HA_server1", "HA_server2"), nil},
		{"unsplit", "load-balancing", pools("", "HA_server2"), []string{"Dhcp4/subnet4[0]/pools[0]"}},
		{"a backup's class splits nothing", "load-balancing", pools("HA_server3"), []string{"Dhcp4/subnet4[0]/pools[0]"}},
		{"another class", "load-balancing", pools("HA_server1", "KNOWN"), []string{"Dhcp4/subnet4[0]/pools[1]"}},
		{"both scopes in one pool (3.x list)", "load-balancing", `"pools": [{"pool": "192.0.2.10-192.0.2.19", "client-classes": ["HA_server1", "HA_server2"]}]`, []string{"Dhcp4/subnet4[0]/pools[0]"}},
		{"split by subnet (2.2 form)", "load-balancing", `"client-class": "HA_server2", ` + pools(""), nil},
		{"split by subnet (3.x form)", "load-balancing", `"client-classes": ["HA_server1"], ` + pools(""), nil},
		{"hot-standby needs no split", "hot-standby", pools(""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("lb.conf", []byte(conf(tt.mode, tt.subnet)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range c.Warnings {
				if !strings.Contains(w.Msg, "open to both servers") {
					continue
				}
				got = append(got, w.Path)
				if w.File != "lb.conf" || w.Line < 6 || !strings.Contains(w.Msg, `"client-class" "HA_server1" or "HA_server2"`) {
					t.Errorf("warning %s", w)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warned pools %v, want %v", got, tt.want)
			}
		})
	}
}
