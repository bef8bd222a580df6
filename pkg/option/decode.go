package option

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Decode writes a payload in the text form Encode reads with csvFormat
// true: values joined by ", ", commas and backslashes in strings escaped,
// domain names with a trailing dot. Encoding the text again gives the same
// payload. It fails when the payload does not fit the definition.
func Decode(def Def, payload []byte) (string, error) {
	s, err := decode(def, payload, true)
	if err != nil {
		return "", fmt.Errorf("%s: %w", def.Name, err)
	}
	return s, nil
}

// decode writes p as text. Kea checks hex payloads for their lengths only,
// so with strict false the value checks a text form needs are skipped and
// bytes after the last field are allowed.
func decode(def Def, p []byte, strict bool) (string, error) {
	switch {
	case def.Type == Empty:
		if len(p) > 0 {
			if def.Encapsulate != "" {
				return "", fmt.Errorf("%d bytes of sub-options; decode them in space %q", len(p), def.Encapsulate)
			}
			return "", fmt.Errorf("carries no data, got %d bytes", len(p))
		}
		return "", nil
	case def.Type == Internal:
		if def.Space == SpaceDHCP4 && def.Code == 121 {
			return decodeRoutes(p)
		}
		return "", errors.New("twinleaf has no text form for this option")
	case def.Type == String && !def.Array:
		// Kea drops trailing NULs from a string option and refuses one that is
		// left empty.
		p = bytes.TrimRight(p, "\x00")
		if len(p) == 0 {
			return "", errors.New("empty string")
		}
	case def.Type == FQDN && def.Array && len(p) == 0:
		return "", errors.New("empty list of domain names")
	case def.Type == Tuple && def.Array && len(p) == 0:
		return "", errors.New("empty list of tuples")
	}
	fields := []Type{def.Type}
	if def.Type == Record {
		fields = def.RecordTypes
	}
	var vals []string
	for i := 0; ; i++ {
		if i >= len(fields) && (!def.Array || len(p) == 0) {
			break
		}
		t := fields[min(i, len(fields)-1)]
		if def.Array && def.Type != Record && len(p) == 0 {
			break
		}
		v, n, err := decodeValue(t, p, strict)
		if err != nil {
			return "", err
		}
		vals = append(vals, v)
		p = p[n:]
	}
	if len(p) > 0 && strict && !hasSubOptions(def) {
		return "", fmt.Errorf("%d bytes left over after the data of %s", len(p), def)
	}
	return strings.Join(vals, ", "), nil
}

// hasSubOptions tells whether bytes after the option's fields are
// sub-options rather than garbage: an encapsulating option, or option 125
// (enterprise number then sub-options).
func hasSubOptions(def Def) bool {
	return def.Encapsulate != "" || def.Space == SpaceDHCP4 && def.Code == 125
}

// fixedSize is the wire size of fixed-size types.
var fixedSize = map[Type]int{
	Boolean: 1, Int8: 1, Uint8: 1, Int16: 2, Uint16: 2, Int32: 4, Uint32: 4,
	IPv4Address: 4, IPv6Address: 16, PSID: 3,
}

