package leasecmds

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// Kea's error texts for command arguments come from its SimpleParser and
// end with the JSON position of the offending element, as in
// "missing parameter 'hw-address' (<string>:1:30)". Go's decoder keeps no
// positions, so twinleaf's texts stop before the parenthesis; everything
// up to it reads as Kea's.

// args is a command's "arguments" map, decoded with json.Number so that
// integers and reals stay apart, as Kea's Element types keep them.
type args map[string]any

// decodeArgs decodes raw arguments. ok is false when there are none (raw
// empty or JSON null), which several commands treat differently from an
// empty map; err is set when they are not a map.
func decodeArgs(raw json.RawMessage) (a args, ok bool, err error) {
	return decodeArgsInto(nil, raw)
}

// decodeArgsInto is decodeArgs reusing m, emptied first, for arguments
// that decodeFlat reads: a batch's items decode one after the other into
// one map that none of them keeps. A nil m is allocated.
func decodeArgsInto(m args, raw json.RawMessage) (a args, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, false, nil
	}
	if a, ok := decodeFlat(m, raw); ok {
		return a, true, nil
	}
	return decodeAny(raw)
}

// decodeAny is decodeArgs through encoding/json, for every shape.
func decodeAny(raw json.RawMessage) (a args, ok bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, true, kea("arguments are not valid JSON: %v", err)
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, true, errNotMap
	}
	return args(m), true, nil
}

var errNotMap = kea("Parameters missing or are not a map.")

// decodeFlat reads, in one pass, an object whose values are all plain
// strings (printable ASCII, no escapes), numbers, booleans or null: what
// a partner's lease update carries, thousands a second on a standby. It
// gives what decodeAny gives for the same input; ok is false for any
// other shape, which decodeAny then reads (and explains, if it is
// wrong). It decodes into m, emptied first, or a new map if m is nil.
func decodeFlat(m args, b []byte) (args, bool) {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, false
	}
	if m == nil {
		m = make(args, 12)
	}
	clear(m)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m, skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := plainKey(b, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(b, j)
		if i == len(b) || b[i] != ':' {
			return nil, false
		}
		if i = skipSpace(b, i+1); i == len(b) {
			return nil, false
		}
		var v any
		switch c := b[i]; {
		case c == '"':
			v, i, ok = plainString(b, i)
		case c == 't':
			v, i, ok = true, i+4, bytes.HasPrefix(b[i:], []byte("true"))
		case c == 'f':
			v, i, ok = false, i+5, bytes.HasPrefix(b[i:], []byte("false"))
		case c == 'n':
			v, i, ok = nil, i+4, bytes.HasPrefix(b[i:], []byte("null"))
		case c == '-' || (c >= '0' && c <= '9'):
			if j, ok = ctrl.NumberEnd(b, i); ok {
				v, i = json.Number(b[i:j]), j
			}
		default:
			return nil, false // an object or a list
		}
		if !ok {
			return nil, false
		}
		m[key] = v
		if i = skipSpace(b, i); i == len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return m, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads the string starting at b[i], a quote, if it holds
// only printable ASCII without escapes; it returns the index after it.
func plainString(b []byte, i int) (string, int, bool) {
	if i == len(b) || b[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c < 0x20 || c >= 0x80 || c == '\\':
			return "", i, false
		}
	}
	return "", i, false
}

// plainKey is plainString for a key: a key of a lease update comes back
// as the one string in leaseKeys rather than as a new string each time.
func plainKey(b []byte, i int) (string, int, bool) {
	if i < len(b) && b[i] == '"' {
		if end := bytes.IndexByte(b[i+1:], '"'); end >= 0 {
			if k, ok := leaseKeys[string(b[i+1:i+1+end])]; ok {
				return k, i + 2 + end, true
			}
		}
	}
	return plainString(b, i)
}

// leaseKeys is read only: each key of lease4-update, mapped to itself.
var leaseKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"ip-address", "hw-address", "client-id", "valid-lft", "expire", "cltt",
		"subnet-id", "pool-id", "fqdn-fwd", "fqdn-rev", "hostname", "state", "force-create", "origin", "comment"} {
		m[k] = k
	}
	return m
}()

func (a args) has(name string) bool {
	_, ok := a[name]
	return ok
}

// integer reports whether v is a JSON integer (Kea's Element::integer: no
// fraction or exponent, within int64) and returns it.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if strings.ContainsAny(string(n), ".eE") {
			return 0, false
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	case float64:
		// Maps built by json.Unmarshal without UseNumber (ParseLease's
		// callers) carry every number as float64.
		if n != math.Trunc(n) || n < math.MinInt64 || n >= math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	case uint32:
		return int64(n), true
	}
	return 0, false
}

