package ha

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// faultLab is two CAs (a: the pair's, b: another) with server and client
// certificates, and listeners built from them as the daemon builds its
// own (ctrl.ListenHTTP), each reporting what it refused.
type faultLab struct {
	dir     string
	refused chan error
}

func (l *faultLab) file(name string) string { return filepath.Join(l.dir, name) }

func newFaultLab(t *testing.T) *faultLab {
	t.Helper()
	l := &faultLab{dir: t.TempDir(), refused: make(chan error, 64)}
	for _, ca := range []string{"a", "b"} {
		c, k := makeCert(t, l.dir, ca+"-ca", nil, nil)
		makeCert(t, l.dir, ca+"-server", c, k)
		makeCert(t, l.dir, ca+"-client", c, k)
		if ca == "a" {
			makeCertUntil(t, l.dir, "a-expired", c, k, time.Now().Add(-time.Hour))
		}
	}
	return l
}

// listen serves a heartbeat on a fresh port: TLS from files (nil: plain
// HTTP), and basic auth when auth is set.
func (l *faultLab) listen(t *testing.T, files *ctrl.TLSFiles, auth *ctrl.Auth, filter func(string) bool) string {
	t.Helper()
	reg := ctrl.NewRegistry()
	reg.Register("ha-heartbeat", func(context.Context, json.RawMessage) ctrl.Answer {
		return ctrl.Success("HA peer status returned.", map[string]any{"state": "waiting", "date-time": time.Now().UTC().Format(time.RFC1123)})
	})
	h := &ctrl.HTTPHandler{Registry: reg, Auth: auth, Filter: filter,
		Refused: func(_ netip.AddrPort, err error) { l.refused <- err }}
	srv, err := ctrl.ListenHTTP("127.0.0.1:0", h, files)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(time.Second) })
	return "http://" + srv.Addr().String() + "/"
}

// serverFiles is a TLS listener with ca's server certificate (or cert)
// demanding client certificates from ca.
func (l *faultLab) serverFiles(ca, cert string) *ctrl.TLSFiles {
	return &ctrl.TLSFiles{TrustAnchor: l.file(ca + "-ca.pem"), CertFile: l.file(cert + ".pem"),
		KeyFile: l.file(cert + ".key"), CertRequired: true}
}

// rawListener accepts connections and hands each to serve.
func rawListener(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// TestConfigFault: real failures of HA requests, from listeners built as
// the daemon builds them, are sorted into configuration faults (TLS
// refused either way, basic auth, 403, TLS against plain HTTP) and a
// partner that may be down (nothing listening, a hang, a reset). The
// refusing listener's side is checked with Refusal too.
func TestConfigFault(t *testing.T) {
	l := newFaultLab(t)
	good := l.listen(t, l.serverFiles("a", "a-server"), nil, nil)
	otherCA := l.listen(t, l.serverFiles("b", "b-server"), nil, nil)
	expired := l.listen(t, l.serverFiles("a", "a-expired"), nil, nil)
	plain := l.listen(t, nil, nil, nil)
	auth := l.listen(t, nil, &ctrl.Auth{Clients: []ctrl.User{{Name: "ha", Password: "right"}}}, nil)
	forbid := l.listen(t, nil, nil, func(string) bool { return false })
	hang := rawListener(t, func(c net.Conn) { time.Sleep(time.Minute); c.Close() })
	reset := rawListener(t, func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() })
	closedLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + closedLn.Addr().String() + "/"
	closedLn.Close()

	tlsPeer := func(ca, cert string) func(*config.Peer) {
		return func(p *config.Peer) {
			p.TrustAnchor = l.file(ca + "-ca.pem")
			if cert != "" {
				p.CertFile, p.KeyFile = l.file(cert+".pem"), l.file(cert+".key")
			}
		}
	}
	for _, tt := range []struct {
		name string
		url  string
		peer func(*config.Peer)
		// cause is a part of ConfigFault's cause; "" means no fault.
		cause string
		// refusal is a part of the listener's Refusal cause; "" means
		// the listener refuses nothing.
		refusal string
	}{
		{"matching certificates", good, tlsPeer("a", "a-client"), "", ""},
		{"our certificate from another CA", good, tlsPeer("a", "b-client"), "TLS handshake refused our certificate",
			"its certificate failed our verification"},
		{"no certificate of ours", good, tlsPeer("a", ""), "TLS handshake refused our certificate", "its TLS handshake with us failed"},
		{"the partner's certificate from another CA", otherCA, tlsPeer("a", "a-client"), "failed our verification (x509: certificate signed by unknown authority",
			"it refused our certificate in its TLS handshake"},
		{"the partner's certificate expired", expired, tlsPeer("a", "a-client"), "failed our verification (x509: certificate has expired",
			"it refused our certificate in its TLS handshake"},
		{"TLS to a plain listener", plain, tlsPeer("a", "a-client"), "does not speak TLS", ""},
		{"wrong password", auth, func(p *config.Peer) { p.BasicAuthUser, p.BasicAuthPassword = "ha", "wrong" },
			"refused our basic-auth credentials (HTTP 401)", "wrong basic-auth credentials (HTTP 401)"},
		{"right password", auth, func(p *config.Peer) { p.BasicAuthUser, p.BasicAuthPassword = "ha", "right" }, "", ""},
		{"forbidden", forbid, nil, "HTTP 403", ""},
		{"nothing listening", closed, nil, "", ""},
		{"a partner that hangs", hang, nil, "", ""},
		{"a partner that resets", reset, nil, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := NewHTTPTransport(twoPeers(t, tt.url, tt.peer))
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err = call(ctx, tr, "server2", HeartbeatCommand(Kea3, "server1"))
			f, ok := ConfigFault(err)
			switch {
			case tt.cause == "" && ok:
				t.Errorf("error %v is a configuration fault %q, want a partner that may be down", err, f)
			case tt.cause != "" && (!ok || !strings.Contains(f.Cause, tt.cause) || f.Check == ""):
				t.Errorf("error %v gives fault %q (%v), want a cause with %q and a check", err, f, ok, tt.cause)
			}
			if tt.cause == "" && strings.HasPrefix(tt.name, "matching") || strings.HasPrefix(tt.name, "right") {
				if err != nil {
					t.Errorf("the request failed: %v", err)
				}
			}
			if tt.refusal == "" {
				select {
				case rerr := <-l.refused:
					if r, ok := Refusal(rerr); ok {
						t.Errorf("the listener refused %v (%q), want nothing refused", rerr, r)
					}
				default:
				}
				return
			}
			// The listener's side runs on its own goroutine; the
			// deadline only guards against a hang.
			select {
			case rerr := <-l.refused:
				r, ok := Refusal(rerr)
				if !ok || !strings.Contains(r.Cause, tt.refusal) {
					t.Errorf("the listener's error %v gives refusal %q (%v), want one with %q", rerr, r, ok, tt.refusal)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("the listener reported no refusal, want one with %q", tt.refusal)
			}
		})
	}
}

// TestRefusalIgnoresGoneConnections: a connection that goes away during
// the handshake (a port probe) is not a refusal.
func TestRefusalIgnoresGoneConnections(t *testing.T) {
	l := newFaultLab(t)
	u := l.listen(t, l.serverFiles("a", "a-server"), nil, nil)
	c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case rerr := <-l.refused:
		if r, ok := Refusal(rerr); ok {
			t.Errorf("a closed probe counted as refusal %q (%v)", r, rerr)
		}
	case <-time.After(10 * time.Second):
		t.Error("the listener did not report the failed handshake at all")
	}
}
