package option

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Encode turns an option-data `data` text into the option's payload, as
// Kea does.
//
// With csvFormat true the text is split at commas into values (a
// backslash keeps a comma or a backslash literal, empty values are
// dropped, each value is trimmed). A single-valued option takes the first
// value and, like Kea, ignores the rest; an array takes them all; a record
// takes one per field, an array record repeats its last field. Binary
// values are plain hex ("0a0b").
//
// With csvFormat false the text is the raw payload: hex as "0a0b0c",
// "0x0a0b0c", "0a:0b:0c" or "0a 0b 0c" (odd digits get a leading zero),
// or text in single quotes ('abc'). It must still fit the definition.
//
// The payload is checked as Kea checks it before accepting the option.
// Unlike Kea, an IPv6 address in an IPv4 field and an IPv6 prefix longer
// than 128 are errors rather than silently odd payloads.
func Encode(def Def, data string, csvFormat bool) ([]byte, error) {
	var b []byte
	var err error
	if csvFormat {
		b, err = encodeCSV(def, data)
	} else {
		b, err = parseRaw(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", def.Name, err)
	}
	if def.Space == SpaceDHCP4 && def.Code == 125 && len(b) == 4 {
		// Option 125 is an enterprise number, then the length of its
		// sub-options (RFC 3925); Kea sends that length, 0, after a bare
		// enterprise number.
		b = append(b, 0)
	}
	return checkPayload(def, b)
}

// encodeCSV writes the comma-separated values of data for def.
func encodeCSV(def Def, data string) ([]byte, error) {
	if def.Type == Internal {
		return encodeInternal(def, data)
	}
	values := tokens(data)
	var out []byte
	switch {
	case def.Type == Empty:
		if len(values) > 0 {
			return nil, fmt.Errorf("carries no data, got %q; leave \"data\" empty or out", data)
		}
		return nil, nil
	case def.Type == Record:
		fields := def.RecordTypes
		if len(values) < len(fields) {
			return nil, fmt.Errorf("%d values for a record of %d fields; expected %s", len(values), len(fields), expect(def))
		}
		if !def.Array {
			values = values[:len(fields)]
		}
		for i, v := range values {
			b, err := encodeValue(fields[min(i, len(fields)-1)], v)
			if err != nil {
				return nil, fmt.Errorf("%w; expected %s", err, expect(def))
			}
			out = append(out, b...)
		}
		return out, nil
	case !def.Array:
		if len(values) == 0 {
			return nil, fmt.Errorf("no value; expected %s", expect(def))
		}
		values = values[:1]
	}
	for _, v := range values {
		b, err := encodeValue(def.Type, v)
		if err != nil {
			return nil, fmt.Errorf("%w; expected %s", err, expect(def))
		}
		out = append(out, b...)
	}
	return out, nil
}

// expect describes the data a definition wants, for error messages.
func expect(def Def) string {
	if def.Type == Record {
		parts := make([]string, len(def.RecordTypes))
		for i, t := range def.RecordTypes {
			parts[i] = string(t)
		}
		s := "comma-separated values for " + strings.Join(parts, ", ")
		if def.Array {
			s += ", the last one repeated as often as needed"
		}
		return s
	}
	ex := examples[def.Type]
	if def.Array {
		return fmt.Sprintf("a comma-separated list like %q", ex+","+ex2[def.Type])
	}
	return fmt.Sprintf("a %s like %q", def.Type, ex)
}

var examples = map[Type]string{
	Binary: "0a0b0c", Boolean: "true", Int8: "-8", Int16: "-300", Int32: "-3600",
	Uint8: "8", Uint16: "1500", Uint32: "86400", IPv4Address: "192.168.1.1",
	IPv6Address: "2001:db8::1", IPv6Prefix: "2001:db8::/32", PSID: "3/4",
	String: "text", Tuple: "text", FQDN: "example.com",
}

var ex2 = map[Type]string{
	Boolean: "false", Int8: "8", Int16: "300", Int32: "3600", Uint8: "9", Uint16: "576",
	Uint32: "3600", IPv4Address: "192.168.1.2", IPv6Address: "2001:db8::2",
	IPv6Prefix: "2001:db8:1::/48", PSID: "0/0", Tuple: "more", FQDN: "example.org",
}

// tokens splits at commas the way Kea's option-data parser does: a
// backslash before a comma or a backslash keeps it literally, a backslash
// before anything else stays, and empty values are dropped. Values are
// then trimmed of spaces, tabs and newlines, so a blank one is "" (an
// error for most types).
func tokens(s string) []string {
	var out []string
	var cur []byte
	in, escaped := false, false
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Trim(string(cur), " \t\n"))
		}
		cur, in = cur[:0], false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ',' && escaped:
			cur, escaped = append(cur, c), false
		case c == ',':
			if in {
				flush()
			}
		case c == '\\' && escaped:
			cur, escaped = append(cur, c), false
		case c == '\\':
			in, escaped = true, true
		case escaped:
			cur, escaped = append(cur, '\\', c), false
		default:
			cur, in = append(cur, c), true
		}
	}
	if escaped {
		cur = append(cur, '\\')
	}
	flush()
	return out
}

