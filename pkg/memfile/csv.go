// Package memfile keeps leases in Kea's memfile CSV format, so a lease
// file moves freely between Kea and twinleaf in both directions, and makes
// every lease change durable before the reply that grants it is sent.
package memfile

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// Columns is the lease4 schema Kea 2.4 and later (all of 3.x) write; Kea
// 2.2 writes the first eleven. Either version reads the other's files.
var Columns = []string{"address", "hwaddr", "client_id", "valid_lifetime", "expire", "subnet_id",
	"fqdn_fwd", "fqdn_rev", "hostname", "state", "user_context", "pool_id"}

// minColumns is how far a header must match the schema: Kea accepts files
// that stop anywhere from hostname on and fills the rest with defaults.
const minColumns = 9

// Header is the header line Kea 3.x writes, and twinleaf by default.
var Header = strings.Join(Columns, ",") + "\n"

// ErrRow describes one unusable row; loading skips it.
var ErrRow = errors.New("bad lease row")

// schema is the column layout of one file, from its header.
type schema struct {
	cols int // columns the header declares
}

// parseHeader checks a header line as Kea does: the names must match the
// schema in order, at least up to hostname. Fewer columns than the schema
// (an older Kea's file) are upgraded, more (a newer Kea's) downgraded.
func parseHeader(line string) (schema, error) {
	names := strings.Split(strings.TrimRight(line, "\r"), ",")
	if len(names) < minColumns {
		return schema{}, fmt.Errorf("header has %d columns, want at least %d (%s)", len(names), minColumns, strings.Join(Columns[:minColumns], ","))
	}
	for i, n := range names {
		if i >= len(Columns) {
			break
		}
		if n != Columns[i] {
			return schema{}, fmt.Errorf("header column %d is %q, want %q", i+1, n, Columns[i])
		}
	}
	return schema{cols: len(names)}, nil
}

// rowWidthOK is Kea's row-length rule: exact when the header matches the
// schema; when upgrading, anything from hostname up to the full schema;
// when downgrading, anything from the schema up to the header's width.
func (s schema) rowWidthOK(n int) bool {
	switch {
	case s.cols == len(Columns):
		return n == len(Columns)
	case s.cols < len(Columns):
		return n >= minColumns && n <= len(Columns)
	default:
		return n >= len(Columns) && n <= s.cols
	}
}

// parseRow reads one data row into a lease. A row with valid_lifetime 0
// is a deletion (Kea also writes released leases that way); the caller
// sees it as a lease with ValidLft 0.
func (s schema) parseRow(line string) (*lease.Lease, error) {
	f := strings.Split(strings.TrimRight(line, "\r"), ",")
	if !s.rowWidthOK(len(f)) {
		return nil, fmt.Errorf("%w: %d columns, the header has %d", ErrRow, len(f), s.cols)
	}
	col := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	l := &lease.Lease{}
	var err error
	if l.Addr, err = netip.ParseAddr(f[0]); err != nil || !l.Addr.Is4() {
		return nil, fmt.Errorf("%w: address %q is not an IPv4 address", ErrRow, f[0])
	}
	if l.HWAddr, err = ParseHex(f[1]); err != nil {
		return nil, fmt.Errorf("%w: hwaddr %q: %v", ErrRow, f[1], err)
	}
	if l.ClientID, err = ParseHex(f[2]); err != nil {
		return nil, fmt.Errorf("%w: client_id %q: %v", ErrRow, f[2], err)
	}
	valid, err := strconv.ParseUint(f[3], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: valid_lifetime %q: %v", ErrRow, f[3], err)
	}
	expire, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || expire < int64(valid) {
		return nil, fmt.Errorf("%w: expire %q is not a time after the valid lifetime", ErrRow, f[4])
	}
	l.ValidLft = uint32(valid)
	l.CLTT = time.Unix(expire-int64(valid), 0).UTC()
	sid, err := strconv.ParseUint(f[5], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: subnet_id %q: %v", ErrRow, f[5], err)
	}
	l.SubnetID = uint32(sid)
	if l.FqdnFwd, err = parseBool(f[6]); err != nil {
		return nil, fmt.Errorf("%w: fqdn_fwd: %v", ErrRow, err)
	}
	if l.FqdnRev, err = parseBool(f[7]); err != nil {
		return nil, fmt.Errorf("%w: fqdn_rev: %v", ErrRow, err)
	}
	l.Hostname = Unescape(f[8])
	if st := col(9); st != "" {
		n, err := strconv.ParseUint(st, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: state %q: %v", ErrRow, st, err)
		}
		l.State = lease.State(n)
	}
	if uc := col(10); uc != "" {
		if err := json.Unmarshal([]byte(Unescape(uc)), &l.UserContext); err != nil || l.UserContext == nil {
			return nil, fmt.Errorf("%w: user_context is not a JSON map", ErrRow)
		}
	}
	if p := col(11); p != "" {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: pool_id %q: %v", ErrRow, p, err)
		}
		l.PoolID = uint32(n)
	}
	if len(l.HWAddr) == 0 && len(l.ClientID) == 0 && l.State != lease.StateDeclined && l.ValidLft != 0 {
		return nil, fmt.Errorf("%w: neither hwaddr nor client_id, and not declined", ErrRow)
	}
	return l, nil
}

