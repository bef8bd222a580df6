package ctrl

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limits that keep a misbehaving client from disturbing anything else.
const (
	// MaxRequestBytes bounds a command's size; a lease4-update is a few
	// hundred bytes, a config-set of a large config well under this.
	MaxRequestBytes = 16 << 20
	// ReadTimeout and IdleTimeout are Kea's: 10 s to receive a request,
	// 30 s for an idle keep-alive connection.
	ReadTimeout = 10 * time.Second
	IdleTimeout = 30 * time.Second
	// MaxConcurrent bounds commands running at once per socket; others
	// wait for a slot while their client waits.
	MaxConcurrent = 16
)

// User is one basic-auth user.
type User struct {
	Name, Password string
	// NameFile and PasswordFile, when set, hold the name and the
	// password instead (Kea's user-file and password-file), read again
	// when they change.
	NameFile, PasswordFile *FileSecret
}

// credentials are the user's name and password as they are now. A
// password-file without a user holds the whole "user:password" secret,
// as Kea reads it.
func (u User) credentials() (name, password string) {
	name, password = u.Name, u.Password
	if u.NameFile != nil {
		name = u.NameFile.Value()
	}
	if u.PasswordFile != nil {
		password = u.PasswordFile.Value()
		if u.Name == "" && u.NameFile == nil {
			name, password, _ = strings.Cut(password, ":")
		}
	}
	return name, password
}

// Auth is Kea's "authentication" block, its files opened by the caller.
type Auth struct {
	Realm   string
	Clients []User
}

// HTTPHandler serves Kea's command protocol over HTTP: POST with
// Content-Type application/json, answers list-wrapped, HTTP-layer errors as
// bare {"result": <status>, "text": ...} maps as Kea's libhttp does.
type HTTPHandler struct {
	Registry *Registry
	Auth     *Auth // nil: no authentication
	// Headers are extra response headers (Kea's http-headers).
	Headers map[string]string
	// Filter, if set, is asked before a command runs; returning false
	// answers HTTP 403 (the HA listener's restrict-commands).
	Filter func(command string) bool
	// ErrorLog receives connection-level errors; nil discards them.
	ErrorLog *log.Logger
	// Refused, if set, is told of every client turned away for its
	// credentials: a failed TLS handshake (the error crypto/tls gave) or
	// wrong basic auth (ErrUnauthorized). HA uses it to name a partner
	// whose certificate or password does not match.
	Refused func(from netip.AddrPort, err error)
	slots   chan struct{}
	// bodies holds request buffers of transient commands
	// (Registry.RegisterTransient) for later requests, one per slot.
	bodies chan []byte
}

// ErrUnauthorized is the error Refused gets for a request without valid
// basic-auth credentials (answered HTTP 401).
var ErrUnauthorized error = &StatusError{Code: http.StatusUnauthorized}

// StatusError is an HTTP-layer refusal.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// presizedBody bounds the body ReadBody allocates whole before it
// arrives: a partner's largest batch of lease updates fits, while a
// client that announces 16 MiB and sends nothing cannot make the server
// hold 16 MiB per connection.
const presizedBody = 1 << 20

