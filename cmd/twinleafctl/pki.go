package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twinleaf/twinleaf/pkg/config"
)

// The file names the secure template (configs/secure-mt-server*.conf)
// uses: CA.pem signs everything; serverN is board N's HA certificate
// (listener and client toward the partner), caN its control socket's
// certificate; client is the operator's.
const (
	caFile       = "CA.pem"
	caKeyFile    = "CA_key.pem"
	clientCert   = "client_cert.pem"
	clientKey    = "client_key.pem"
	caLifetime   = 20 * 365 * 24 * time.Hour
	leafLifetime = 10 * 365 * 24 * time.Hour
)

// haCert and haKey name board n's (1-based) HA certificate and key.
func haCert(n int) string { return fmt.Sprintf("server%d_cert.pem", n) }
func haKey(n int) string  { return fmt.Sprintf("server%d_key.pem", n) }

// apiCert and apiKey name board n's control-socket certificate and key.
func apiCert(n int) string { return fmt.Sprintf("ca%d_cert.pem", n) }
func apiKey(n int) string  { return fmt.Sprintf("ca%d_key.pem", n) }

// boardFiles are the files board n needs: the CA and its own two
// certificates with their keys. The partner's keys never leave the
// machine that made them.
func boardFiles(n int) []string {
	return []string{caFile, haCert(n), haKey(n), apiCert(n), apiKey(n)}
}

// issuer is a CA that can sign certificates.
type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	now  time.Time
}

// newCA makes a self-signed ECDSA P-256 CA.
func newCA(now time.Time) (*issuer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "twinleaf pair CA", Organization: []string{"twinleaf"}},
		NotBefore:             now.Add(-time.Hour), // tolerate a board whose clock lags a little
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return &issuer{cert: cert, key: key, now: now}, der, nil
}

// sign issues a leaf certificate for name with the given uses and IP SANs.
func (ca *issuer) sign(name string, usage []x509.ExtKeyUsage, ips ...netip.Addr) (der []byte, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"twinleaf"}},
		NotBefore:    ca.now.Add(-time.Hour),
		NotAfter:     ca.now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	return der, key, err
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// makePKI writes a pair's certificates into dir, which must not hold a
// CA already: overwriting one would orphan every certificate it signed.
// boards are the boards' addresses, board 1 first.
func makePKI(dir string, boards []netip.Addr, now time.Time) error {
	if _, err := os.Stat(filepath.Join(dir, caFile)); err == nil {
		return fmt.Errorf("pki: %s already holds %s; remove it or choose another --dir", dir, caFile)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	ca, caDER, err := newCA(now)
	if err != nil {
		return fmt.Errorf("pki: making the CA: %w", err)
	}
	if err := writeCert(dir, caFile, caDER); err != nil {
		return err
	}
	if err := writeKey(dir, caKeyFile, ca.key); err != nil {
		return err
	}
	issue := func(certName, keyName, cn string, usage []x509.ExtKeyUsage, ips ...netip.Addr) error {
		der, key, err := ca.sign(cn, usage, ips...)
		if err != nil {
			return fmt.Errorf("pki: signing %s: %w", certName, err)
		}
		if err := writeCert(dir, certName, der); err != nil {
			return err
		}
		return writeKey(dir, keyName, key)
	}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	for i, b := range boards {
		n := i + 1
		// The HA certificate serves the listener and is also what this
		// board presents when it calls its partner.
		if err := issue(haCert(n), haKey(n), fmt.Sprintf("twinleaf server%d", n), both, b); err != nil {
			return err
		}
		if err := issue(apiCert(n), apiKey(n), fmt.Sprintf("twinleaf server%d control socket", n), server, b); err != nil {
			return err
		}
	}
	return issue(clientCert, clientKey, "twinleaf operator", client)
}

func writeCert(dir, name string, der []byte) error {
	return writePEM(filepath.Join(dir, name), &pem.Block{Type: "CERTIFICATE", Bytes: der}, 0o644)
}

func writeKey(dir, name string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: encoding %s: %w", name, err)
	}
	return writePEM(filepath.Join(dir, name), &pem.Block{Type: "PRIVATE KEY", Bytes: der}, 0o600)
}

