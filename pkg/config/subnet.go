package config

import (
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"

	"github.com/twinleaf/twinleaf/pkg/option"
)

func (d *dec) relay(dst *[]netip.Addr) field {
	return func(v *Node, path string) {
		if v.Kind == Object && v.Get("ip-address") != nil && v.Get("ip-addresses") != nil {
			d.errf(v.Get("ip-address"), path+"/ip-address", "give either ip-address (Kea 2.2) or ip-addresses, not both")
			return
		}
		d.object(v, path, map[string]field{
			"ip-addresses": func(l *Node, p string) {
				d.list(l, p, func(_ int, e *Node, ep string) {
					var a netip.Addr
					d.addr(&a)(e, ep)
					if a.IsValid() {
						*dst = append(*dst, a)
					}
				})
			},
			// Kea 2.2's single-address form.
			"ip-address": func(e *Node, p string) {
				var a netip.Addr
				d.addr(&a)(e, p)
				if a.IsValid() {
					*dst = append(*dst, a)
				}
			},
		})
	}
}

func (d *dec) sharedNetworks(n *Node, path string, c *Dhcp4) {
	d.list(n, path, func(_ int, e *Node, ep string) {
		sn := &SharedNetwork{Pos: e.Pos, path: ep}
		var subnets *Node
		fields := merge(d.params(&sn.Params), map[string]field{
			"name":        d.str(&sn.Name),
			"interface":   d.str(&sn.Interface),
			"relay":       d.relay(&sn.Relay),
			"option-data": func(v *Node, p string) { sn.OptionData = d.optionData(v, p, c.Options) },
			"subnet4":     func(v *Node, p string) { subnets = v },
		})
		d.object(e, ep, d.withKeaDefaults(fields, keaNetworkDefaults))
		if e.Kind != Object {
			return
		}
		if sn.Name == "" {
			d.errf(e, ep, "a shared network needs a \"name\"")
		}
		for _, other := range c.SharedNetworks {
			if other.Name == sn.Name && sn.Name != "" {
				d.errf(e, ep+"/name", "shared network %q is defined twice", sn.Name)
			}
		}
		c.SharedNetworks = append(c.SharedNetworks, sn)
		if subnets != nil {
			d.subnets(subnets, ep+"/subnet4", c, sn)
		}
	})
}

func (d *dec) subnets(n *Node, path string, c *Dhcp4, sn *SharedNetwork) {
	d.list(n, path, func(_ int, e *Node, ep string) {
		s := &Subnet{Pos: e.Pos, SharedNetwork: sn, path: ep}
		var prefix string
		var pools *Node
		fields := merge(d.params(&s.Params), map[string]field{
			"id":               d.u32(&s.ID, 1, math.MaxUint32-1),
			"subnet":           d.str(&prefix),
			"interface":        d.str(&s.Interface),
			"relay":            d.relay(&s.Relay),
			"pools":            func(v *Node, p string) { pools = v; _ = p },
			"option-data":      func(v *Node, p string) { s.OptionData = d.optionData(v, p, c.Options) },
			"reservations":     func(v *Node, p string) { s.Reservations = d.reservations(v, p, c.Options) },
			"client-class":     d.str(&s.ClientClass),
			"client-classes":   d.strList(&s.ClientClasses),
			"reservation-mode": func(v *Node, p string) { d.reservationMode(v, p, &s.Params) },
		})
		d.object(e, ep, d.withKeaDefaults(fields, keaSubnetDefaults))
		if e.Kind != Object {
			return
		}
		if prefix == "" {
			d.errf(e, ep, "\"subnet\" is missing; give the subnet as a prefix, e.g. \"192.168.1.0/24\"")
			return
		}
		p, err := netip.ParsePrefix(prefix)
		if err != nil || !p.Addr().Is4() {
			d.errf(e.Get("subnet"), ep+"/subnet", "%q is not an IPv4 prefix; write it like \"192.168.1.0/24\"", prefix)
			return
		}
		if p.Masked() != p {
			d.warnf(e.Get("subnet").Pos, ep+"/subnet", "%q has host bits set; it is read as %s, as Kea does; write that instead", prefix, p.Masked())
		}
		s.Prefix = p.Masked()
		if pools != nil {
			d.pools(pools, ep+"/pools", s, c.Options)
		}
		c.Subnets = append(c.Subnets, s)
		if sn != nil {
			sn.Subnets = append(sn.Subnets, s)
		}
	})
}

