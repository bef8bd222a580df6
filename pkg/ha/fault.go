package ha

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// Fault is a failure of an HA request that waiting will not mend: the
// partner answered at the TCP level but its TLS handshake or its
// authentication turned us away (or we turned it away). It means the two
// boards' configurations do not match, not that the partner is down, so
// it never makes a standby take over (see README, "Configuration faults").
type Fault struct {
	// Cause says what failed, e.g. "TLS handshake refused our certificate
	// (unknown certificate authority)".
	Cause string
	// Check says what the operator should look at.
	Check string
}

func (f Fault) String() string { return f.Cause + ": " + f.Check }

// StatusError is an HTTP answer that refused the request before any
// command ran: 401 (basic auth) or 403 (forbidden). HTTPTransport returns
// it instead of the body, so the refusal is not mistaken for a command
// error.
type StatusError struct {
	URL  string
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// Checks the operator is pointed at.
const (
	checkTLS  = "check trust-anchor, cert-file and key-file on both boards (both certificates must come from the same CA)"
	checkAuth = "check basic-auth-user and basic-auth-password (or -file) of this peer against the partner's control-socket authentication"
)

// ConfigFault reports whether err, from a request we sent to a peer, is a
// configuration fault, and describes it. Connection refused, timeouts,
// resets and garbled answers are not: they are a partner that may be
// down.
func ConfigFault(err error) (Fault, bool) {
	if err == nil {
		return Fault{}, false
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusUnauthorized:
			return Fault{"the partner refused our basic-auth credentials (HTTP 401)", checkAuth}, true
		case http.StatusForbidden:
			return Fault{"the partner refused the command (HTTP 403 Forbidden)",
				"check restrict-commands and the authentication of the partner's listener"}, true
		}
		return Fault{}, false
	}
	if a, ok := remoteAlert(err); ok {
		return Fault{"TLS handshake refused our certificate (" + a + ")", checkTLS}, true
	}
	if v, ok := verifyError(err); ok {
		return Fault{"the partner's certificate failed our verification (" + v + ")", checkTLS}, true
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) || errors.Is(err, http.ErrSchemeMismatch) {
		return Fault{"the partner does not speak TLS on this port",
			"TLS files are set for this peer here but the partner listens without TLS: set trust-anchor, cert-file and key-file on both boards, or on neither"}, true
	}
	return Fault{}, false
}

// Refusal describes a request from a peer that our own socket turned
// away: a failed TLS handshake (its certificate, or our certificate in
// its eyes) or wrong basic-auth credentials. Handshakes that end because
// the connection went away (EOF, reset, timeout) are not refusals: a
// port probe is not a misconfigured partner.
func Refusal(err error) (Fault, bool) {
	if err == nil || gone(err) {
		return Fault{}, false
	}
	if errors.Is(err, ctrl.ErrUnauthorized) {
		return Fault{"its requests to us carry wrong basic-auth credentials (HTTP 401)",
			"check basic-auth-user and basic-auth-password of this peer in the partner's configuration against our authentication clients"}, true
	}
	if a, ok := remoteAlert(err); ok {
		return Fault{"it refused our certificate in its TLS handshake with us (" + a + ")", checkTLS}, true
	}
	if v, ok := verifyError(err); ok {
		return Fault{"its certificate failed our verification (" + v + ")", checkTLS}, true
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return Fault{"it sent plain HTTP to our TLS listener",
			"set trust-anchor, cert-file and key-file for this peer on both boards, or on neither"}, true
	}
	return Fault{"its TLS handshake with us failed (" + trimTLS(err.Error()) + ")", checkTLS}, true
}

// remoteAlert is the alert the other side sent to end the handshake.
// crypto/tls reports it as a net.OpError with Op "remote error".
func remoteAlert(err error) (string, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		return trimTLS(op.Err.Error()), true
	}
	return "", false
}

// verifyError is a certificate that failed verification.
func verifyError(err error) (string, bool) {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		ci x509.CertificateInvalidError
		hn x509.HostnameError
	)
	switch {
	case errors.As(err, &ua):
		return ua.Error(), true
	case errors.As(err, &ci):
		return ci.Error(), true
	case errors.As(err, &hn):
		return hn.Error(), true
	case errors.As(err, &cv):
		return cv.Err.Error(), true
	}
	return "", false
}

// gone is a connection that closed, reset or timed out.
func gone(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout())
}

func trimTLS(s string) string { return strings.TrimPrefix(s, "tls: ") }
