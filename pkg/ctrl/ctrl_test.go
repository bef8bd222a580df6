package ctrl

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name, in string
		want     Request
		wantErr  string
	}{
		{name: "plain", in: `{"command":"config-get","service":["dhcp4"]}`,
			want: Request{Command: "config-get", Service: []string{"dhcp4"}}},
		{name: "arguments", in: `{"command":"lease4-get","arguments":{"ip-address":"192.0.2.1"}}`,
			want: Request{Command: "lease4-get", Arguments: json.RawMessage(`{"ip-address":"192.0.2.1"}`)}},
		{name: "comments", in: "# hash\n{ // line\n \"command\": /* block */ \"list-commands\" }",
			want: Request{Command: "list-commands"}},
		{name: "comment markers inside strings", in: `{"command":"a#b//c/*d*/"}`,
			want: Request{Command: "a#b//c/*d*/"}},
		{name: "unknown key", in: `{"command":"x","foo":1}`, wantErr: "unsupported parameter 'foo'"},
		{name: "missing command", in: `{"service":["dhcp4"]}`, wantErr: "missing mandatory 'command'"},
		{name: "arguments not a map", in: `{"command":"x","arguments":[1]}`, wantErr: "'arguments' must be a map"},
		{name: "not a map", in: `[1,2]`, wantErr: "not a JSON map"},
		{name: "trailing data", in: `{"command":"x"} {}`, wantErr: "trailing data"},
		{name: "trailing bracket", in: `{"command":"x"}]junk`, wantErr: "trailing data"},
		{name: "unterminated comment", in: `{"command":"x"} /*`, wantErr: "unterminated"},
		{name: "command not a string", in: `{"command":5}`, wantErr: "'command'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Command != tt.want.Command || strings.Join(got.Service, ",") != strings.Join(tt.want.Service, ",") ||
				string(got.Arguments) != string(tt.want.Arguments) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{`{"command":"list-commands"}`, `{"command":"x","arguments":{"a":1}}`,
		"# c\n{\"command\":\"x\"}", `{"command":"x"} /* y */`, `{`, `"`, `/*`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(b)
		if err == nil && req.Command == "" {
			t.Fatal("accepted a request without a command")
		}
		clean, err := StripComments(b)
		if err == nil && len(clean) != len(b) {
			t.Fatal("StripComments changed the length")
		}
	})
}