// encodeValue writes one trimmed value of a non-record type.
func encodeValue(t Type, v string) ([]byte, error) {
	switch t {
	case IPv4Address:
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("%q is not an IPv4 address", v)
		}
		b := a.As4()
		return b[:], nil
	case IPv6Address:
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IPv6 address", v)
		}
		b := a.As16()
		return b[:], nil
	case IPv6Prefix:
		return encodePrefix(v)
	case PSID:
		return encodePSID(v)
	case Boolean:
		return encodeBool(v)
	case Uint8, Uint16, Uint32, Int8, Int16, Int32:
		n, err := parseInt(t, v)
		if err != nil {
			return nil, err
		}
		return putInt(t, n), nil
	case String:
		return []byte(v), nil
	case FQDN:
		return EncodeFQDN(v)
	case Binary:
		b, err := hex.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not hex digits in pairs like 0a0b0c", v)
		}
		return b, nil
	case Tuple:
		if len(v) > 255 {
			return nil, fmt.Errorf("tuple of %d bytes is longer than 255", len(v))
		}
		return append([]byte{byte(len(v))}, v...), nil
	}
	return nil, fmt.Errorf("a %s value cannot be given as text", t)
}

// encodeBool reads Kea's booleans: true or false in any case, 1 or 0.
func encodeBool(v string) ([]byte, error) {
	switch {
	case strings.EqualFold(v, "true"):
		return []byte{1}, nil
	case strings.EqualFold(v, "false"):
		return []byte{0}, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || (n != 0 && n != 1) {
		return nil, fmt.Errorf("%q is not a boolean; use true or false", v)
	}
	return []byte{byte(n)}, nil
}

// intRange gives a type's size in bytes and its bounds.
func intRange(t Type) (size int, lo, hi int64) {
	switch t {
	case Int8:
		return 1, math.MinInt8, math.MaxInt8
	case Int16:
		return 2, math.MinInt16, math.MaxInt16
	case Int32:
		return 4, math.MinInt32, math.MaxInt32
	case Uint8:
		return 1, 0, math.MaxUint8
	case Uint16:
		return 2, 0, math.MaxUint16
	}
	return 4, 0, math.MaxUint32
}

// parseInt reads an integer as Kea does: decimal first, then hex with or
// without 0x (so "5dc" is 1500), then a range check for the type.
func parseInt(t Type, v string) (int64, error) {
	_, lo, hi := intRange(t)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		n, err = parseHexInt(v)
	}
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a %s (%d to %d)", v, t, lo, hi)
	}
	return n, nil
}

