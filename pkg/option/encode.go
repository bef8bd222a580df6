package option

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Encode turns an option-data `data` text into the option's payload.
// With csvFormat false the text is hex ("0a0b", "0a:0b", "0a 0b", with an
// optional 0x); otherwise it is the comma-separated values the definition
// calls for.
func Encode(def Def, data string, csvFormat bool) ([]byte, error) {
	if !csvFormat || def.Type == Binary {
		b, err := ParseHex(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", def.Name, err)
		}
		return b, nil
	}
	switch def.Type {
	case Empty:
		if strings.TrimSpace(data) != "" {
			return nil, fmt.Errorf("%s carries no data; leave \"data\" empty or out", def.Name)
		}
		return nil, nil
	case Internal:
		return encodeRoutes(def, data)
	case String:
		if !def.Array {
			// A string option is its whole text, commas included.
			if data == "" {
				return nil, fmt.Errorf("%s: empty string; give a value", def.Name)
			}
			return []byte(data), nil
		}
	}
	values := splitCSV(data)
	var types []Type
	if def.Type == Record {
		types = def.RecordTypes
		if len(values) < len(types) || (!def.Array && len(values) > len(types)) {
			return nil, fmt.Errorf("%s: %d values for a record of %d fields (%s); give them comma-separated in that order",
				def.Name, len(values), len(types), def)
		}
	} else {
		if !def.Array && len(values) != 1 {
			return nil, fmt.Errorf("%s: %d values, want exactly one %s", def.Name, len(values), def.Type)
		}
		if def.Array && len(values) == 1 && values[0] == "" {
			return nil, fmt.Errorf("%s: empty; want a comma-separated list of %s values", def.Name, def.Type)
		}
		types = []Type{def.Type}
	}
	var out []byte
	for i, v := range values {
		t := types[min(i, len(types)-1)]
		b, err := encodeValue(t, v)
		if err != nil {
			if def.Array && def.Type == IPv4Address {
				return nil, fmt.Errorf("%s: %v; expected a comma-separated list like \"192.0.2.1,192.0.2.2\"", def.Name, err)
			}
			return nil, fmt.Errorf("%s: %v", def.Name, err)
		}
		out = append(out, b...)
	}
	return out, nil
}

// splitCSV splits on commas not escaped with a backslash, trimming
// spaces, as Kea's option-data parser does.
func splitCSV(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case s[i] == ',':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

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
		if err != nil || !a.Is6() {
			return nil, fmt.Errorf("%q is not an IPv6 address", v)
		}
		b := a.As16()
		return b[:], nil
	case Boolean:
		switch strings.ToLower(v) {
		case "true", "1":
			return []byte{1}, nil
		case "false", "0":
			return []byte{0}, nil
		}
		return nil, fmt.Errorf("%q is not a boolean; use true or false", v)
	case Uint8, Uint16, Uint32, Int8, Int16, Int32:
		return encodeInt(t, v)
	case String:
		return []byte(v), nil
	case FQDN:
		return EncodeFQDN(v)
	case Binary:
		return ParseHex(v)
	case Tuple:
		if len(v) > 255 {
			return nil, fmt.Errorf("tuple %q longer than 255 bytes", v)
		}
		return append([]byte{byte(len(v))}, v...), nil
	}
	return nil, fmt.Errorf("values of type %s are supported by Kea, not yet by twinleaf", t)
}

func encodeInt(t Type, v string) ([]byte, error) {
	bits := map[Type]int{Uint8: 8, Uint16: 16, Uint32: 32, Int8: 8, Int16: 16, Int32: 32}[t]
	signed := t == Int8 || t == Int16 || t == Int32
	var u uint64
	if signed {
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%q is not a %s (%d to %d)", v, t, -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1)
		}
		u = uint64(n)
	} else {
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%q is not a %s (0 to %d)", v, t, uint64(math.MaxUint64)>>(64-bits))
		}
		u = n
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, u)
	return b[8-bits/8:], nil
}

// ParseHex reads Kea's hex forms: contiguous, colon- or space-separated
// octets, with an optional 0x prefix; empty is no data.
func ParseHex(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if s == "" {
		return nil, nil
	}
	if strings.ContainsAny(s, ": ") {
		var out []byte
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ' ' }) {
			if len(p) > 2 {
				return nil, fmt.Errorf("%q is not hex octets like 0a:0b:0c", s)
			}
			b, err := strconv.ParseUint(p, 16, 8)
			if err != nil {
				return nil, fmt.Errorf("%q is not hex octets like 0a:0b:0c", s)
			}
			out = append(out, byte(b))
		}
		return out, nil
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not hex like 0a0b0c", s)
	}
	return b, nil
}

// EncodeFQDN writes a domain name in DNS wire format (RFC 1035 labels,
// ending with the root label).
func EncodeFQDN(name string) ([]byte, error) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if name == "" {
		return nil, fmt.Errorf("empty domain name")
	}
	var out []byte
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return nil, fmt.Errorf("%q is not a domain name: labels are 1 to 63 characters", name)
		}
		out = append(out, byte(len(label)))
		out = append(out, label...)
	}
	if len(out)+1 > 255 {
		return nil, fmt.Errorf("domain name %q longer than 255 bytes", name)
	}
	return append(out, 0), nil
}

// encodeRoutes handles option 121 in Kea 3's text form:
// "10.0.0.0/8 - 192.0.2.1, 0.0.0.0/0 - 192.0.2.1" (RFC 3442 encoding).
func encodeRoutes(def Def, data string) ([]byte, error) {
	var out []byte
	for _, r := range strings.Split(data, ",") {
		dst, gw, ok := strings.Cut(r, "-")
		if !ok {
			return nil, fmt.Errorf("%s: %q: want \"prefix - router\", e.g. \"10.0.0.0/8 - 192.0.2.1\"", def.Name, strings.TrimSpace(r))
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(dst))
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("%s: %q is not an IPv4 prefix", def.Name, strings.TrimSpace(dst))
		}
		g, err := netip.ParseAddr(strings.TrimSpace(gw))
		if err != nil || !g.Is4() {
			return nil, fmt.Errorf("%s: %q is not an IPv4 router address", def.Name, strings.TrimSpace(gw))
		}
		p = p.Masked()
		a := p.Addr().As4()
		out = append(out, byte(p.Bits()))
		out = append(out, a[:(p.Bits()+7)/8]...)
		gb := g.As4()
		out = append(out, gb[:]...)
	}
	return out, nil
}
