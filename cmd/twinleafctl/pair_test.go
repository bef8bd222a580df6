package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// pairDir runs pair init with the command's defaults into a fresh
// directory.
func pairDir(t *testing.T, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pair")
	var stdout, stderr bytes.Buffer
	args := append([]string{"pair", "init", "--out", out, "--iface", "eth1"}, extra...)
	if rc := run(args, &stdout, &stderr); rc != 0 {
		t.Fatalf("twinleafctl %v: exit %d: %s", args, rc, stderr.String())
	}
	return out
}

func TestPairInitConfigs(t *testing.T) {
	out := pairDir(t, "--subnet", "10.7.0.0/16", "--pool", "10.7.1.10-10.7.1.250",
		"--router", "10.7.0.1", "--dns", "10.7.0.53", "--boards", "10.7.0.2,10.7.0.3")
	for n, addr := range []string{"10.7.0.2", "10.7.0.3"} {
		n++
		path := filepath.Join(out, "server"+string(rune('0'+n)), "kea-dhcp4.conf")
		c, err := config.Load(path)
		if err != nil {
			t.Fatalf("server%d: %v", n, err)
		}
		d := c.Dhcp4
		if got := d.InterfacesConfig.Interfaces; len(got) != 1 || got[0] != "eth1" {
			t.Errorf("server%d: interfaces %v, want [eth1]", n, got)
		}
		if len(d.ControlSockets) != 1 {
			t.Fatalf("server%d: %d control sockets, want 1", n, len(d.ControlSockets))
		}
		cs := d.ControlSockets[0]
		wantAPI := "/etc/kea/tls/ca" + string(rune('0'+n)) + "_cert.pem"
		if cs.Type != "https" || cs.Address != addr || cs.Port != 8001 || !cs.CertRequired ||
			cs.TrustAnchor != "/etc/kea/tls/CA.pem" || cs.CertFile != wantAPI {
			t.Errorf("server%d: control socket %+v", n, cs)
		}
		if !d.MultiThreading.Enable || d.MultiThreading.ThreadPoolSize != 4 {
			t.Errorf("server%d: multi-threading %+v, want 4 workers", n, d.MultiThreading)
		}
		if len(d.HA) != 1 {
			t.Fatalf("server%d: %d HA relationships", n, len(d.HA))
		}
		h := d.HA[0]
		if h.ThisServerName != "server"+string(rune('0'+n)) || h.Mode != "hot-standby" ||
			!h.MultiThreading.DedicatedListener || len(h.Peers) != 2 {
			t.Errorf("server%d: HA %+v", n, h)
		}
		for i, p := range h.Peers {
			want := []string{"10.7.0.2:8005", "10.7.0.3:8005"}[i]
			if p.Addr.String() != want {
				t.Errorf("server%d: peer %s at %s, want %s", n, p.Name, p.Addr, want)
			}
			// Each board presents its own certificate to both peers.
			_, cert, _ := h.TLS(&h.Peers[i])
			if cert != "/etc/kea/tls/server"+string(rune('0'+n))+"_cert.pem" {
				t.Errorf("server%d: peer %s cert-file %s", n, p.Name, cert)
			}
		}
		if len(d.Subnets) != 1 || d.Subnets[0].Prefix.String() != "10.7.0.0/16" || len(d.Subnets[0].Pools) != 1 {
			t.Fatalf("server%d: subnets %+v", n, d.Subnets)
		}
		b, _ := os.ReadFile(path)
		for _, w := range []string{`"data": "10.7.0.1"`, `"data": "10.7.0.53"`, `"pool": "10.7.1.10-10.7.1.250"`} {
			if !bytes.Contains(b, []byte(w)) {
				t.Errorf("server%d: config lacks %s", n, w)
			}
		}
	}
}