// getString is SimpleParser::getString: the key must be there and a string.
func (a args) getString(name string) (string, error) {
	v, ok := a[name]
	if !ok {
		return "", kea("missing parameter '%s'", name)
	}
	s, ok := v.(string)
	if !ok {
		return "", kea("invalid type specified for parameter '%s'", name)
	}
	return s, nil
}

func (a args) getInteger(name string) (int64, error) {
	v, ok := a[name]
	if !ok {
		return 0, kea("missing parameter '%s'", name)
	}
	i, ok := integer(v)
	if !ok {
		return 0, kea("invalid type specified for parameter '%s'", name)
	}
	return i, nil
}

// getUint is SimpleParser::getUint32 and getUint8: an integer within
// [0, max].
func (a args) getUint(name string, max int64) (int64, error) {
	i, err := a.getInteger(name)
	if err != nil {
		return 0, err
	}
	if i < 0 || i > max {
		return 0, kea("out of range value (%d) specified for parameter '%s'", i, name)
	}
	return i, nil
}

func (a args) getBool(name string) (bool, error) {
	v, ok := a[name]
	if !ok {
		return false, kea("missing parameter '%s'", name)
	}
	b, ok := v.(bool)
	if !ok {
		return false, kea("invalid type specified for parameter '%s'", name)
	}
	return b, nil
}

// parseAddr is Kea's IOAddress constructor: any IPv4 or IPv6 literal.
// Zones are refused, as inet_pton does.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, kea("Failed to convert string to address '%s': Invalid argument", s)
	}
	return a, nil
}

// maxHWAddrLen is Kea's HWAddr::MAX_HWADDR_LEN.
const maxHWAddrLen = 20

// parseHWAddr is HWAddr::fromText: colon-separated octets of one or two
// hex digits; "" is an empty address.
func parseHWAddr(s string) ([]byte, error) {
	b, err := parseSeparatedHex(s, ':')
	if err != nil {
		return nil, err
	}
	if len(b) > maxHWAddrLen {
		return nil, kea("address vector size exceeds MAX_HWADDR_LEN")
	}
	return b, nil
}

