package ha

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// A primary sends one command per lease change, thousands a second, and
// encoding/json spent more time on them than the lease's own write:
// reflection over the envelope, then a second pass compacting what
// MarshalJSON returned. AppendJSON writes the same bytes directly; values
// of other types still go through encoding/json.

// AppendJSON appends c as MarshalJSON encodes it: byte for byte what
// encoding/json makes of Kea's envelope (keys in order, arguments' keys
// sorted, HTML characters escaped).
func (c Command) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"command":`...)
	b = appendString(b, c.Command)
	b = append(b, `,"service":["dhcp4"]`...)
	if c.lease != nil {
		var err error
		b = append(b, `,"arguments":`...)
		if b, err = appendLeaseArgs(b, c.lease); err != nil {
			return nil, err
		}
	} else if len(c.Arguments) > 0 {
		var err error
		b = append(b, `,"arguments":`...)
		if b, err = appendMap(b, c.Arguments); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendMap(b []byte, m map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case []Command:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, c := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = c.AppendJSON(b); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

// appendString writes s as a JSON string. Plain printable ASCII, which
// addresses, hex identifiers and command names are, is copied; anything
// encoding/json would escape goes through it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