// ReadBody reads an HTTP body of n bytes (its Content-Length): a request
// here, an answer in the HA client. Up to presizedBody it is read into
// buf if that is large enough, else into one allocation of its size,
// where io.ReadAll would grow its buffer (and copy) a dozen times for a
// partner's batch; a larger one grows as it arrives, so a peer that
// announces much and sends nothing is not held in memory. net/http ends
// a body at its Content-Length, so a shorter one is an error.
func ReadBody(r io.Reader, n int64, buf []byte) ([]byte, error) {
	if n <= presizedBody {
		b := buf[:0]
		if int64(cap(b)) < n {
			b = make([]byte, n)
		}
		b = b[:n]
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b, err := io.ReadAll(r)
	if err == nil && int64(len(b)) != n {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// ServeHTTP implements http.Handler.
func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range h.Headers {
		w.Header().Set(k, v)
	}
	if r.Method != http.MethodPost || !isJSON(r.Header.Get("Content-Type")) || r.ContentLength < 0 {
		writeHTTPError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if h.Auth != nil && !h.authorized(r) {
		realm := h.Auth.Realm
		if realm == "" {
			realm = "kea-dhcpv4-server"
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
		writeHTTPError(w, http.StatusUnauthorized, "Unauthorized")
		if h.Refused != nil {
			if from, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
				h.Refused(from, ErrUnauthorized)
			}
		}
		return
	}
	if r.ContentLength > MaxRequestBytes {
		writeHTTPError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	var buf []byte
	select {
	case buf = <-h.bodies:
	default:
	}
	body, err := ReadBody(r.Body, r.ContentLength, buf)
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	req, perr := ParseRequest(body)
	if perr == nil && h.Filter != nil && !h.Filter(req.Command) {
		writeHTTPError(w, http.StatusForbidden, "Forbidden")
		return
	}
	if h.slots == nil {
		writeHTTPError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	select {
	case h.slots <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	var ans Answer
	transient := false
	if perr != nil {
		ans = Error("%v", perr)
	} else {
		ans, transient = h.Registry.handle(r.Context(), req)
	}
	<-h.slots
	writeJSON(w, http.StatusOK, []Answer{ans})
	if transient && cap(body) <= keptBody {
		select {
		case h.bodies <- body:
		default:
		}
	}
}

// keptBody bounds the request buffers a handler keeps for reuse: a
// partner's largest batch fits, and MaxConcurrent of them stay small.
const keptBody = 256 << 10

func (h *HTTPHandler) authorized(r *http.Request) bool {
	const prefix = "Basic "
	a := r.Header.Get("Authorization")
	if !strings.HasPrefix(a, prefix) {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(a[len(prefix):])
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	for _, c := range h.Auth.Clients {
		name, password := c.credentials()
		if subtle.ConstantTimeCompare([]byte(name), []byte(user)) == 1 &&
			subtle.ConstantTimeCompare([]byte(password), []byte(pass)) == 1 {
			return true
		}
	}
	return false
}

// isJSON accepts exactly application/json, case-insensitively and with no
// parameters, as Kea requires.
func isJSON(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json" && len(params) == 0 && !strings.Contains(ct, ";")
}

func writeHTTPError(w http.ResponseWriter, status int, text string) {
	writeJSON(w, status, Answer{Result: status, Text: text})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(Answer{Result: ResultError, Text: "cannot encode the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// HTTPServer is one http or https control socket.
type HTTPServer struct {
	srv *http.Server
	ln  net.Listener
}

// ListenHTTP opens addr (host:port) and serves h on it, over TLS when
// tlsConf is not nil. It returns once the socket is bound, so a caller
// knows at once whether the port was free.
func ListenHTTP(addr string, h *HTTPHandler, tlsConf *TLSFiles) (*HTTPServer, error) {
	h.slots = make(chan struct{}, MaxConcurrent)
	h.bodies = make(chan []byte, MaxConcurrent)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      ReadTimeout + 60*time.Second,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          h.ErrorLog,
	}
	if srv.ErrorLog == nil {
		srv.ErrorLog = log.New(io.Discard, "", 0)
	}
	var tc *tls.Config
	if tlsConf != nil {
		var err error
		if tc, err = tlsConf.ServerConfig(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ctrl: listening on %s: %w", addr, err)
	}
	s := &HTTPServer{srv: srv, ln: ln}
	serveLn := ln
	if tc != nil {
		serveLn = &tlsListener{Listener: ln, config: tc, refused: h.Refused}
	}
	go func() {
		err := srv.Serve(serveLn)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			srv.ErrorLog.Printf("ctrl: control socket %s stopped: %v", ln.Addr(), err)
		}
	}()
	return s, nil
}

// Addr is the bound address (useful with port 0 in tests).
func (s *HTTPServer) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, lets running commands finish for up to timeout,
// then closes every connection.
func (s *HTTPServer) Close(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}
