package ctrl

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// TLSFiles are Kea's trust-anchor, cert-file and key-file, with
// cert-required. TrustAnchor may be a PEM file or a directory of them.
type TLSFiles struct {
	TrustAnchor, CertFile, KeyFile string
	CertRequired                   bool
}

// ServerConfig builds the server side: our certificate, and with
// CertRequired a client certificate signed by the trust anchor is demanded
// at the handshake. Without CertRequired nothing is asked of the client,
// as Kea does. The files are read again at a handshake after one changed
// (tlsSource).
func (f *TLSFiles) ServerConfig() (*tls.Config, error) {
	src, err := newTLSSource(*f, true, f.CertRequired)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cert, pool := src.current()
		c := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
		if f.CertRequired {
			c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
		return c, nil
	}}, nil
}

// ClientConfig builds the client side, as Kea's HA client does: the
// server's chain is checked against the trust anchor but, like Kea, not
// its host name or address; our certificate is presented. The files are
// read again at a handshake after one changed (tlsSource).
func (f *TLSFiles) ClientConfig() (*tls.Config, error) {
	src, err := newTLSSource(*f, f.CertFile != "", true)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	if f.CertFile != "" {
		// Always presented, as Kea does, even when the server asks for
		// another CA: the server then names the mismatch.
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, _ := src.current()
			return cert, nil
		}
	}
	// Chain verification without the name check Go would otherwise do.
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return fmt.Errorf("ctrl: the server sent no certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return fmt.Errorf("ctrl: server certificate: %w", err)
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, pool := src.current()
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			return fmt.Errorf("ctrl: server certificate not signed by trust-anchor %s: %w", f.TrustAnchor, err)
		}
		return nil
	}
	return c, nil
}

// tlsSource is what the TLS files hold: our certificate and the trust
// anchor's pool, each when asked for. It reads the files again at a
// handshake once one of them changed on disk (size or modification time;
// every file of a trust-anchor directory counts), so that replacing a
// certificate, key or CA, the fix for a configuration fault, works from
// the next connection on, with no restart. Files that do not load together
// (a new certificate whose key is not written yet) leave the previous
// ones in use, and are tried again at the next handshake.
type tlsSource struct {
	files            TLSFiles
	withCert, withCA bool

	mu    sync.Mutex
	stamp string
	cert  *tls.Certificate
	pool  *x509.CertPool
}

// newTLSSource loads the files once; at start an error is the caller's.
func newTLSSource(f TLSFiles, withCert, withCA bool) (*tlsSource, error) {
	s := &tlsSource{files: f, withCert: withCert, withCA: withCA, stamp: f.stamp()}
	var err error
	if s.cert, s.pool, err = s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// current is the material to use now, read again if the files changed.
func (s *tlsSource) current() (*tls.Certificate, *x509.CertPool) {
	stamp := s.files.stamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	if stamp != s.stamp {
		if cert, pool, err := s.load(); err == nil {
			s.cert, s.pool, s.stamp = cert, pool, stamp
		}
	}
	return s.cert, s.pool
}

// load reads the trust anchor, and the certificate and key.
func (s *tlsSource) load() (*tls.Certificate, *x509.CertPool, error) {
	var pool *x509.CertPool
	if s.withCA {
		var err error
		if pool, err = LoadTrustAnchor(s.files.TrustAnchor); err != nil {
			return nil, nil, err
		}
	}
	var cert *tls.Certificate
	if s.withCert {
		c, err := tls.LoadX509KeyPair(s.files.CertFile, s.files.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("ctrl: loading cert-file %s and key-file %s: %w", s.files.CertFile, s.files.KeyFile, err)
		}
		cert = &c
	}
	return cert, pool, nil
}

// stamp sums up the files' sizes and modification times.
func (f TLSFiles) stamp() string {
	var b strings.Builder
	for _, p := range []string{f.CertFile, f.KeyFile, f.TrustAnchor} {
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(&b, "%s:-;", p)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d;", p, st.Size(), st.ModTime().UnixNano())
		if !st.IsDir() {
			continue
		}
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if info, err := e.Info(); err == nil {
				fmt.Fprintf(&b, "%s:%d:%d;", e.Name(), info.Size(), info.ModTime().UnixNano())
			}
		}
	}
	return b.String()
}

// LoadTrustAnchor reads a PEM file, or every file in a directory, into a
// certificate pool.
func LoadTrustAnchor(path string) (*x509.CertPool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ctrl: trust-anchor: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("ctrl: trust-anchor: %w", err)
		}
		files = files[:0]
		for _, e := range ents {
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	pool := x509.NewCertPool()
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ctrl: trust-anchor: %w", err)
		}
		if pool.AppendCertsFromPEM(b) {
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("ctrl: trust-anchor %s holds no PEM certificate", path)
	}
	return pool, nil
}