func newTestRegistry(t *testing.T) *Registry {
	t.Helper()
	r := NewRegistry()
	if err := r.Register("echo", func(_ context.Context, args json.RawMessage) Answer {
		return Success("echoed", args)
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRegistry(t *testing.T) {
	r := newTestRegistry(t)
	if err := r.Register("echo", nil); err == nil {
		t.Error("registering a command twice succeeded")
	}
	tests := []struct {
		in         string
		wantResult int
		wantText   string
	}{
		{`{"command":"echo","arguments":{"a":1}}`, 0, "echoed"},
		{`{"command":"nope"}`, 2, "'nope' command not supported."},
		{`{"command":"echo","service":["dhcp6"]}`, 1, "unsupported service 'dhcp6'"},
		{`{"command":"echo","service":["dhcp4","dhcp6"]}`, 1, "single entry"},
		{`{"command":"echo","service":[]}`, 0, "echoed"},
		{`{"command":"echo","bogus":1}`, 1, "unsupported parameter"},
	}
	for _, tt := range tests {
		a := r.Serve(context.Background(), []byte(tt.in))
		if a.Result != tt.wantResult || !strings.Contains(a.Text, tt.wantText) {
			t.Errorf("%s: got %+v, want result %d text %q", tt.in, a, tt.wantResult, tt.wantText)
		}
	}
	a := r.Serve(context.Background(), []byte(`{"command":"list-commands"}`))
	if got, _ := json.Marshal(a); string(got) != `{"result":0,"arguments":["echo","list-commands"]}` {
		t.Errorf("list-commands = %s", got)
	}
}

// post sends body to the server as Kea's clients do and returns the
// status and the decoded body.
func post(t *testing.T, c *http.Client, url, ctype, body string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestHTTP(t *testing.T) {
	var refusedMu sync.Mutex
	var refused []error
	h := &HTTPHandler{Registry: newTestRegistry(t), Auth: &Auth{Clients: []User{{Name: "admin", Password: "s3cret"}}},
		Filter: func(cmd string) bool { return cmd != "forbidden" },
		Refused: func(_ netip.AddrPort, err error) {
			refusedMu.Lock()
			defer refusedMu.Unlock()
			refused = append(refused, err)
		}}
	srv, err := ListenHTTP("127.0.0.1:0", h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(time.Second)
	url := "http://" + srv.Addr().String() + "/any/path"
	good := map[string]string{"Authorization": "Basic YWRtaW46czNjcmV0"} // admin:s3cret
	bad := map[string]string{"Authorization": "Basic YWRtaW46d3Jvbmc="}  // admin:wrong
	tests := []struct {
		name       string
		ctype      string
		body       string
		hdr        map[string]string
		wantStatus int
		wantBody   string
	}{
		{"ok, list-wrapped", "application/json", `{"command":"echo","arguments":{"x":1}}`, good, 200,
			`[{"result":0,"text":"echoed","arguments":{"x":1}}]`},
		{"content type case", "Application/JSON", `{"command":"echo"}`, good, 200, `[{"result":0,"text":"echoed"}]`},
		{"content type with charset", "application/json; charset=utf-8", `{"command":"echo"}`, good, 400,
			`{"result":400,"text":"Bad Request"}`},
		{"no content type", "", `{"command":"echo"}`, good, 400, `{"result":400,"text":"Bad Request"}`},
		{"no credentials", "application/json", `{"command":"echo"}`, nil, 401, `{"result":401,"text":"Unauthorized"}`},
		{"wrong password", "application/json", `{"command":"echo"}`, bad, 401, `{"result":401,"text":"Unauthorized"}`},
		{"filtered", "application/json", `{"command":"forbidden"}`, good, 403, `{"result":403,"text":"Forbidden"}`},
		{"garbage", "application/json", `{"command":`, good, 200, `[{"result":1,"text":"invalid command: not a JSON map: unexpected EOF"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, hdr := post(t, http.DefaultClient, url, tt.ctype, tt.body, tt.hdr)
			if status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", status, body, tt.wantStatus, tt.wantBody)
			}
			if hdr.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", hdr.Get("Content-Type"))
			}
			if status == 401 && hdr.Get("WWW-Authenticate") != `Basic realm="kea-dhcpv4-server"` {
				t.Errorf("WWW-Authenticate = %q", hdr.Get("WWW-Authenticate"))
			}
			// Refused hears of exactly the 401s, before the answer.
			refusedMu.Lock()
			n := len(refused)
			refused = nil
			refusedMu.Unlock()
			if want := map[bool]int{true: 1}[status == 401]; n != want {
				t.Errorf("Refused called %d times, want %d", n, want)
			}
		})
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("GET: status %d, want 400", resp.StatusCode)
	}
	big := `{"command":"echo","arguments":{"x":"` + strings.Repeat("a", MaxRequestBytes) + `"}}`
	if status, _, _ := post(t, http.DefaultClient, url, "application/json", big, good); status != 413 {
		t.Errorf("oversized request: status %d, want 413", status)
	}
}

// pki is a throw-away CA with a server and client certificates.
type pki struct {
	dir                     string
	ca                      *x509.Certificate
	caKey                   *ecdsa.PrivateKey
	caFile, srvCert, srvKey string
	cliCert, cliKey         string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	p.srvCert, p.srvKey = p.issue(t, "server", time.Now().Add(time.Hour), x509.ExtKeyUsageServerAuth)
	p.cliCert, p.cliKey = p.issue(t, "client", time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *pki) issue(t *testing.T, name string, notAfter time.Time, usage x509.ExtKeyUsage) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
}

func TestHTTPSClientCertificates(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t) // a CA the server does not trust
	expiredCert, expiredKey := p.issue(t, "expired", time.Now().Add(-time.Hour), x509.ExtKeyUsageClientAuth)
	refused := make(chan error, 16)
	srv, err := ListenHTTP("127.0.0.1:0", &HTTPHandler{Registry: newTestRegistry(t),
		Refused: func(from netip.AddrPort, err error) {
			if !from.Addr().IsLoopback() {
				t.Errorf("refusal from %s, want the loopback client", from)
			}
			refused <- err
		}},
		&TLSFiles{TrustAnchor: p.caFile, CertFile: p.srvCert, KeyFile: p.srvKey, CertRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(time.Second)
	url := "https://" + srv.Addr().String() + "/"
	client := func(cert, key, ca string) *http.Client {
		f := &TLSFiles{TrustAnchor: ca, CertFile: cert, KeyFile: key}
		tc, err := f.ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	tests := []struct {
		name          string
		c             *http.Client
		wantHandshake bool
	}{
		{"trusted client certificate", client(p.cliCert, p.cliKey, p.caFile), true},
		{"no client certificate", client("", "", p.caFile), false},
		{"client certificate from another CA", client(other.cliCert, other.cliKey, p.caFile), false},
		{"expired client certificate", client(expiredCert, expiredKey, p.caFile), false},
		{"server not trusted by the client", client(p.cliCert, p.cliKey, other.caFile), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"command":"echo"}`)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := tt.c.Do(req)
			if !tt.wantHandshake {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded, want a refused handshake")
				}
				// The server reports the handshake it refused (or
				// that the client refused); the deadline only guards
				// against a hang.
				select {
				case rerr := <-refused:
					if rerr == nil {
						t.Error("refusal reported without its error")
					}
				case <-time.After(10 * time.Second):
					t.Error("the failed handshake was not reported to Refused")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			select {
			case rerr := <-refused:
				t.Errorf("a good handshake was reported as refused: %v", rerr)
			default:
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if string(b) != `[{"result":0,"text":"echoed"}]` {
				t.Errorf("body %s", b)
			}
		})
	}
}

func unixCommand(t *testing.T, path, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(cmd))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kea4.sock")
	// A stale socket file, as a killed daemon leaves it.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	s, err := ListenUnix(path, newTestRegistry(t))
	if err != nil {
		t.Fatalf("a stale socket file blocked the start: %v", err)
	}
	defer s.Close()
	if _, err := ListenUnix(path, NewRegistry()); err == nil {
		t.Error("a second server took over a live socket")
	}
	tests := []struct{ in, want string }{
		{`{"command":"echo","arguments":{"a":[1,2]}}`, `{"result":0,"text":"echoed","arguments":{"a":[1,2]}}`},
		{"{ \"command\": \"echo\" # comment\n}", `{"result":0,"text":"echoed"}`},
		{`{"command":"missing"}`, `{"result":2,"text":"'missing' command not supported."}`},
	}
	for _, tt := range tests {
		if got := unixCommand(t, path, tt.in); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
	}
	// A client that sends half a command and closes gets an error answer.
	c, _ := net.Dial("unix", path)
	c.Write([]byte(`{"command":`))
	c.(*net.UnixConn).CloseWrite()
	b, _ := io.ReadAll(c)
	c.Close()
	if !strings.HasPrefix(string(b), `{"result":1,`) {
		t.Errorf("half a command: got %s", b)
	}
}

func TestClient(t *testing.T) {
	reg := newTestRegistry(t)
	sock := filepath.Join(t.TempDir(), "c.sock")
	u, err := ListenUnix(sock, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	h, err := ListenHTTP("127.0.0.1:0", &HTTPHandler{Registry: reg, Auth: &Auth{Clients: []User{{Name: "a", Password: "b"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(time.Second)
	url := "http://" + h.Addr().String() + "/"
	tests := []struct {
		name    string
		c       Client
		wantErr string
	}{
		{name: "unix", c: Client{Socket: sock}},
		{name: "http", c: Client{URL: url, User: "a", Pass: "b"}},
		{name: "wrong password", c: Client{URL: url, User: "a", Pass: "x"}, wantErr: "refused the credentials"},
		{name: "no daemon on the socket", c: Client{Socket: filepath.Join(t.TempDir(), "none")}, wantErr: "is twinleaf-dhcp4 running"},
		{name: "nothing listening", c: Client{URL: "http://127.0.0.1:1/"}, wantErr: "nothing listens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := tt.c.Call(context.Background(), "echo", map[string]int{"n": 1})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || ans.Result != 0 || ans.Text != "echoed" {
				t.Fatalf("answer %+v, err %v", ans, err)
			}
		})
	}
}

// TestTLSFilesReloaded replaces certificate files under a running server
// and client: each side reads them again at its next handshake, with the
// configs built once. A pair of files that does not load together (a new
// certificate before its key) leaves the previous pair in use.
func TestTLSFilesReloaded(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	dir := t.TempDir()
	copyFile := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cli.pem"), filepath.Join(dir, "cli-key.pem")
	copyFile(p.caFile, ca)
	copyFile(other.cliCert, cert) // a client certificate the server does not trust
	copyFile(other.cliKey, key)

	srv, err := ListenHTTP("127.0.0.1:0", &HTTPHandler{Registry: newTestRegistry(t)},
		&TLSFiles{TrustAnchor: ca, CertFile: p.srvCert, KeyFile: p.srvKey, CertRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(time.Second)
	tc, err := (&TLSFiles{TrustAnchor: p.caFile, CertFile: cert, KeyFile: key}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
	do := func() error {
		resp, err := c.Post("https://"+srv.Addr().String()+"/", "application/json", strings.NewReader(`{"command":"echo"}`))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	if do() == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}
	copyFile(p.cliCert, cert)
	copyFile(p.cliKey, key)
	if err := do(); err != nil {
		t.Fatalf("after the client's files were replaced by trusted ones: %v", err)
	}
	copyFile(other.cliCert, cert) // its key is not written yet
	if err := do(); err != nil {
		t.Errorf("a certificate without its key replaced the working pair: %v", err)
	}
	copyFile(p.cliCert, cert)
	copyFile(other.caFile, ca) // the server now trusts only the other CA
	if do() == nil {
		t.Error("the server still trusts the CA its trust-anchor file no longer holds")
	}
}

// TestTransientBodies: a later request is read into the buffer of a
// transient command's request (Registry.RegisterTransient), never into
// one whose arguments a plainly registered command may keep.
func TestTransientBodies(t *testing.T) {
	var mu sync.Mutex
	var kept json.RawMessage
	var seen []string
	reg := NewRegistry()
	if err := reg.Register("keep", func(_ context.Context, args json.RawMessage) Answer {
		mu.Lock()
		defer mu.Unlock()
		kept = args
		return Success("kept", nil)
	}); err != nil {
		t.Fatal(err)
	}
	if err := reg.RegisterTransient("count", func(_ context.Context, args json.RawMessage) Answer {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, string(args))
		return Success("counted", nil)
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := ListenHTTP("127.0.0.1:0", &HTTPHandler{Registry: reg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(time.Second)
	post := func(body string) {
		t.Helper()
		resp, err := http.Post("http://"+srv.Addr().String()+"/", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	args := []string{`{"n":"an argument long enough to hold the later ones"}`, `{"n":2}`, `{"n":"a third, nearly as long as the first"}`}
	post(`{"command":"keep","arguments":{"kept":"first"}}`)
	for _, a := range args {
		post(`{"command":"count","arguments":` + a + `}`)
	}
	post(`{"command":"keep","arguments":{"kept":"second, and longer than the counts"}}`)
	post(`{"command":"count","arguments":{"n":4}}`)
	mu.Lock()
	defer mu.Unlock()
	if string(kept) != `{"kept":"second, and longer than the counts"}` {
		t.Errorf("kept arguments %s", kept)
	}
	if want := append(args, `{"n":4}`); !reflect.DeepEqual(seen, want) {
		t.Errorf("transient command saw %q, want %q", seen, want)
	}
}

// TestReadBody: a body is read whole at its Content-Length, below and
// above the size read into one allocation up front (or a reused buffer);
// one that ends early is an error either way.
func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sent, n   int
		wantError bool
	}{
		{"empty", 0, 0, false},
		{"small", 100, 100, false},
		{"small, short", 99, 100, true},
		{"at the bound", presizedBody, presizedBody, false},
		{"large", presizedBody + 1, presizedBody + 1, false},
		{"large, short", presizedBody, presizedBody + 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent := bytes.Repeat([]byte{'x'}, tc.sent)
			// No buffer, then a used one large enough, whatever it held.
			for _, buf := range [][]byte{nil, bytes.Repeat([]byte{'y'}, tc.n+10)[:3]} {
				got, err := ReadBody(bytes.NewReader(sent), int64(tc.n), buf)
				if (err != nil) != tc.wantError {
					t.Fatalf("error %v, want one: %v", err, tc.wantError)
				}
				if err == nil && !bytes.Equal(got, sent) {
					t.Errorf("read %d bytes, sent %d", len(got), len(sent))
				}
			}
		})
	}
}