func (d *dec) pools(n *Node, path string, s *Subnet, defs *option.Defs) {
	d.list(n, path, func(_ int, e *Node, ep string) {
		pl := Pool{Pos: e.Pos, path: ep}
		var text, class string
		d.object(e, ep, map[string]field{
			"pool":           d.str(&text),
			"pool-id":        d.u32(&pl.ID, 0, math.MaxUint32),
			"option-data":    func(v *Node, p string) { pl.OptionData = d.optionData(v, p, defs) },
			"client-class":   d.str(&class),
			"client-classes": d.strList(&pl.ClientClasses),
		})
		if e.Kind != Object {
			return
		}
		if class != "" {
			pl.ClientClasses = append(pl.ClientClasses, class)
		}
		pn := e.Get("pool")
		if pn == nil {
			d.errf(e, ep, "\"pool\" is missing; give a range \"192.168.1.100-192.168.1.199\" or a prefix \"192.168.1.128/25\"")
			return
		}
		first, last, err := parsePool(text)
		if err != nil {
			d.errf(pn, ep+"/pool", "%v", err)
			return
		}
		// Checks on the range point at the range itself.
		pl.Pos, pl.First, pl.Last = pn.Pos, first, last
		s.Pools = append(s.Pools, pl)
	})
}

// parsePool reads Kea's two pool forms, "a-b" and "a/len".
func parsePool(text string) (netip.Addr, netip.Addr, error) {
	t := strings.ReplaceAll(text, " ", "")
	if a, b, ok := strings.Cut(t, "-"); ok {
		first, err1 := netip.ParseAddr(a)
		last, err2 := netip.ParseAddr(b)
		if err1 != nil || err2 != nil || !first.Is4() || !last.Is4() {
			return first, last, fmt.Errorf("%q is not a range of IPv4 addresses like \"192.168.1.100-192.168.1.199\"", text)
		}
		if last.Less(first) {
			return first, last, fmt.Errorf("%q ends before it starts; write the lower address first", text)
		}
		return first, last, nil
	}
	p, err := netip.ParsePrefix(t)
	if err != nil || !p.Addr().Is4() {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q is neither a range \"a-b\" nor a prefix \"a/len\" of IPv4 addresses", text)
	}
	p = p.Masked()
	first := p.Addr()
	b := first.As4()
	host := uint32(0xffffffff) >> p.Bits()
	if p.Bits() == 0 {
		host = 0xffffffff
	}
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	last := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return first, last, nil
}

func (d *dec) hexID(dst *[]byte, what string) field {
	return func(v *Node, path string) {
		var s string
		d.str(&s)(v, path)
		if v.Kind != String {
			return
		}
		b, err := parseIdentifier(s)
		if err != nil {
			d.errf(v, path, "%q is not a valid %s: %v", s, what, err)
			return
		}
		*dst = b
	}
}

// parseIdentifier reads Kea's identifier forms: colon- or space-separated
// hex, plain hex, or a quoted text string ('text').
func parseIdentifier(s string) ([]byte, error) {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return []byte(s[1 : len(s)-1]), nil
	}
	if strings.ContainsAny(s, ": ") {
		var out []byte
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ' ' }) {
			if len(p) > 2 {
				return nil, fmt.Errorf("octet %q is not one or two hex digits", p)
			}
			b, err := hex.DecodeString(fmt.Sprintf("%02s", p))
			if err != nil {
				return nil, fmt.Errorf("octet %q is not hex", p)
			}
			out = append(out, b...)
		}
		return out, nil
	}
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("expected hex like 01:02:03")
	}
	return b, nil
}

func (d *dec) reservations(n *Node, path string, defs *option.Defs) []Reservation {
	var out []Reservation
	d.list(n, path, func(_ int, e *Node, ep string) {
		r := Reservation{Pos: e.Pos, path: ep}
		var hw []byte
		d.object(e, ep, map[string]field{
			"hw-address":      d.hexID(&hw, "hw-address (MAC address like 1a:1b:1c:1d:1e:1f)"),
			"client-id":       d.hexID(&r.ClientID, "client-id"),
			"duid":            d.hexID(&r.DUID, "duid"),
			"circuit-id":      d.hexID(&r.CircuitID, "circuit-id"),
			"flex-id":         d.hexID(&r.FlexID, "flex-id"),
			"ip-address":      d.addr(&r.IPAddress),
			"hostname":        d.str(&r.Hostname),
			"option-data":     func(v *Node, p string) { r.OptionData = d.optionData(v, p, defs) },
			"next-server":     d.addr(&r.NextServer),
			"server-hostname": d.str(&r.ServerHostname),
			"boot-file-name":  d.str(&r.BootFileName),
			"client-classes":  d.strList(&r.ClientClasses),
		})
		if e.Kind != Object {
			return
		}
		if hw != nil {
			if len(hw) > 20 {
				d.errf(e.Get("hw-address"), ep+"/hw-address", "hardware address longer than 20 octets")
			}
			r.HWAddr = net.HardwareAddr(hw)
		}
		ids := 0
		for _, k := range []string{"hw-address", "client-id", "duid", "circuit-id", "flex-id"} {
			if e.Get(k) != nil {
				ids++
			}
		}
		if ids != 1 {
			d.errf(e, ep, "a reservation needs exactly one identifier (hw-address, client-id, duid, circuit-id or flex-id), found %d", ids)
		}
		out = append(out, r)
	})
	return out
}
