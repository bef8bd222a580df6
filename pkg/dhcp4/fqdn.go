package dhcp4

import (
	"errors"
	"fmt"
	"strings"
)

// optFQDN is the Client FQDN option (RFC 4702).
const optFQDN = 81

// Client FQDN flags.
const (
	fqdnS = 1 << 0 // the server should update the A record
	fqdnO = 1 << 1 // the server overrode the client's S
	fqdnE = 1 << 2 // the name is in DNS wire format
	fqdnN = 1 << 3 // nobody updates DNS
)

// fqdn is a parsed Client FQDN option.
type fqdn struct {
	flags, rcode1, rcode2 uint8
	labels                []string
	full                  bool // the name ends at the root
}

var errFQDN = errors.New("dhcp4: malformed client FQDN option")

// parseFQDN decodes option 81's payload.
func parseFQDN(b []byte) (fqdn, error) {
	if len(b) < 3 {
		return fqdn{}, fmt.Errorf("%w: %d bytes, need at least 3", errFQDN, len(b))
	}
	f := fqdn{flags: b[0], rcode1: b[1], rcode2: b[2]}
	if f.flags&fqdnS != 0 && f.flags&fqdnN != 0 {
		return fqdn{}, fmt.Errorf("%w: N and S both set", errFQDN)
	}
	name := b[3:]
	if f.flags&fqdnE == 0 {
		s := string(name)
		f.full = strings.HasSuffix(s, ".")
		s = strings.TrimSuffix(s, ".")
		if s != "" {
			f.labels = strings.Split(s, ".")
		}
		return f, nil
	}
	for len(name) > 0 {
		n := int(name[0])
		if n == 0 {
			if len(name) != 1 {
				return fqdn{}, fmt.Errorf("%w: data after the root label", errFQDN)
			}
			f.full = true
			break
		}
		if n > 63 || len(name) < 1+n {
			return fqdn{}, fmt.Errorf("%w: bad label length %d", errFQDN, n)
		}
		f.labels = append(f.labels, string(name[1:1+n]))
		name = name[1+n:]
	}
	// The root alone is no name at all.
	f.full = f.full && len(f.labels) > 0
	return f, nil
}

// marshal encodes the option payload as Kea packs it.
func (f fqdn) marshal() []byte {
	b := []byte{f.flags, f.rcode1, f.rcode2}
	if len(f.labels) == 0 {
		return b
	}
	if f.flags&fqdnE == 0 {
		b = append(b, f.text()...)
		return b
	}
	for _, l := range f.labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	if f.full {
		b = append(b, 0)
	}
	return b
}

// text is the name as Kea prints it: a full name with its final dot.
func (f fqdn) text() string {
	s := strings.Join(f.labels, ".")
	if f.full && s != "" {
		s += "."
	}
	return s
}

// fqdnReply answers a client's FQDN option with DNS updates off, as Kea
// does without a DHCP-DDNS server: N set, S clear, O telling the client
// its S was overridden, the name cleaned and fully qualified. It returns
// false when the client's option is unusable; Kea then sends none.
func fqdnReply(req []byte, reserved string) (fqdn, bool) {
	f, err := parseFQDN(req)
	if err != nil {
		return fqdn{}, false
	}
	resp := fqdn{flags: fqdnN | f.flags&fqdnE, rcode1: f.rcode1, rcode2: f.rcode2}
	if f.flags&fqdnS != 0 {
		resp.flags |= fqdnO
	}
	if reserved != "" {
		resp.labels = strings.Split(strings.TrimSuffix(reserved, "."), ".")
		resp.full = true
		return resp, true
	}
	if len(f.labels) == 0 {
		return resp, true
	}
	for _, l := range f.labels {
		c := scrub(l)
		if c == "" {
			// Kea refuses a name that scrubbing empties or splits.
			return fqdn{}, false
		}
		resp.labels = append(resp.labels, c)
	}
	resp.full = true
	return resp, true
}

// scrub removes what Kea's default hostname-char-set rejects.
func scrub(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
			return r
		}
		return -1
	}, s)
}