// decodeValue reads one value of type t from the front of p and says how
// many bytes it took. String and binary take all of p.
func decodeValue(t Type, p []byte, strict bool) (string, int, error) {
	if n, ok := fixedSize[t]; ok && len(p) < n {
		return "", 0, fmt.Errorf("%s needs %d bytes, %d left", t, n, len(p))
	}
	switch t {
	case Boolean:
		if p[0] > 1 && strict {
			return "", 0, fmt.Errorf("boolean byte is %d, not 0 or 1", p[0])
		}
		return strconv.FormatBool(p[0] != 0), 1, nil
	case Int8:
		return strconv.Itoa(int(int8(p[0]))), 1, nil
	case Uint8:
		return strconv.Itoa(int(p[0])), 1, nil
	case Int16:
		return strconv.Itoa(int(int16(binary.BigEndian.Uint16(p)))), 2, nil
	case Uint16:
		return strconv.Itoa(int(binary.BigEndian.Uint16(p))), 2, nil
	case Int32:
		return strconv.Itoa(int(int32(binary.BigEndian.Uint32(p)))), 4, nil
	case Uint32:
		return strconv.FormatUint(uint64(binary.BigEndian.Uint32(p)), 10), 4, nil
	case IPv4Address:
		return netip.AddrFrom4([4]byte(p)).String(), 4, nil
	case IPv6Address:
		return netip.AddrFrom16([16]byte(p)).String(), 16, nil
	case PSID:
		n, v := int(p[0]), binary.BigEndian.Uint16(p[1:])
		if n > 16 {
			return "", 0, fmt.Errorf("PSID length %d is above 16", n)
		}
		if n == 0 {
			if v != 0 && strict {
				return "", 0, fmt.Errorf("PSID %#04x with length 0", v)
			}
			return "0/0", 3, nil
		}
		if v&(0xffff>>n) != 0 && strict {
			return "", 0, fmt.Errorf("PSID %#04x has bits set past its length %d", v, n)
		}
		return fmt.Sprintf("%d/%d", v>>(16-n), n), 3, nil
	case IPv6Prefix:
		if len(p) == 0 {
			return "", 0, errors.New("ipv6-prefix needs a length byte")
		}
		n := int(p[0])
		size := (n + 7) / 8
		if n > 128 || len(p) < 1+size {
			return "", 0, fmt.Errorf("ipv6-prefix of length %d in %d bytes", n, len(p))
		}
		var a [16]byte
		copy(a[:], p[1:1+size])
		pfx := netip.PrefixFrom(netip.AddrFrom16(a), n).Masked()
		if pfx.Addr().As16() != a && strict {
			return "", 0, fmt.Errorf("ipv6-prefix %s has bits set past its length", netip.AddrFrom16(a))
		}
		return pfx.String(), 1 + size, nil
	case String:
		return escape(p), len(p), nil
	case Binary:
		return hex.EncodeToString(p), len(p), nil
	case Tuple:
		if len(p) == 0 || len(p) < 1+int(p[0]) {
			return "", 0, errors.New("tuple truncated")
		}
		if p[0] == 0 {
			return "", 0, errors.New("empty tuple")
		}
		n := 1 + int(p[0])
		return escape(p[1:n]), n, nil
	case FQDN:
		return decodeFQDN(p)
	}
	return "", 0, fmt.Errorf("no text form for type %s", t)
}

// escape protects commas and backslashes from the comma splitting.
func escape(b []byte) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`).Replace(string(b))
}

// decodeFQDN reads one uncompressed domain name and writes it with a
// trailing dot; bytes other than letters, digits, '-' and '_' are written
// as \DDD escapes.
func decodeFQDN(p []byte) (string, int, error) {
	var sb strings.Builder
	i := 0
	for {
		if i >= len(p) {
			return "", 0, errors.New("domain name truncated")
		}
		n := int(p[i])
		if n == 0 {
			break
		}
		if n > 63 {
			return "", 0, fmt.Errorf("domain name label of length %d (compressed names are not supported)", n)
		}
		if i+1+n > len(p) {
			return "", 0, errors.New("domain name truncated")
		}
		for _, c := range p[i+1 : i+1+n] {
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
				sb.WriteByte(c)
			} else {
				fmt.Fprintf(&sb, `\%03d`, c)
			}
		}
		sb.WriteByte('.')
		i += 1 + n
	}
	if i == 0 {
		return "", 0, errors.New("root domain name")
	}
	if i+1 > 255 {
		return "", 0, errors.New("domain name longer than 255 bytes")
	}
	return sb.String(), i + 1, nil
}

// decodeRoutes writes RFC 3442 descriptors as Kea 3's text form.
func decodeRoutes(p []byte) (string, error) {
	if len(p) < 5 {
		return "", fmt.Errorf("%d bytes; a route takes at least 5", len(p))
	}
	var routes []string
	for len(p) > 0 {
		n := int(p[0])
		size := (n + 7) / 8
		if n > 32 || len(p) < 1+size+4 {
			return "", fmt.Errorf("route with prefix length %d truncated or invalid", n)
		}
		var d [4]byte
		copy(d[:], p[1:1+size])
		gw := netip.AddrFrom4([4]byte(p[1+size : 5+size]))
		routes = append(routes, fmt.Sprintf("%s/%d - %s", netip.AddrFrom4(d), n, gw))
		p = p[5+size:]
	}
	return strings.Join(routes, ", "), nil
}

// checkPayload makes sure a payload fits its definition, as Kea checks an
// option before accepting it, and returns the payload Kea would send. Like
// Kea it is lenient with hex: a boolean byte of 2, bits past a prefix or
// PSID length and bytes after the last field pass, and are sent as given.
func checkPayload(def Def, p []byte) ([]byte, error) {
	switch {
	case def.Type == Binary:
		return p, nil
	case def.Type == Empty && def.Encapsulate != "":
		return p, nil
	case def.Type == Empty:
		// Kea accepts hex for an empty option and sends none of it.
		return nil, nil
	case def.Type == Internal && !(def.Space == SpaceDHCP4 && def.Code == 121):
		return p, nil
	case def.Type == String && !def.Array:
		p = bytes.TrimRight(p, "\x00")
	}
	if _, err := decode(def, p, false); err != nil {
		return nil, fmt.Errorf("%s: %w", def.Name, err)
	}
	return p, nil
}
