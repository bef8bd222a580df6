package logging

import (
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// Text returns Kea's text for a message ID, with its %1, %2 ... placeholders.
func Text(id string) (string, bool) {
	t, ok := keaMessages[id]
	return t, ok
}

// appendMessage appends "ID text" to b, with text's placeholders replaced by
// args in order. A placeholder without an argument stays as it is; arguments
// without a placeholder, and all arguments of an ID the catalog does not
// know, are appended after the text so nothing is lost.
func appendMessage(b []byte, id string, args []any) []byte {
	b = append(b, id...)
	text, ok := keaMessages[id]
	if !ok {
		for i, a := range args {
			if i == 0 {
				b = append(b, ' ')
			} else {
				b = append(b, ", "...)
			}
			b = appendArg(b, a)
		}
		return b
	}
	b = append(b, ' ')
	return expand(b, text, args)
}

// expand appends text with %1, %2 ... replaced by args, then any arguments
// no placeholder used.
func expand(b []byte, text string, args []any) []byte {
	used := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '%' || i+1 == len(text) || text[i+1] < '1' || text[i+1] > '9' {
			b = append(b, c)
			continue
		}
		j := i + 1
		n := 0
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			if n <= len(args) { // stop growing past any argument: no overflow
				n = n*10 + int(text[j]-'0')
			}
			j++
		}
		if n > len(args) {
			b = append(b, text[i:j]...)
		} else {
			b = appendArg(b, args[n-1])
			used = max(used, n)
		}
		i = j - 1
	}
	for _, a := range args[used:] {
		b = append(b, ", "...)
		b = appendArg(b, a)
	}
	return b
}

// appendArg formats one argument. It switches on concrete types only and
// never calls a method through an interface, so the arguments of a call do
// not escape and a disabled call allocates nothing (see doc.go).
func appendArg(b []byte, a any) []byte {
	switch v := a.(type) {
	case string:
		return append(b, v...)
	case []byte:
		return append(b, v...)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int8:
		return strconv.AppendInt(b, int64(v), 10)
	case int16:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case bool:
		return strconv.AppendBool(b, v)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case netip.Addr:
		return v.AppendTo(b)
	case netip.Prefix:
		return v.AppendTo(b)
	case netip.AddrPort:
		return v.AppendTo(b)
	case net.HardwareAddr:
		return lease.AppendHex(b, v)
	case time.Duration:
		return append(b, v.String()...)
	case time.Time:
		return v.AppendFormat(b, "2006-01-02 15:04:05.000")
	case nil:
		return append(b, "(nil)"...)
	default:
		return append(b, "%!(unsupported)"...)
	}
}
