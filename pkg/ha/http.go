package ha

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// commandTimeout is Kea's HTTP timeout for every HA command but the sync
// pages, which use sync-timeout.
const commandTimeout = 10 * time.Second

// maxAnswer bounds an answer body; a lease page of 10000 leases fits.
const maxAnswer = 64 << 20

// writeBuffer is the size of a connection's write buffer: a request
// that fits (a batch of up to about 90 lease updates) leaves in one
// write. Past net/http's 4 KiB default, the rest of a body went to the
// socket through a copy buffer allocated for each request.
const writeBuffer = 32 << 10

// HTTPTransport sends commands to the peers as Kea's HA client does:
// POST / over HTTP/1.1 with kept-alive connections, Content-Type
// application/json, Host set to the peer's address without the port,
// basic auth from the target peer's entry, and TLS whenever TLS files are
// configured for that peer (whatever the URL's scheme).
type HTTPTransport struct {
	peers map[string]*httpPeer
}

type httpPeer struct {
	url, host string
	// The peer's basic-auth user and password: the basic-auth-user and
	// basic-auth-password values, or the files that hold them, read
	// again when they change.
	user, pass credential
	client     *http.Client
}

// NewHTTPTransport prepares a client for every peer but this server.
// Credential and certificate files are read now, so a missing file is
// reported at start-up with the key that names it, and read again when
// they change.
func NewHTTPTransport(h config.HA) (*HTTPTransport, error) {
	t := &HTTPTransport{peers: map[string]*httpPeer{}}
	for _, p := range h.Peers {
		if p.Name == h.ThisServerName {
			continue
		}
		hp, err := newHTTPPeer(h, p)
		if err != nil {
			return nil, fmt.Errorf("ha: peer %s: %w", p.Name, err)
		}
		t.peers[p.Name] = hp
	}
	return t, nil
}

func newHTTPPeer(h config.HA, p config.Peer) (*httpPeer, error) {
	if p.URL == nil {
		return nil, fmt.Errorf("no url")
	}
	files := ctrl.TLSFiles{TrustAnchor: orDefault(p.TrustAnchor, h.TrustAnchor),
		CertFile: orDefault(p.CertFile, h.CertFile), KeyFile: orDefault(p.KeyFile, h.KeyFile)}
	n := ClientConns(h)
	tr := &http.Transport{MaxConnsPerHost: n, MaxIdleConnsPerHost: n, IdleConnTimeout: 30 * time.Second, ForceAttemptHTTP2: false,
		WriteBufferSize: writeBuffer}
	if files.CertFile != "" || files.TrustAnchor != "" {
		c, err := files.ClientConfig()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = c
	}
	hp := &httpPeer{url: PeerURL(h, p), host: p.URL.Hostname(),
		client: &http.Client{Transport: tr}}
	var err error
	if hp.user, err = secret(p.BasicAuthUser, p.BasicAuthUserFile, "basic-auth-user-file"); err != nil {
		return nil, err
	}
	if hp.pass, err = secret(p.BasicAuthPassword, p.BasicAuthPasswordFile, "basic-auth-password-file"); err != nil {
		return nil, err
	}
	return hp, nil
}

// PeerURL is where HA requests to p go: its url with https when TLS
// files are configured for it (whatever the url's scheme, as Kea does)
// and the path dropped.
func PeerURL(h config.HA, p config.Peer) string {
	if p.URL == nil {
		return ""
	}
	scheme := "http"
	if orDefault(p.CertFile, h.CertFile) != "" || orDefault(p.TrustAnchor, h.TrustAnchor) != "" {
		scheme = "https"
	}
	return scheme + "://" + p.URL.Host + "/"
}

// DefaultClientConns is how many connections to a peer the transport
// keeps when http-client-threads is 0. The standby answers each lease
// update once it is on disk, and commits the updates that arrive together
// in one write, so more updates in flight make for fewer, larger writes.
const DefaultClientConns = 64

// ClientConns is how many kept-alive connections the transport keeps to
// each peer, which is also how many commands can be in flight to it:
// http-client-threads, as Kea's multi-threaded client opens one
// connection per thread, or DefaultClientConns when that is 0. Commands
// past it wait for a free connection rather than open a new one, so a
// burst of lease updates does not turn into a burst of TCP handshakes.
func ClientConns(h config.HA) int {
	if n := h.MultiThreading.ClientThreads; n > 0 {
		return int(n)
	}
	return DefaultClientConns
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// credential is a basic-auth value given inline or in a file.
type credential struct {
	inline string
	file   *ctrl.FileSecret // its first line, read again when it changes
}

func (c credential) value() string {
	if c.file != nil {
		return c.file.Value()
	}
	return c.inline
}

// secret is the credential of key: inline, or in file.
func secret(inline, file, key string) (credential, error) {
	if file == "" {
		return credential{inline: inline}, nil
	}
	f, err := ctrl.NewFileSecret(file, true)
	if err != nil {
		return credential{}, fmt.Errorf("reading %s %s: %w", key, file, err)
	}
	return credential{file: f}, nil
}

// Call sends body to the peer and returns the answer body whatever the
// HTTP status, but for 401 and 403: those are a *StatusError, a
// configuration fault (ConfigFault) rather than a command's answer. Other
// HTTP-layer rejections are bare maps, which ParseAnswer turns into rc 1
// as Kea's client does. Without a deadline in ctx the call gives up after
// 10 s.
func (t *HTTPTransport) Call(ctx context.Context, peer string, body []byte) ([]byte, error) {
	p := t.peers[peer]
	if p == nil {
		return nil, fmt.Errorf("ha: no peer named %q", peer)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, commandTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("ha: %s: %w", p.url, err)
	}
	req.Host = p.host
	req.Header.Set("Content-Type", "application/json")
	if user := p.user.value(); user != "" {
		req.SetBasicAuth(user, p.pass.value())
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ha: %s: %w", p.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // keep the connection reusable
		return nil, &StatusError{URL: p.url, Code: resp.StatusCode}
	}
	b, err := readAnswer(resp)
	if err != nil {
		return nil, fmt.Errorf("ha: %s: reading the answer: %w", p.url, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("ha: %s answered HTTP %d with no body", p.url, resp.StatusCode)
	}
	return b, nil
}

// readAnswer reads resp's body, up to maxAnswer: at its Content-Length
// when it has one (Kea's and twinleaf's answers do; ctrl.ReadBody), else
// as it arrives.
func readAnswer(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxAnswer {
		return ctrl.ReadBody(resp.Body, n, nil)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
}

// Close drops the kept-alive connections.
func (t *HTTPTransport) Close() {
	for _, p := range t.peers {
		p.client.CloseIdleConnections()
	}
}