// parseHexInt reads a signed hex number with an optional 0x.
func parseHexInt(v string) (int64, error) {
	neg := false
	switch {
	case strings.HasPrefix(v, "-"):
		neg, v = true, v[1:]
	case strings.HasPrefix(v, "+"):
		v = v[1:]
	}
	if len(v) > 2 && (v[:2] == "0x" || v[:2] == "0X") {
		v = v[2:]
	}
	if v == "" || v[0] == '+' || v[0] == '-' {
		return 0, errors.New("not hex")
	}
	u, err := strconv.ParseUint(v, 16, 64)
	if err != nil || u > math.MaxInt64 {
		return 0, errors.New("not hex")
	}
	if neg {
		return -int64(u), nil
	}
	return int64(u), nil
}

func putInt(t Type, n int64) []byte {
	size, _, _ := intRange(t)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return b[8-size:]
}

// encodePrefix writes "2001:db8::/32" as the prefix length and the
// significant octets, the bits past the length cleared.
func encodePrefix(v string) ([]byte, error) {
	v = strings.NewReplacer(" ", "", "\t", "").Replace(v)
	addr, length, ok := strings.Cut(v, "/")
	a, err := netip.ParseAddr(addr)
	if !ok || err != nil || !a.Is6() || a.Zone() != "" {
		return nil, fmt.Errorf("%q is not an IPv6 prefix", v)
	}
	n, err := parseInt(Uint8, length)
	if err != nil || n > 128 {
		return nil, fmt.Errorf("%q: prefix length %q is not 0 to 128", v, length)
	}
	bytes := a.As16()
	out := append([]byte{byte(n)}, bytes[:(n+7)/8]...)
	if pad := (8 - n%8) % 8; pad > 0 {
		out[len(out)-1] = out[len(out)-1] >> pad << pad
	}
	return out, nil
}

// encodePSID writes "psid/length" (RFC 7597 port set ID) as the length
// and the PSID in the top bits of a 16-bit field.
func encodePSID(v string) ([]byte, error) {
	v = strings.NewReplacer(" ", "", "\t", "").Replace(v)
	p, l, ok := strings.Cut(v, "/")
	if !ok {
		return nil, fmt.Errorf("%q is not a PSID; write psid/length like \"3/4\"", v)
	}
	psid, err := parseInt(Uint16, p)
	if err != nil {
		return nil, fmt.Errorf("%q: PSID %q is not 0 to 65535", v, p)
	}
	n, err := parseInt(Uint8, l)
	if err != nil || n > 16 {
		return nil, fmt.Errorf("%q: PSID length %q is not 0 to 16", v, l)
	}
	if n > 0 && psid > 0xffff>>(16-n) {
		return nil, fmt.Errorf("%q: PSID %d does not fit in %d bits", v, psid, n)
	}
	var wire uint16
	if n > 0 {
		wire = uint16(psid << (16 - n))
	}
	return []byte{byte(n), byte(wire >> 8), byte(wire)}, nil
}

// parseRaw reads the data of a csv-format false option: text in single
// quotes, or hex.
func parseRaw(s string) ([]byte, error) {
	if t := strings.TrimSpace(s); len(t) > 1 && t[0] == '\'' && t[len(t)-1] == '\'' {
		if inner := strings.TrimSpace(t[1 : len(t)-1]); inner != "" {
			return []byte(inner), nil
		}
	}
	return ParseHex(s)
}

// ParseHex reads hex the way Kea reads csv-format false data: octets
// separated by colons ("0a:b:0c") or by single spaces, each of one or two
// digits; or contiguous digits with an optional 0x, where an odd count gets
// a leading zero. Empty text is no data.
func ParseHex(s string) ([]byte, error) {
	for _, sep := range []string{":", " "} {
		if !strings.Contains(s, sep) {
			continue
		}
		var out []byte
		for _, p := range strings.Split(s, sep) {
			n, err := strconv.ParseUint(p, 16, 8)
			if p == "" || len(p) > 2 || err != nil {
				return nil, fmt.Errorf("%q is not hex octets separated by %q like \"0a%s0b%s0c\"", s, sep, sep, sep)
			}
			out = append(out, byte(n))
		}
		return out, nil
	}
	h := s
	if len(s) > 2 && s[:2] == "0x" {
		h = s[2:]
	}
	if len(s)%2 == 1 {
		h = "0" + h
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%q is not hex like \"0a0b0c\" or \"0a:0b:0c\"", s)
	}
	return b, nil
}