// writePEM creates path with mode (never widening an existing file's).
func writePEM(path string, b *pem.Block, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := pem.Encode(f, b); err != nil {
		f.Close()
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	return nil
}

// parseBoards reads a comma-separated list of the boards' IPv4 addresses.
func parseBoards(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range strings.Split(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("--boards: %q is not an IPv4 address (want e.g. 192.168.1.2,192.168.1.3)", f)
		}
		for _, b := range out {
			if b == a {
				return nil, fmt.Errorf("--boards: %s is given twice; each board needs its own address", a)
			}
		}
		out = append(out, a)
	}
	if len(out) != 2 {
		return nil, fmt.Errorf("--boards: a pair has two boards, got %d address(es) in %q", len(out), s)
	}
	return out, nil
}

// boardsFromConfig takes the boards' addresses from the HA peers' URLs in
// a configuration file, in peer order, for a board that has its config
// but no certificates yet (the first-boot script).
func boardsFromConfig(path string) ([]netip.Addr, error) {
	c, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if len(c.Dhcp4.HA) == 0 {
		return nil, fmt.Errorf("%s has no high-availability entry to take the boards' addresses from; give --boards", path)
	}
	var out []netip.Addr
	for _, p := range c.Dhcp4.HA[0].Peers {
		out = append(out, p.Addr.Addr())
	}
	return out, nil
}

const pkiUsage = `Usage: twinleafctl pki init --dir DIR [--boards 192.168.1.2,192.168.1.3 | --config FILE]

Makes an ECDSA P-256 CA and, per board N, serverN_cert.pem/key (the HA
listener, and the client toward the partner) and caN_cert.pem/key (the
HTTPS control socket), both with the board's address as IP SAN, plus
client_cert.pem/key for the operator. Keys are written 0600. CA_key.pem
stays with you: it is needed only to issue more certificates.

`

// pkiCommand runs "pki init".
func pkiCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pki init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, pkiUsage); fs.PrintDefaults() }
	dir := fs.String("dir", "", "directory to write the certificates into (created 0700)")
	boards := fs.String("boards", "192.168.1.2,192.168.1.3", "the two boards' addresses, board 1 first")
	conf := fs.String("config", "", "take the boards' addresses from this file's HA peers instead")
	if len(args) == 0 || args[0] != "init" {
		fs.Usage()
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *dir == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	both := 0
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "boards" || f.Name == "config" {
			both++
		}
	})
	if both == 2 {
		fmt.Fprintln(stderr, "twinleafctl: pki init: give --boards or --config, not both")
		return 2
	}
	var addrs []netip.Addr
	var err error
	if *conf != "" {
		addrs, err = boardsFromConfig(*conf)
	} else {
		addrs, err = parseBoards(*boards)
	}
	if err == nil {
		err = makePKI(*dir, addrs, time.Now())
	}
	if err != nil {
		fmt.Fprintln(stderr, "twinleafctl:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Wrote the pair's certificates to %s. In board N's config, with the files copied to /etc/kea/tls/:\n\n%s",
		*dir, snippet("/etc/kea/tls", 1))
	return 0
}

// snippet is the part of board n's config that names the certificates.
func snippet(tlsDir string, n int) string {
	p := func(f string) string { return filepath.Join(tlsDir, f) }
	return fmt.Sprintf(`    "control-socket": {
        "socket-type": "https", ...
        "trust-anchor": %q,
        "cert-file": %q,
        "key-file": %q,
        "cert-required": true
    },
    ... "peers": [ { "name": "server%d", ...  (and the same three in the other peer's entry)
        "trust-anchor": %q,
        "cert-file": %q,
        "key-file": %q } ]
`, p(caFile), p(apiCert(n)), p(apiKey(n)), n, p(caFile), p(haCert(n)), p(haKey(n)))
}