func TestPairInitNoOptions(t *testing.T) {
	out := pairDir(t, "--router", "", "--dns", "")
	c, err := config.Load(filepath.Join(out, "server1", "kea-dhcp4.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Dhcp4.Subnets[0].OptionData); n != 0 {
		t.Errorf("%d options, want none", n)
	}
}

func TestPairInitFiles(t *testing.T) {
	out := pairDir(t)
	want := map[string][]string{
		"server1":  {"kea-dhcp4.conf", "tls/CA.pem", "tls/ca1_cert.pem", "tls/ca1_key.pem", "tls/server1_cert.pem", "tls/server1_key.pem"},
		"server2":  {"kea-dhcp4.conf", "tls/CA.pem", "tls/ca2_cert.pem", "tls/ca2_key.pem", "tls/server2_cert.pem", "tls/server2_key.pem"},
		"operator": {"CA.pem", "client_cert.pem", "client_key.pem"},
		"pki": {"CA.pem", "CA_key.pem", "ca1_cert.pem", "ca1_key.pem", "ca2_cert.pem", "ca2_key.pem", "client_cert.pem",
			"client_key.pem", "server1_cert.pem", "server1_key.pem", "server2_cert.pem", "server2_key.pem"},
	}
	for dir, files := range want {
		var got []string
		filepath.WalkDir(filepath.Join(out, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(filepath.Join(out, dir), p)
			got = append(got, rel)
			st, _ := d.Info()
			wantMode := os.FileMode(0o644)
			if strings.HasSuffix(p, "_key.pem") {
				wantMode = 0o600
			}
			if st.Mode().Perm() != wantMode {
				t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), wantMode)
			}
			return nil
		})
		if strings.Join(got, " ") != strings.Join(files, " ") {
			t.Errorf("%s holds %v, want %v", dir, got, files)
		}
	}
	// A second run must not replace the CA the boards already trust.
	var stderr bytes.Buffer
	if rc := run([]string{"pair", "init", "--out", out}, &bytes.Buffer{}, &stderr); rc != 1 ||
		!strings.Contains(stderr.String(), "already holds CA.pem") {
		t.Errorf("second pair init: exit %d, %s", rc, stderr.String())
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func TestPKIChains(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"pki", "init", "--dir", dir, "--boards", "192.0.2.2,192.0.2.3"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"cert-file": "/etc/kea/tls/ca1_cert.pem"`) {
		t.Errorf("no config snippet printed:\n%s", stdout.String())
	}
	roots := x509.NewCertPool()
	ca := readCert(t, filepath.Join(dir, "CA.pem"))
	if !ca.IsCA {
		t.Fatal("CA.pem is not a CA")
	}
	roots.AddCert(ca)
	tests := []struct {
		file  string
		usage x509.ExtKeyUsage
		ip    string
	}{
		{"server1_cert.pem", x509.ExtKeyUsageServerAuth, "192.0.2.2"},
		{"server1_cert.pem", x509.ExtKeyUsageClientAuth, "192.0.2.2"},
		{"server2_cert.pem", x509.ExtKeyUsageServerAuth, "192.0.2.3"},
		{"server2_cert.pem", x509.ExtKeyUsageClientAuth, "192.0.2.3"},
		{"ca1_cert.pem", x509.ExtKeyUsageServerAuth, "192.0.2.2"},
		{"ca2_cert.pem", x509.ExtKeyUsageServerAuth, "192.0.2.3"},
		{"client_cert.pem", x509.ExtKeyUsageClientAuth, ""},
	}
	for _, tt := range tests {
		c := readCert(t, filepath.Join(dir, tt.file))
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tt.usage}}); err != nil {
			t.Errorf("%s for %v: %v", tt.file, tt.usage, err)
		}
		if tt.ip != "" {
			if len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP(tt.ip)) {
				t.Errorf("%s: IP SANs %v, want %s", tt.file, c.IPAddresses, tt.ip)
			}
			if err := c.VerifyHostname(tt.ip); err != nil {
				t.Errorf("%s: %v", tt.file, err)
			}
		}
	}
}

// handshake runs a TLS handshake between a server and a client built by
// pkg/ctrl from the given files, as the HA listener and its partner do.
func handshake(t *testing.T, srv, cli ctrl.TLSFiles) error {
	t.Helper()
	sc, err := srv.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cli.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		a, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		s := tls.Server(a, sc)
		err = s.Handshake()
		if err == nil {
			// TLS 1.3 clients learn of a refused certificate only on read.
			_, err = s.Write([]byte{1})
		}
		s.Close()
		errc <- err
	}()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(b, cc)
	err = c.Handshake()
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	c.Close()
	if serr := <-errc; err == nil {
		err = serr
	}
	return err
}

func TestPairTLS(t *testing.T) {
	out := pairDir(t)
	other := pairDir(t)
	files := func(root, board string, n string) ctrl.TLSFiles {
		d := filepath.Join(root, board, "tls")
		return ctrl.TLSFiles{TrustAnchor: filepath.Join(d, "CA.pem"), CertFile: filepath.Join(d, "server"+n+"_cert.pem"),
			KeyFile: filepath.Join(d, "server"+n+"_key.pem"), CertRequired: true}
	}
	s1, s2 := files(out, "server1", "1"), files(out, "server2", "2")
	stranger := files(other, "server2", "2")
	op := ctrl.TLSFiles{TrustAnchor: filepath.Join(out, "operator", "CA.pem"),
		CertFile: filepath.Join(out, "operator", "client_cert.pem"), KeyFile: filepath.Join(out, "operator", "client_key.pem")}
	api1 := ctrl.TLSFiles{TrustAnchor: s1.TrustAnchor, CertFile: filepath.Join(out, "server1", "tls", "ca1_cert.pem"),
		KeyFile: filepath.Join(out, "server1", "tls", "ca1_key.pem"), CertRequired: true}
	tests := []struct {
		name     string
		srv, cli ctrl.TLSFiles
		ok       bool
	}{
		{"server2 calls server1", s1, s2, true},
		{"server1 calls server2", s2, s1, true},
		{"operator calls server1's API", api1, op, true},
		{"a board of another pair calls server1", s1, stranger, false},
		{"server1 calls a board of another pair", stranger, s1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := handshake(t, tt.srv, tt.cli)
			if tt.ok && err != nil {
				t.Errorf("handshake failed: %v", err)
			}
			if !tt.ok && err == nil {
				t.Error("handshake succeeded, want a refusal")
			}
		})
	}
}

func TestPairFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--subnet", "192.168.1.1/24"}, "--subnet"},
		{[]string{"--pool", "192.168.1.100"}, "--pool"},
		{[]string{"--pool", "192.168.1.200-192.168.1.100"}, "ends before it starts"},
		{[]string{"--pool", "192.168.2.100-192.168.2.199"}, "outside --subnet"},
		{[]string{"--boards", "192.168.1.2"}, "two boards"},
		{[]string{"--boards", "192.168.1.2,192.168.1.2"}, "given twice"},
		{[]string{"--boards", "192.168.1.2,192.168.1.150"}, "inside --pool"},
		{[]string{"--router", "10.0.0.1"}, "--router: 10.0.0.1 is outside"},
		{[]string{"--dns", "1.1.1.1,dns.example"}, "--dns"},
		{[]string{"--iface", `eth0"`}, "--iface"},
		{[]string{"--threads", "0"}, "--threads"},
		{[]string{"--tls-dir", "tls"}, "--tls-dir"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		args := append([]string{"pair", "init", "--out", filepath.Join(t.TempDir(), "x")}, tt.args...)
		rc := run(args, &bytes.Buffer{}, &stderr)
		if rc != 1 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, rc, stderr.String(), tt.want)
		}
	}
}

