package main

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/twinleaf/twinleaf/pkg/config"
)

// pairTemplate is configs/secure-mt-server1.conf with the network's
// values, the boards' addresses and the certificate paths filled in.
//
//go:embed pair.conf.tmpl
var pairTemplate string

var pairConf = template.Must(template.New("pair.conf").Parse(pairTemplate))

// pairSpec is what pair init is told about the network.
type pairSpec struct {
	Iface   string
	Subnet  netip.Prefix
	Pool    [2]netip.Addr
	Router  netip.Addr   // invalid: no routers option
	DNS     []netip.Addr // empty: no domain-name-servers option
	Boards  []netip.Addr // board 1 (the primary) first
	TLSDir  string       // where the boards keep their certificates
	Threads int
}

// boardView is the template's data for one board.
type boardView struct {
	N, Partner, Threads       int
	Role, Iface, TLSDir       string
	Addr                      netip.Addr
	Subnet, Pool, Router, DNS string
	CA, APICert, APIKey       string
	HACert, HAKey             string
	Peers                     []peerView
}

type peerView struct {
	Name, Role string
	Addr       netip.Addr
}

// boardConfig renders board n's (1-based) configuration and checks it
// with pkg/config, so a file pair init writes is one the server takes.
func boardConfig(s *pairSpec, n int) ([]byte, error) {
	p := func(f string) string { return filepath.Join(s.TLSDir, f) }
	v := boardView{N: n, Partner: 3 - n, Threads: s.Threads, Role: "the primary", Iface: s.Iface, TLSDir: s.TLSDir,
		Addr: s.Boards[n-1], Subnet: s.Subnet.String(), Pool: s.Pool[0].String() + "-" + s.Pool[1].String(),
		CA: p(caFile), APICert: p(apiCert(n)), APIKey: p(apiKey(n)), HACert: p(haCert(n)), HAKey: p(haKey(n)),
		Peers: []peerView{{"server1", "primary", s.Boards[0]}, {"server2", "standby", s.Boards[1]}}}
	if n == 2 {
		v.Role = "the standby"
	}
	if s.Router.IsValid() {
		v.Router = s.Router.String()
	}
	dns := make([]string, len(s.DNS))
	for i, a := range s.DNS {
		dns[i] = a.String()
	}
	v.DNS = strings.Join(dns, ",")
	var b bytes.Buffer
	if err := pairConf.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("pair: rendering server%d's config: %w", n, err)
	}
	if _, err := config.Parse(fmt.Sprintf("server%d/kea-dhcp4.conf", n), b.Bytes()); err != nil {
		return nil, fmt.Errorf("pair: the generated config for server%d does not check: %w", n, err)
	}
	return b.Bytes(), nil
}

// check refuses a spec whose addresses do not fit together, naming the
// flag to change.
func (s *pairSpec) check() error {
	if s.Iface == "" || len(s.Iface) > 15 || strings.ContainsAny(s.Iface, "\"\\/ \t:") {
		return fmt.Errorf("--iface: %q is not an interface name (e.g. eth0)", s.Iface)
	}
	if s.Threads < 1 || s.Threads > 64 {
		return fmt.Errorf("--threads: %d is out of range; give 1 to 64", s.Threads)
	}
	if !filepath.IsAbs(s.TLSDir) || strings.ContainsAny(s.TLSDir, "\"\\") {
		return fmt.Errorf("--tls-dir: %q must be an absolute path without quotes or backslashes", s.TLSDir)
	}
	in := func(flag string, a netip.Addr) error {
		if !s.Subnet.Contains(a) {
			return fmt.Errorf("%s: %s is outside --subnet %s", flag, a, s.Subnet)
		}
		return nil
	}
	if s.Pool[1].Less(s.Pool[0]) {
		return fmt.Errorf("--pool: %s-%s ends before it starts", s.Pool[0], s.Pool[1])
	}
	for _, a := range s.Pool {
		if err := in("--pool", a); err != nil {
			return err
		}
	}
	for _, b := range s.Boards {
		if err := in("--boards", b); err != nil {
			return err
		}
		if !b.Less(s.Pool[0]) && !s.Pool[1].Less(b) {
			return fmt.Errorf("--boards: %s is inside --pool %s-%s; the boards need fixed addresses outside it", b, s.Pool[0], s.Pool[1])
		}
	}
	if s.Router.IsValid() {
		return in("--router", s.Router)
	}
	return nil
}

