package ctrl

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
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
// as Kea does.
func (f *TLSFiles) ServerConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("ctrl: loading cert-file %s and key-file %s: %w", f.CertFile, f.KeyFile, err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.CertRequired {
		pool, err := LoadTrustAnchor(f.TrustAnchor)
		if err != nil {
			return nil, err
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// ClientConfig builds the client side, as Kea's HA client does: the
// server's chain is checked against the trust anchor but, like Kea, not
// its host name or address; our certificate is presented.
func (f *TLSFiles) ClientConfig() (*tls.Config, error) {
	pool, err := LoadTrustAnchor(f.TrustAnchor)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ctrl: loading cert-file %s and key-file %s: %w", f.CertFile, f.KeyFile, err)
		}
		// Always presented, as Kea does, even when the server asks for
		// another CA: the server then names the mismatch.
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
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
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			return fmt.Errorf("ctrl: server certificate not signed by trust-anchor %s: %w", f.TrustAnchor, err)
		}
		return nil
	}
	return c, nil
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
