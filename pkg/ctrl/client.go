package ctrl

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Client sends commands to a Kea or twinleaf control socket: an http or
// https URL, or a unix socket path.
type Client struct {
	// URL is http://host:port/ or https://host:port/; Socket is a unix
	// socket path. Exactly one is set.
	URL, Socket string
	TLS         *tls.Config
	User, Pass  string
	Timeout     time.Duration
}

// Call sends one command and returns Kea's answer. Errors say what to fix:
// a daemon that is not running, a refused certificate, a wrong password.
func (c *Client) Call(ctx context.Context, command string, args any) (Answer, error) {
	req := map[string]any{"command": command, "service": []string{"dhcp4"}}
	if args != nil {
		req["arguments"] = args
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Answer{}, err
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var raw []byte
	if c.Socket != "" {
		raw, err = c.unix(ctx, body)
	} else {
		raw, err = c.http(ctx, body)
	}
	if err != nil {
		return Answer{}, err
	}
	var ans Answer
	if err := decodeAnswer(raw, &ans); err != nil {
		return Answer{}, err
	}
	return ans, nil
}

// decodeAnswer accepts the list-wrapped HTTP form and the bare unix form.
func decodeAnswer(raw []byte, ans *Answer) error {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '[' {
		var list []Answer
		if err := json.Unmarshal(t, &list); err != nil || len(list) != 1 {
			return fmt.Errorf("the server's answer is not a one-element list: %.200s", t)
		}
		*ans = list[0]
		return nil
	}
	if err := json.Unmarshal(t, ans); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %.200s", t)
	}
	return nil
}

func (c *Client) unix(ctx context.Context, body []byte) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("no server listens on %s: is twinleaf-dhcp4 running, and is this its control socket?", c.Socket)
		}
		return nil, fmt.Errorf("connecting to %s: %w", c.Socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write(body); err != nil {
		return nil, fmt.Errorf("sending to %s: %w", c.Socket, err)
	}
	return io.ReadAll(conn)
}

func (c *Client) http(ctx context.Context, body []byte) ([]byte, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLS}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Pass)
	}
	resp, err := hc.Do(req)
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("nothing listens at %s: is twinleaf-dhcp4 running with this control socket?", c.URL)
		case strings.Contains(msg, "certificate"):
			return nil, fmt.Errorf("%s: TLS failed: %v; check --ca (the server's CA) and --cert/--key (a client certificate its trust-anchor signed)", c.URL, err)
		case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
			return nil, fmt.Errorf("%s speaks plain HTTP; use an http:// URL", c.URL)
		}
		return nil, fmt.Errorf("%s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxRequestBytes))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", c.URL, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return b, nil
	case http.StatusUnauthorized:
		return nil, fmt.Errorf("%s refused the credentials (HTTP 401); check --user and --password", c.URL)
	case http.StatusForbidden:
		return nil, fmt.Errorf("%s does not allow this command (HTTP 403)", c.URL)
	}
	return nil, fmt.Errorf("%s answered HTTP %d: %.200s", c.URL, resp.StatusCode, b)
}