// pairInit writes out/server1 and out/server2 (each a kea-dhcp4.conf and
// a tls/ directory with only that board's keys, ready to be copied to the
// board's boot partition as twinleaf/), out/operator (the CA and the
// operator's client certificate) and out/pki (everything, with the CA's
// key: keep it offline).
func pairInit(s *pairSpec, out string, now time.Time) error {
	if err := s.check(); err != nil {
		return err
	}
	confs := make([][]byte, 2)
	for i := range confs {
		c, err := boardConfig(s, i+1)
		if err != nil {
			return err
		}
		confs[i] = c
	}
	pki := filepath.Join(out, "pki")
	if err := makePKI(pki, s.Boards, now); err != nil {
		return err
	}
	for i, c := range confs {
		dir := filepath.Join(out, fmt.Sprintf("server%d", i+1))
		if err := copyFiles(pki, filepath.Join(dir, "tls"), boardFiles(i+1)); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "kea-dhcp4.conf"), c, 0o644); err != nil {
			return fmt.Errorf("pair: %w", err)
		}
	}
	return copyFiles(pki, filepath.Join(out, "operator"), []string{caFile, clientCert, clientKey})
}

// copyFiles copies names from src to dst (created 0700), keeping modes.
func copyFiles(src, dst string, names []string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("pair: %w", err)
	}
	for _, n := range names {
		from := filepath.Join(src, n)
		b, err := os.ReadFile(from)
		if err != nil {
			return fmt.Errorf("pair: %w", err)
		}
		st, err := os.Stat(from)
		if err != nil {
			return fmt.Errorf("pair: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dst, n), b, st.Mode().Perm()); err != nil {
			return fmt.Errorf("pair: %w", err)
		}
	}
	return nil
}

const pairUsage = `Usage: twinleafctl pair init --out DIR [flags]

Writes both boards' configurations (HTTPS control socket with client
certificates, hot-standby HA over a TLS listener on port 8005, %d worker
threads) and the pair's certificates:

  DIR/server1/  kea-dhcp4.conf, tls/   copy to board 1's boot partition as twinleaf/
  DIR/server2/  kea-dhcp4.conf, tls/   the same for board 2
  DIR/operator/ CA.pem, client_cert.pem, client_key.pem  for twinleafctl --ca/--cert/--key
  DIR/pki/      everything, with the CA's key: keep it offline

Flags:
`

// pairCommand runs "pair init".
func pairCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pair init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, pairUsage, 4); fs.PrintDefaults() }
	s := pairSpec{}
	out := fs.String("out", "", "directory to write into")
	fs.StringVar(&s.Iface, "iface", "eth0", "the interface DHCP is served on")
	subnet := fs.String("subnet", "192.168.1.0/24", "the network")
	pool := fs.String("pool", "192.168.1.100-192.168.1.199", "addresses handed out, FIRST-LAST")
	router := fs.String("router", "192.168.1.1", "the routers option (empty: none)")
	dns := fs.String("dns", "1.1.1.1,9.9.9.9", "the domain-name-servers option, comma-separated (empty: none)")
	boards := fs.String("boards", "192.168.1.2,192.168.1.3", "the two boards' fixed addresses, the primary first")
	fs.StringVar(&s.TLSDir, "tls-dir", "/etc/kea/tls", "where the boards keep their certificates")
	fs.IntVar(&s.Threads, "threads", 4, "packet worker threads")
	if len(args) == 0 || args[0] != "init" {
		fs.Usage()
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	err := parsePairFlags(&s, *subnet, *pool, *router, *dns, *boards)
	if err == nil {
		err = pairInit(&s, *out, time.Now())
	}
	if err != nil {
		fmt.Fprintln(stderr, "twinleafctl:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Wrote %s/server1 and %s/server2: copy each to its board's boot partition as twinleaf/\n"+
		"(or to /etc/kea/kea-dhcp4.conf and %s/). Keep %s/pki offline.\n", *out, *out, s.TLSDir, *out)
	return 0
}

// parsePairFlags turns pair init's text flags into s.
func parsePairFlags(s *pairSpec, subnet, pool, router, dns, boards string) error {
	p, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Addr().Is4() || p != p.Masked() {
		return fmt.Errorf("--subnet: %q is not an IPv4 network such as 192.168.1.0/24", subnet)
	}
	s.Subnet = p
	first, last, ok := strings.Cut(pool, "-")
	a, err1 := netip.ParseAddr(strings.TrimSpace(first))
	b, err2 := netip.ParseAddr(strings.TrimSpace(last))
	if !ok || err1 != nil || err2 != nil || !a.Is4() || !b.Is4() {
		return fmt.Errorf("--pool: %q is not FIRST-LAST, e.g. 192.168.1.100-192.168.1.199", pool)
	}
	s.Pool = [2]netip.Addr{a, b}
	if router != "" {
		if s.Router, err = netip.ParseAddr(router); err != nil || !s.Router.Is4() {
			return fmt.Errorf("--router: %q is not an IPv4 address", router)
		}
	}
	s.DNS = nil
	if dns != "" {
		for _, f := range strings.Split(dns, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(f))
			if err != nil || !a.Is4() {
				return fmt.Errorf("--dns: %q is not an IPv4 address", f)
			}
			s.DNS = append(s.DNS, a)
		}
	}
	s.Boards, err = parseBoards(boards)
	return err
}
