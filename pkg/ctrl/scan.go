package ctrl

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// errSyntax is any JSON the one-pass readers below refuse; callers that
// need encoding/json's words for it read the input again with it.
var errSyntax = errors.New("ctrl: not valid JSON")

// maxDepth bounds nesting, as encoding/json does, so a hostile body cannot
// exhaust the stack.
const maxDepth = 10000

// ObjectMembers reads b, a JSON object with optional surrounding white
// space, in one pass, calling fn with each member's key (unquoted) and
// raw value in order. It accepts exactly what encoding/json accepts as an
// object, so it can stand in for decoding into map[string]json.RawMessage
// where that is too slow: HA's lease update batches arrive thousands a
// second, and encoding/json reads each byte several times. An error from
// fn ends the reading and is returned.
func ObjectMembers(b []byte, fn func(key string, val []byte) error) error {
	i := skipSpace(b, 0)
	end, err := members(b, i, 0, fn)
	if err != nil {
		return err
	}
	if skipSpace(b, end) != len(b) {
		return errSyntax
	}
	return nil
}

// ArrayElements is ObjectMembers for a JSON array: fn gets each element's
// raw value in order.
func ArrayElements(b []byte, fn func(val []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return errSyntax
	}
	end, err := elements(b, i, 0, fn)
	if err != nil {
		return err
	}
	if skipSpace(b, end) != len(b) {
		return errSyntax
	}
	return nil
}

// ObjectFields reads b, a JSON object, as encoding/json decodes it into a
// struct whose fields are tagged with names: vals[i] is the raw value of
// names[i] (the last one when repeated), nil when absent; other keys are
// ignored. encoding/json also matches keys that differ from a name only
// in case; ObjectFields refuses such a key (errSyntax) rather than guess,
// so its caller can fall back to encoding/json itself.
func ObjectFields(b []byte, names ...string) (vals [][]byte, err error) {
	vals = make([][]byte, len(names))
	err = ObjectMembers(b, func(k string, v []byte) error {
		for i, n := range names {
			switch {
			case k == n:
				vals[i] = v
				return nil
			case strings.EqualFold(k, n):
				return errSyntax
			}
		}
		return nil
	})
	return vals, err
}

// StringValue is the JSON string v (quotes included) as encoding/json
// decodes it: a plain string is sliced, one with escapes or invalid UTF-8
// (which encoding/json turns into U+FFFD) is decoded by encoding/json.
// ok is false when v is not a string.
func StringValue(v []byte) (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
		return string(v[1 : len(v)-1]), true
	}
	return s, json.Unmarshal(v, &s) == nil
}

// members reads the object starting at b[i] ('{'), calling fn (if not
// nil) per member, and returns the offset after its '}'.
func members(b []byte, i, depth int, fn func(string, []byte) error) (int, error) {
	if i >= len(b) || b[i] != '{' || depth >= maxDepth {
		return 0, errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errSyntax
		}
		kstart := i
		kend, err := str(b, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, errSyntax
		}
		i = skipSpace(b, i+1)
		vend, err := value(b, i, depth+1)
		if err != nil {
			return 0, err
		}
		if fn != nil {
			k, ok := StringValue(b[kstart:kend])
			if !ok {
				return 0, errSyntax
			}
			if err := fn(k, b[i:vend]); err != nil {
				return 0, err
			}
		}
		var done bool
		if i, done, err = next(b, vend, '}'); err != nil || done {
			return i, err
		}
	}
}

// value checks the JSON value starting at b[i] and returns where it ends.
func value(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch c := b[i]; {
	case c == '{':
		return members(b, i, depth, nil)
	case c == '[':
		return elements(b, i, depth, nil)
	case c == '"':
		return str(b, i)
	case c == '-' || (c >= '0' && c <= '9'):
		return number(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return 0, errSyntax
}

// elements checks the array starting at b[i] ('['), calling fn (if not
// nil) per element, and returns the offset after its ']'.
func elements(b []byte, i, depth int, fn func([]byte) error) (int, error) {
	if depth >= maxDepth {
		return 0, errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		end, err := value(b, i, depth+1)
		if err != nil {
			return 0, err
		}
		if fn != nil {
			if err := fn(b[i:end]); err != nil {
				return 0, err
			}
		}
		var done bool
		if i, done, err = next(b, end, ']'); err != nil || done {
			return i, err
		}
	}
}

// next reads what follows a member or an element ending at b[i]: a comma,
// giving the offset of the next one, or the closing bracket, giving the
// offset after it with done set.
func next(b []byte, i int, closing byte) (int, bool, error) {
	i = skipSpace(b, i)
	switch {
	case i >= len(b):
		return 0, false, errSyntax
	case b[i] == ',':
		return skipSpace(b, i+1), false, nil
	case b[i] == closing:
		return i + 1, true, nil
	}
	return 0, false, errSyntax
}

// str checks the string starting at b[i] ('"') and returns the offset
// after its closing quote.
func str(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return 0, errSyntax
		case c == '\\':
			i++
			if i >= len(b) {
				return 0, errSyntax
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return 0, errSyntax
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return 0, errSyntax
					}
				}
				i += 4
			default:
				return 0, errSyntax
			}
		}
	}
	return 0, errSyntax
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// NumberEnd checks JSON's number grammar from b[i] and returns where the
// number ends; the lease commands' flat reader shares it.
func NumberEnd(b []byte, i int) (int, bool) {
	end, err := number(b, i)
	return end, err == nil
}

// number checks JSON's number grammar from b[i].
func number(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, errSyntax
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, errSyntax
		}
		i = j
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errSyntax
	}
	return i + len(lit), nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
