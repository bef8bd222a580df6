package ha

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/config"
)

// twoPeers is server1 (us) and server2 at u.
func twoPeers(t *testing.T, u string, mod func(*config.Peer)) config.HA {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	h := haConfig("hot-standby", "server1")
	h.Peers = h.Peers[1:] // no backup
	for i := range h.Peers {
		if h.Peers[i].Name == "server2" {
			h.Peers[i].URL = parsed
			if mod != nil {
				mod(&h.Peers[i])
			}
		}
	}
	return h
}

func TestHTTPTransport(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		if u, _, _ := r.BasicAuth(); u != "ha" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{ "result": 401, "text": "Unauthorized" }`)
			return
		}
		io.WriteString(w, `[ { "result": 0, "text": "HA peer status returned.", "arguments": { "state": "ready", "date-time": "Thu, 26 Nov 2026 22:51:24 GMT" } } ]`)
	}))
	defer srv.Close()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := NewHTTPTransport(twoPeers(t, srv.URL+"/some/path", func(p *config.Peer) {
		p.BasicAuthUser, p.BasicAuthPasswordFile = "ha", pw
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	body, err := call(context.Background(), tr, "server2", HeartbeatCommand(Kea3, "server1"))
	if err != nil {
		t.Fatal(err)
	}
	if hb, err := ParseHeartbeat(body); err != nil || hb.State != Ready {
		t.Errorf("heartbeat %+v %v", hb, err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/" || got.Header.Get("Content-Type") != "application/json" ||
		got.Host != "127.0.0.1" || got.Proto != "HTTP/1.1" {
		t.Errorf("request %s %s host %q type %q proto %s", got.Method, got.URL.Path, got.Host, got.Header.Get("Content-Type"), got.Proto)
	}
	if u, p, _ := got.BasicAuth(); u != "ha" || p != "s3cret" {
		t.Errorf("basic auth %q:%q", u, p)
	}
	if gotBody != `{"command":"ha-heartbeat","service":["dhcp4"],"arguments":{"server-name":"server1"}}` {
		t.Errorf("body %s", gotBody)
	}

	// A 401 is a StatusError, not an answer.
	noAuth, err := NewHTTPTransport(twoPeers(t, srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	body, err = noAuth.Call(context.Background(), "server2", []byte(`{}`))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || body != nil {
		t.Errorf("401: body %q, error %v; want a StatusError 401", body, err)
	}
	if _, err := noAuth.Call(context.Background(), "server9", nil); err == nil {
		t.Error("unknown peer accepted")
	}
	_, err = NewHTTPTransport(twoPeers(t, srv.URL, func(p *config.Peer) { p.BasicAuthPasswordFile = "/nonexistent/pw" }))
	if err == nil || !strings.Contains(err.Error(), "basic-auth-password-file /nonexistent/pw") {
		t.Errorf("missing password file: %v", err)
	}

	// A password file corrected on disk is used from the next look at it
	// (at most a second later), without a new transport.
	if err := os.WriteFile(pw, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	strict := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != "ha" || p != "right" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `[ { "result": 0, "text": "ok" } ]`)
	}))
	defer strict.Close()
	tr2, err := NewHTTPTransport(twoPeers(t, strict.URL, func(p *config.Peer) {
		p.BasicAuthUser, p.BasicAuthPasswordFile = "ha", pw
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	if _, err := tr2.Call(context.Background(), "server2", []byte(`{}`)); !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Fatalf("with the wrong password: %v, want a StatusError 401", err)
	}
	if err := os.WriteFile(pw, []byte("right\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := tr2.Call(context.Background(), "server2", []byte(`{}`))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the corrected password file was never used: %v", err)
		}
	}
}

// TestHTTPTransportAnswerLength: an answer is read whole whether it
// comes with a Content-Length (read into one buffer of that size) or
// chunked (a large lease page from Go's server).
func TestHTTPTransportAnswerLength(t *testing.T) {
	for _, n := range []int{1, 100, 100000} {
		answer := `[ { "result": 0, "text": "` + strings.Repeat("x", n) + `" } ]`
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, answer)
		}))
		tr, err := NewHTTPTransport(twoPeers(t, srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		got, err := tr.Call(context.Background(), "server2", []byte(`{}`))
		if err != nil || string(got) != answer {
			t.Errorf("answer of %d bytes: got %d bytes, error %v", len(answer), len(got), err)
		}
		tr.Close()
		srv.Close()
	}
}

// TestHTTPTransportMutualTLS: TLS comes from the files even with an
// http:// URL, the client presents its certificate, and the server's
// certificate is checked against the trust anchor but not its name.
func TestHTTPTransportMutualTLS(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := makeCert(t, dir, "ca", nil, nil)
	makeCert(t, dir, "server", caCert, caKey)
	makeCert(t, dir, "client", caCert, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	srvCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			t.Error("no client certificate")
		}
		io.WriteString(w, `[ { "result": 0, "text": "ok" } ]`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()
	h := twoPeers(t, strings.Replace(srv.URL, "https://", "http://", 1), nil)
	h.TrustAnchor, h.CertFile, h.KeyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	tr, err := NewHTTPTransport(h)
	if err != nil {
		t.Fatal(err)
	}
	body, err := tr.Call(context.Background(), "server2", []byte(`{"command":"ha-heartbeat"}`))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := ParseAnswer(body); err != nil || a.Result != 0 {
		t.Errorf("answer %+v %v", a, err)
	}
	// A client whose trust anchor did not sign the server's certificate
	// refuses the handshake.
	otherDir := t.TempDir()
	makeCert(t, otherDir, "ca", nil, nil)
	h.TrustAnchor = filepath.Join(otherDir, "ca.pem")
	tr2, err := NewHTTPTransport(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr2.Call(context.Background(), "server2", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "trust-anchor") {
		t.Errorf("untrusted server accepted: %v", err)
	}
}

// makeCert writes name.pem and name.key in dir: a CA when parent is nil,
// else a leaf the parent signs (for 127.0.0.1, though nobody checks).
func makeCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	return makeCertUntil(t, dir, name, parent, parentKey, time.Now().Add(time.Hour))
}

// makeCertUntil is makeCert with the end of validity given.
func makeCertUntil(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".pem", "CERTIFICATE", der)
	write(name+".key", "EC PRIVATE KEY", kb)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestHTTPTransportConnections: many concurrent commands share
// http-client-threads kept-alive connections (DefaultClientConns when it
// is 0), never more in flight, and never a new connection per command.
func TestHTTPTransportConnections(t *testing.T) {
	tests := []struct {
		threads uint32
		want    int
	}{
		{0, DefaultClientConns},
		{1, 1},
		{3, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.threads), func(t *testing.T) {
			var mu sync.Mutex
			var conns, inflight, peak int
			released, full := false, make(chan struct{})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				inflight++
				peak = max(peak, inflight)
				if inflight == tt.want && !released {
					close(full) // every connection is busy: let them all go
					released = true
				}
				mu.Unlock()
				<-full
				io.WriteString(w, `[ { "result": 0, "text": "ok" } ]`)
				mu.Lock()
				inflight--
				mu.Unlock()
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					mu.Lock()
					conns++
					mu.Unlock()
				}
			}
			srv.Start()
			defer srv.Close()
			h := twoPeers(t, srv.URL+"/", nil)
			h.MultiThreading.ClientThreads = tt.threads
			if got := ClientConns(h); got != tt.want {
				t.Fatalf("ClientConns = %d, want %d", got, tt.want)
			}
			tr, err := NewHTTPTransport(h)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			calls := 10 * tt.want
			errs := make(chan error, calls)
			for range calls {
				go func() {
					_, err := tr.Call(context.Background(), "server2", []byte(`{ "command": "lease4-update" }`))
					errs <- err
				}()
			}
			for range calls {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if conns != tt.want || peak != tt.want {
				t.Errorf("%d commands: %d connections, %d in flight at most; want %d of each", calls, conns, peak, tt.want)
			}
		})
	}
}