func parseSeparatedHex(s string, sep byte) ([]byte, error) {
	n := strings.Count(s, string(sep)) + 1
	out := make([]byte, 0, n)
	for p := range strings.SplitSeq(s, string(sep)) {
		switch {
		case n > 1 && p == "":
			return nil, kea("two consecutive separators ('%c') specified in a decoded string '%s'", sep, s)
		case len(p) > 2:
			return nil, kea("invalid format of the decoded string '%s'", s)
		case p == "":
			continue
		}
		for i := 0; i < len(p); i++ {
			if !isHex(p[i]) {
				return nil, kea("'%c' is not a valid hexadecimal digit in decoded string '%s'", p[i], s)
			}
		}
		v, _ := strconv.ParseUint(p, 16, 8)
		out = append(out, byte(v))
	}
	return out, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// decodeFormattedHex is Kea's decodeFormattedHexString, the text form of
// client-ids and DUIDs: colon- or space-separated octets, or plain hex
// digits (optionally 0x-prefixed, an odd count padded with a leading 0).
func decodeFormattedHex(s string) ([]byte, error) {
	switch {
	case strings.Contains(s, ":"):
		return parseSeparatedHex(s, ':')
	case strings.Contains(s, " "):
		return parseSeparatedHex(s, ' ')
	}
	digits := s
	if len(s) > 2 && strings.HasPrefix(s, "0x") {
		digits = s[2:]
	}
	if len(s)%2 != 0 {
		digits = "0" + digits
	}
	b, err := hex.DecodeString(digits)
	if err != nil {
		return nil, kea("'%s' is not a valid string of hexadecimal digits", s)
	}
	return b, nil
}

// identifier checks an identifier's length as Kea 3.x's IdentifierType
// does. Kea 2.2 words it "client-id is too short (1), at least 2 is
// required", and an empty one "Empty DUIDs are not allowed".
func identifier(b []byte, min, max int) ([]byte, error) {
	switch {
	case len(b) < min:
		return nil, kea("identifier is too short (%d), at least %d is required", len(b), min)
	case len(b) > max:
		return nil, kea("identifier is too large (%d), at most %d is required", len(b), max)
	}
	return b, nil
}

// parseClientID is ClientId::fromText: 2 to 255 bytes.
func parseClientID(s string) ([]byte, error) {
	b, err := decodeFormattedHex(s)
	if err != nil {
		return nil, err
	}
	return identifier(b, 2, 255)
}

// parseDUID is DUID::fromText (3 to 130 bytes); v4 commands only check it
// before refusing a DUID query.
func parseDUID(s string) ([]byte, error) {
	b, err := decodeFormattedHex(s)
	if err != nil {
		return nil, err
	}
	return identifier(b, 3, 130)
}

// queryKind is how lease4-get and lease4-del name a lease.
type queryKind int

const (
	byAddr queryKind = iota
	byHWAddr
	byClientID
	byDUID
)

// query is the parsed argument set of lease4-get and lease4-del: an
// address, or an identifier within a subnet.
type query struct {
	kind       queryKind
	addr       netip.Addr
	subnetID   uint32
	ident      []byte
	updateDDNS bool
}

// parseQuery is Kea's LeaseCmdsImpl::getParameters for v4.
func parseQuery(a args, present bool) (query, error) {
	var q query
	if !present || a == nil {
		return q, errNotMap
	}
	if v, ok := a["update-ddns"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return q, kea("'update-ddns' is not a boolean")
		}
		q.updateDDNS = b
	}
	if v, ok := a["type"]; ok {
		switch t, _ := v.(string); t {
		case "IA_NA", "0", "IA_TA", "1", "IA_PD", "2", "V4", "3":
		default:
			return q, kea("Invalid lease type specified: %s, only supported values are: IA_NA, IA_TA, IA_PD and V4", t)
		}
	}
	if v, ok := a["ip-address"]; ok {
		s, isStr := v.(string)
		if !isStr {
			return q, kea("'ip-address' is not a string.")
		}
		addr, err := parseAddr(s)
		if err != nil {
			return q, err
		}
		if !addr.Is4() {
			return q, kea("Invalid IPv4 address specified: %s", s)
		}
		q.addr = addr
		return q, nil
	}
	v, ok := a["subnet-id"]
	if !ok {
		return q, kea("Mandatory 'subnet-id' parameter missing.")
	}
	id, ok := integer(v)
	if !ok {
		return q, kea("'subnet-id' parameter is not integer.")
	}
	// Kea keeps the low 32 bits of an out-of-range id; such an id names
	// no subnet, so the lookup finds nothing either way.
	q.subnetID = uint32(id)
	typ, ok := a["identifier-type"].(string)
	if !ok {
		return q, kea("No 'ip-address' provided and 'identifier-type' is either missing or not a string.")
	}
	ident, ok := a["identifier"].(string)
	if !ok {
		return q, kea("No 'ip-address' provided and 'identifier' is either missing or not a string.")
	}
	var err error
	switch typ {
	case "address":
		// Kea accepts it and then looks up the unspecified address.
		q.addr = netip.IPv4Unspecified()
	case "hw-address":
		q.kind = byHWAddr
		q.ident, err = parseHWAddr(ident)
	case "client-id":
		q.kind = byClientID
		q.ident, err = parseClientID(ident)
	case "duid":
		q.kind = byDUID
		_, err = parseDUID(ident)
	default:
		return q, kea("Incorrect identifier type: %s, the only supported values are: address, hw-address, duid", typ)
	}
	return q, err
}

// pageArgs is a parsed lease4-get-page request.
type pageArgs struct {
	from  netip.Addr
	limit int
}

// parsePage checks lease4-get-page's from and limit as Kea does.
func parsePage(a args, present bool) (pageArgs, error) {
	var p pageArgs
	if !present || a == nil {
		return p, kea("no parameters specified for the lease4-get-page command")
	}
	v, ok := a["from"]
	if !ok {
		return p, kea("'from' parameter not specified")
	}
	s, ok := v.(string)
	if !ok {
		return p, kea("'from' parameter must be a string")
	}
	if s == "start" {
		p.from = netip.IPv4Unspecified()
	} else {
		addr, err := parseAddr(s)
		if err != nil {
			return p, kea("'from' parameter value is neither 'start' keyword nor a valid IPv4 address")
		}
		if !addr.Is4() {
			return p, kea("'from' parameter value %s is not an IPv4 address", addr)
		}
		p.from = addr
	}
	v, ok = a["limit"]
	if !ok {
		return p, kea("'limit' parameter not specified")
	}
	n, ok := integer(v)
	if !ok {
		return p, kea("'limit' parameter must be a number")
	}
	switch {
	case n == 0:
		return p, kea("page size of retrieved leases must not be 0")
	case n < 0 || n > math.MaxUint32:
		// A negative limit wraps to a huge size_t in Kea.
		return p, kea("page size of retrieved leases must not be greater than %d", uint32(math.MaxUint32))
	}
	p.limit = int(n)
	return p, nil
}