// EncodeFQDN writes a domain name in DNS wire format: RFC 1035 labels
// ending with the root label. A trailing dot is optional; "\." and "\065"
// escapes are read as in master files. The root name alone is refused, as
// Kea refuses it in options.
func EncodeFQDN(name string) ([]byte, error) {
	if name == "" || name == "." {
		return nil, fmt.Errorf("%q is not a domain name; expected a name like \"example.com\"", name)
	}
	var out []byte
	var label []byte
	end := func() error {
		if len(label) == 0 {
			return fmt.Errorf("%q is not a domain name: empty label", name)
		}
		if len(label) > 63 {
			return fmt.Errorf("%q is not a domain name: label %q is longer than 63 bytes", name, label)
		}
		out = append(append(out, byte(len(label))), label...)
		label = label[:0]
		return nil
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if err := end(); err != nil {
				return nil, err
			}
		case c == '\\' && i+3 < len(name) && isDigits(name[i+1:i+4]):
			n, _ := strconv.Atoi(name[i+1 : i+4])
			if n > 255 {
				return nil, fmt.Errorf("%q is not a domain name: escape \\%s is above 255", name, name[i+1:i+4])
			}
			label = append(label, byte(n))
			i += 3
		case c == '\\' && i+1 < len(name):
			label = append(label, name[i+1])
			i++
		case c == '\\':
			return nil, fmt.Errorf("%q is not a domain name: it ends in a lone backslash", name)
		default:
			label = append(label, c)
		}
	}
	if len(label) > 0 {
		if err := end(); err != nil {
			return nil, err
		}
	}
	out = append(out, 0)
	if len(out) > 255 {
		return nil, fmt.Errorf("domain name %q is longer than 255 bytes", name)
	}
	return out, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// encodeInternal handles Kea's options with their own text forms.
func encodeInternal(def Def, data string) ([]byte, error) {
	if def.Space == SpaceDHCP4 && def.Code == 121 {
		return encodeRoutes(data)
	}
	return nil, fmt.Errorf("twinleaf cannot read this option as text; give it as hex with \"csv-format\": false")
}

// encodeRoutes handles option 121 in Kea 3's text form,
// "10.0.0.0/8 - 192.0.2.1, 0.0.0.0/0 - 192.0.2.1", into RFC 3442
// descriptors. Like Kea, the destination's significant octets are sent as
// written.
func encodeRoutes(data string) ([]byte, error) {
	const want = `; expected comma-separated routes like "10.0.0.0/8 - 192.0.2.1, 0.0.0.0/0 - 192.0.2.254"`
	var out []byte
	for _, r := range strings.Split(data, ",") {
		if strings.TrimSpace(r) == "" {
			continue
		}
		var parts []string
		for _, p := range strings.Split(r, "-") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("%q is not \"prefix - router\""+want, strings.TrimSpace(r))
		}
		addr, length, ok := strings.Cut(parts[0], "/")
		dst, err := netip.ParseAddr(addr)
		if !ok || err != nil || !dst.Is4() {
			return nil, fmt.Errorf("%q is not an IPv4 prefix"+want, parts[0])
		}
		n, err := strconv.ParseUint(length, 10, 8)
		if err != nil || n > 32 {
			return nil, fmt.Errorf("%q: prefix length %q is not 0 to 32"+want, parts[0], length)
		}
		gw, err := netip.ParseAddr(parts[1])
		if err != nil || !gw.Is4() {
			return nil, fmt.Errorf("%q is not an IPv4 router address"+want, parts[1])
		}
		d, g := dst.As4(), gw.As4()
		out = append(out, byte(n))
		out = append(out, d[:(n+7)/8]...)
		out = append(out, g[:]...)
	}
	if len(out) == 0 {
		return nil, errors.New("no routes" + want)
	}
	return out, nil
}