func TestPKIFlagErrors(t *testing.T) {
	tests := []struct {
		args   []string
		rc     int
		stderr string
	}{
		{[]string{"pki"}, 2, "Usage: twinleafctl pki init"},
		{[]string{"pki", "init"}, 2, "Usage: twinleafctl pki init"},
		{[]string{"pki", "init", "--dir", "x", "--boards", "192.0.2.2,192.0.2.3", "--config", "k.conf"}, 2, "not both"},
		{[]string{"pki", "init", "--dir", "x", "--boards", "192.0.2.2,fe80::1"}, 1, `"fe80::1" is not an IPv4 address`},
		{[]string{"pki", "init", "--dir", "x", "--config", "missing.conf"}, 1, "missing.conf"},
		{[]string{"pki", "init", "--dir", "x", "--config", "../../configs/lab/single.conf"}, 1, "has no high-availability entry"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		args := append([]string(nil), tt.args...)
		for i, a := range args {
			if a == "x" {
				args[i] = filepath.Join(t.TempDir(), "pki")
			}
		}
		rc := run(args, &bytes.Buffer{}, &stderr)
		if rc != tt.rc || !strings.Contains(stderr.String(), tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, rc, stderr.String(), tt.rc, tt.stderr)
		}
	}
}

func TestPKIBoardsFromConfig(t *testing.T) {
	out := pairDir(t, "--boards", "192.168.1.20,192.168.1.30")
	got, err := boardsFromConfig(filepath.Join(out, "server2", "kea-dhcp4.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("192.168.1.20"), netip.MustParseAddr("192.168.1.30")}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("boards %v, want %v", got, want)
	}
	if _, err := boardsFromConfig("../../configs/home-server1.conf"); err != nil {
		t.Errorf("home template: %v", err)
	}
}

// FuzzPairFlags: any flag text gives an error or a configuration the
// server takes, never a panic or a broken file.
func FuzzPairFlags(f *testing.F) {
	f.Add("eth0", "192.168.1.0/24", "192.168.1.100-192.168.1.199", "192.168.1.1", "1.1.1.1,9.9.9.9", "192.168.1.2,192.168.1.3")
	f.Add("e\"th", "10.0.0.0/8", "10.0.0.1-10.255.255.254", "", "", "10.0.0.0,10.255.255.255")
	f.Add("wlan0", "0.0.0.0/0", "1.1.1.1-1.1.1.1", "0.0.0.0", "255.255.255.255", "1.1.1.2,1.1.1.3")
	f.Fuzz(func(t *testing.T, iface, subnet, pool, router, dns, boards string) {
		s := pairSpec{Iface: iface, TLSDir: "/etc/kea/tls", Threads: 4}
		if err := parsePairFlags(&s, subnet, pool, router, dns, boards); err != nil {
			return
		}
		if err := s.check(); err != nil {
			return
		}
		for n := 1; n <= 2; n++ {
			if _, err := boardConfig(&s, n); err != nil && !strings.Contains(err.Error(), "does not check") {
				t.Fatalf("server%d: %v", n, err)
			}
		}
	})
}
