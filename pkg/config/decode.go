package config

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// field decodes one key's value found at path.
type field func(v *Node, path string)

// dec collects problems while decoding, so one run reports them all.
type dec struct {
	errs  Errors
	warns []Warning
}

func (d *dec) errf(n *Node, path, format string, a ...any) {
	d.errs = append(d.errs, &Error{Pos: n.Pos, Path: path, Msg: fmt.Sprintf(format, a...)})
}

func (d *dec) warnf(pos Pos, path, format string, a ...any) {
	d.warns = append(d.warns, Warning{Pos: pos, Path: path, Msg: fmt.Sprintf(format, a...)})
}

// object decodes a map whose keys are given by fields. comment and
// user-context are accepted anywhere, as Kea allows. Any other key is an
// error: "not yet" when Kea knows it, otherwise with a suggestion.
func (d *dec) object(n *Node, path string, fields map[string]field) bool {
	if n.Kind != Object {
		d.errf(n, path, "must be a map ({...}), not a %s", n.Kind)
		return false
	}
	for _, m := range n.Members {
		p := path + "/" + m.Key
		if f, ok := fields[m.Key]; ok {
			f(m.Value, p)
			continue
		}
		switch m.Key {
		case "comment":
			d.str(new(string))(m.Value, p)
			continue
		case "user-context":
			if m.Value.Kind != Object {
				d.errf(m.Value, p, "must be a map")
			}
			continue
		}
		d.unknown(m, p, fields)
	}
	return true
}

func (d *dec) unknown(m Member, path string, fields map[string]field) {
	known := keaKeys[m.Key]
	here := keaKeysAt[contextOf(strings.TrimSuffix(path, "/"+m.Key))]
	if here != nil {
		known = here[m.Key]
	}
	if known {
		d.errs = append(d.errs, &Error{Pos: m.KeyPos, Path: path,
			Msg: fmt.Sprintf("supported by Kea, not yet by twinleaf: %s; remove it or see the README for what twinleaf supports", m.Key)})
		return
	}
	// Suggest among the keys twinleaf reads here and those Kea takes here.
	seen := map[string]bool{"comment": true, "user-context": true}
	for k := range fields {
		seen[k] = true
	}
	for k := range here {
		seen[k] = true
	}
	names := make([]string, 0, len(seen))
	for k := range seen {
		names = append(names, k)
	}
	sort.Strings(names)
	msg := fmt.Sprintf("unknown key %q", m.Key)
	if s := suggest(m.Key, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += "; valid keys here: " + strings.Join(names, ", ")
	}
	d.errs = append(d.errs, &Error{Pos: m.KeyPos, Path: path, Msg: msg})
}

// list calls each for every element of a list.
func (d *dec) list(n *Node, path string, each func(i int, v *Node, path string)) {
	if n.Kind != Array {
		d.errf(n, path, "must be a list ([...]), not a %s", n.Kind)
		return
	}
	for i, v := range n.Items {
		each(i, v, fmt.Sprintf("%s[%d]", path, i))
	}
}

func (d *dec) str(dst *string) field {
	return func(v *Node, path string) {
		if v.Kind != String {
			d.errf(v, path, "must be a string, not a %s", v.Kind)
			return
		}
		*dst = v.Text
	}
}

func (d *dec) strp(dst **string) field {
	return func(v *Node, path string) {
		var s string
		d.str(&s)(v, path)
		if v.Kind == String {
			*dst = &s
		}
	}
}

func (d *dec) oneOf(dst *string, allowed ...string) field {
	return func(v *Node, path string) {
		if v.Kind != String {
			d.errf(v, path, "must be a string, one of %s", strings.Join(allowed, ", "))
			return
		}
		for _, a := range allowed {
			if v.Text == a {
				*dst = v.Text
				return
			}
		}
		d.errf(v, path, "%q is not allowed; use one of %s", v.Text, strings.Join(allowed, ", "))
	}
}

func (d *dec) boolean(dst *bool) field {
	return func(v *Node, path string) {
		if v.Kind != Bool {
			d.errf(v, path, "must be true or false, not a %s", v.Kind)
			return
		}
		*dst = v.Bool
	}
}

func (d *dec) boolp(dst **bool) field {
	return func(v *Node, path string) {
		var b bool
		d.boolean(&b)(v, path)
		if v.Kind == Bool {
			*dst = &b
		}
	}
}

// integer checks v is a whole number in [lo, hi].
func (d *dec) integer(v *Node, path string, lo, hi int64) (int64, bool) {
	if v.Kind != Number {
		d.errf(v, path, "must be a number, not a %s", v.Kind)
		return 0, false
	}
	n, err := strconv.ParseInt(v.Text, 10, 64)
	if err != nil || n < lo || n > hi {
		d.errf(v, path, "%s is out of range; use a whole number from %d to %d", v.Text, lo, hi)
		return 0, false
	}
	return n, true
}

func (d *dec) u32(dst *uint32, lo, hi int64) field {
	return func(v *Node, path string) {
		if n, ok := d.integer(v, path, lo, hi); ok {
			*dst = uint32(n)
		}
	}
}

func (d *dec) u32p(dst **uint32) field {
	return func(v *Node, path string) {
		if n, ok := d.integer(v, path, 0, math.MaxUint32); ok {
			u := uint32(n)
			*dst = &u
		}
	}
}

func (d *dec) intf(dst *int, lo, hi int64) field {
	return func(v *Node, path string) {
		if n, ok := d.integer(v, path, lo, hi); ok {
			*dst = int(n)
		}
	}
}

func (d *dec) f64p(dst **float64, lo, hi float64) field {
	return func(v *Node, path string) {
		if v.Kind != Number {
			d.errf(v, path, "must be a number, not a %s", v.Kind)
			return
		}
		f, err := strconv.ParseFloat(v.Text, 64)
		if err != nil || f < lo || f > hi {
			d.errf(v, path, "%s is out of range; use a number from %g to %g", v.Text, lo, hi)
			return
		}
		*dst = &f
	}
}

func (d *dec) addr(dst *netip.Addr) field {
	return func(v *Node, path string) {
		if v.Kind != String {
			d.errf(v, path, "must be an IPv4 address in a string, not a %s", v.Kind)
			return
		}
		a, err := netip.ParseAddr(v.Text)
		if err != nil || !a.Is4() {
			d.errf(v, path, "%q is not an IPv4 address; write it like \"192.168.1.1\"", v.Text)
			return
		}
		*dst = a
	}
}

func (d *dec) addrp(dst **netip.Addr) field {
	return func(v *Node, path string) {
		var a netip.Addr
		d.addr(&a)(v, path)
		if a.IsValid() {
			*dst = &a
		}
	}
}

func (d *dec) strList(dst *[]string) field {
	return func(v *Node, path string) {
		*dst = nil
		d.list(v, path, func(_ int, e *Node, p string) {
			var s string
			d.str(&s)(e, p)
			*dst = append(*dst, s)
		})
	}
}

// ignored accepts a key Kea accepts and ignores, saying so.
func (d *dec) ignored(why string) field {
	return func(v *Node, path string) {
		d.warnf(v.Pos, path, "accepted and ignored, as Kea does: %s", why)
	}
}