// ParseHex reads Kea's colon-separated hex with one or two digits per
// octet, as hwaddr and client_id columns and lease_cmds hold them; empty
// is allowed.
func ParseHex(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ":")
	b := make([]byte, len(parts))
	for i, p := range parts {
		if len(p) == 0 || len(p) > 2 {
			return nil, fmt.Errorf("octet %q is not one or two hex digits", p)
		}
		n, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return nil, fmt.Errorf("octet %q is not hex", p)
		}
		b[i] = byte(n)
	}
	return b, nil
}

func parseBool(s string) (bool, error) {
	switch s {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not 0 or 1", s)
}

// Format is the lease file layout a journal writes.
type Format int

const (
	// Kea3 is the 12-column layout of Kea 2.4 and all of 3.x.
	Kea3 Format = iota
	// Kea22 is Kea 2.2's 11-column layout, without pool_id, for a file
	// that Kea 2.2 may read again.
	Kea22
)

// columns is how many columns f writes.
func (f Format) columns() int {
	if f == Kea22 {
		return 11
	}
	return len(Columns)
}

// header is the header line f writes.
func (f Format) header() string {
	return strings.Join(Columns[:f.columns()], ",") + "\n"
}

// FormatRow renders a lease as the row Kea 3.x writes, newline included.
func FormatRow(l *lease.Lease) string { return Kea3.row(l) }

// row renders a lease in layout f, newline included.
func (f Format) row(l *lease.Lease) string { return string(f.appendRow(nil, l)) }

// appendRow appends l's row to b, allocating nothing but b's growth: the
// packet path writes a row for every lease it grants.
func (f Format) appendRow(b []byte, l *lease.Lease) []byte {
	b = l.Addr.AppendTo(b)
	b = append(b, ',')
	b = lease.AppendHex(b, l.HWAddr)
	b = append(b, ',')
	b = lease.AppendHex(b, l.ClientID)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(l.ValidLft), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, l.CLTT.Unix()+int64(l.ValidLft), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(l.SubnetID), 10)
	b = append(b, ',')
	b = append(b, boolCol(l.FqdnFwd)...)
	b = append(b, ',')
	b = append(b, boolCol(l.FqdnRev)...)
	b = append(b, ',')
	b = append(b, Escape(l.Hostname)...)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(l.State), 10)
	b = append(b, ',')
	if l.UserContext != nil {
		b = append(b, Escape(KeaJSON(l.UserContext))...)
	}
	if f != Kea22 {
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(l.PoolID), 10)
	}
	return append(b, '\n')
}

// FormatHex is Kea's lower-case colon hex.
func FormatHex(b []byte) string { return string(lease.AppendHex(nil, b)) }

func boolCol(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// Escape escapes the characters Kea 2.2 to 3.2 escape in text columns:
// ',' and '&', as &#x followed by two lower-case hex digits.
func Escape(s string) string {
	if !strings.ContainsAny(s, ",&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', '&':
			b.WriteString("&#x")
			b.WriteString(hex.EncodeToString([]byte{c}))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Unescape turns every &#xHH (either case) back into its byte; an &#x not
// followed by two hex digits stays as it is, as in Kea.
func Unescape(s string) string {
	if !strings.Contains(s, "&#x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "&#x") && i+5 <= len(s) {
			if v, err := hex.DecodeString(s[i+3 : i+5]); err == nil {
				b.WriteByte(v[0])
				i += 4
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// KeaJSON prints a value the way Kea's Element::str() does: maps with
// sorted keys as { "k": v, ... }, lists as [ a, b ].
func KeaJSON(v any) string {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			kb, _ := json.Marshal(k)
			parts[i] = string(kb) + ": " + KeaJSON(t[k])
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = KeaJSON(e)
		}
		return "[ " + strings.Join(parts, ", ") + " ]"
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}
