//go:build integration

package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// expiredClientCert issues, with the CA that `twinleafctl pki init` made,
// a client certificate whose validity ended an hour ago.
func expiredClientCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := pem.Decode(b)
		if p == nil {
			t.Fatalf("%s holds no PEM block", name)
		}
		return p.Bytes
	}
	ca, err := x509.ParseCertificate(read("CA.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParsePKCS8PrivateKey(read("CA_key.pem"))
	if err != nil {
		if k, err2 := x509.ParseECPrivateKey(read("CA_key.pem")); err2 == nil {
			caKey = k
		} else {
			t.Fatalf("CA key: %v / %v", err, err2)
		}
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "expired operator"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "expired_cert.pem"), filepath.Join(dir, "expired_key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, key
}

// TestHTTPSAndAuth: an https control socket made from `twinleafctl pki
// init` certificates answers an operator with a client certificate, and
// refuses no certificate, one from another CA and an expired one; an http
// socket with basic auth refuses a wrong password. twinleafctl is the Go
// TLS client.
func TestHTTPSAndAuth(t *testing.T) {
	if isKea() {
		t.Skip("Kea 2.2 has no HTTPS socket in kea-dhcp4")
	}
	l := NewLab(t)
	ctlBin := filepath.Join(repoRoot(t), "bin", "twinleafctl")
	pki, other := filepath.Join(l.Dir, "pki"), filepath.Join(l.Dir, "other")
	for _, d := range []string{pki, other} {
		if out, err := exec.Command(ctlBin, "pki", "init", "--dir", d, "--boards", "127.0.0.1,127.0.0.2").CombinedOutput(); err != nil {
			t.Fatalf("pki init: %v\n%s", err, out)
		}
	}
	srv := l.Host("srv", "eth0", serverAddr+"/24")
	conf := labConfig(t, l, "single.conf",
		`"control-socket": { "socket-type": "unix", "socket-name": "twinleaf4.sock" },`,
		`"control-sockets": [
        { "socket-type": "unix", "socket-name": "twinleaf4.sock" },
        { "socket-type": "https", "socket-address": "127.0.0.1", "socket-port": 8001,
          "trust-anchor": "`+pki+`/CA.pem", "cert-file": "`+pki+`/ca1_cert.pem", "key-file": "`+pki+`/ca1_key.pem",
          "cert-required": true },
        { "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8002,
          "authentication": { "type": "basic", "clients": [ { "user": "admin", "password": "s3cret" } ] } }
    ],`)
	StartServer(t, l, srv, l.Dir, conf)
	expCert, expKey := expiredClientCert(t, pki)
	https := "https://127.0.0.1:8001/"
	tests := []struct {
		name    string
		args    []string
		wantOK  bool
		wantErr string
	}{
		{"client certificate from the pair's CA", []string{"--url", https, "--ca", pki + "/CA.pem", "--cert", pki + "/client_cert.pem", "--key", pki + "/client_key.pem"}, true, ""},
		{"no client certificate", []string{"--url", https, "--ca", pki + "/CA.pem"}, false, "TLS failed"},
		{"client certificate from another CA", []string{"--url", https, "--ca", pki + "/CA.pem", "--cert", other + "/client_cert.pem", "--key", other + "/client_key.pem"}, false, "TLS failed"},
		{"expired client certificate", []string{"--url", https, "--ca", pki + "/CA.pem", "--cert", expCert, "--key", expKey}, false, "TLS failed"},
		{"server certificate from another CA", []string{"--url", https, "--ca", other + "/CA.pem", "--cert", pki + "/client_cert.pem", "--key", pki + "/client_key.pem"}, false, "TLS failed"},
		{"basic auth, right password", []string{"--url", "http://127.0.0.1:8002/", "--user", "admin", "--password", "s3cret"}, true, ""},
		{"basic auth, wrong password", []string{"--url", "http://127.0.0.1:8002/", "--user", "admin", "--password", "wrong"}, false, "refused the credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := l.Cmd(srv, append([]string{ctlBin}, append(tt.args, "status")...)...).CombinedOutput()
			if tt.wantOK {
				if err != nil || !strings.Contains(string(out), "pid") {
					t.Fatalf("want an answer: %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(string(out), tt.wantErr) {
				t.Fatalf("want a refusal mentioning %q: %v\n%s", tt.wantErr, err, out)
			}
		})
	}
}
