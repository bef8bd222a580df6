package dhcp4

import (
	"bytes"
	"errors"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestFQDNReply(t *testing.T) {
	wire := func(labels ...string) []byte {
		var b []byte
		for _, l := range labels {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
		return b
	}
	tests := []struct {
		name     string
		req      []byte
		reserved string
		want     []byte // nil: no option sent
		wantText string
	}{
		{"ascii partial, S set", append([]byte{fqdnS, 0, 0}, "laptop"...), "", append([]byte{fqdnN | fqdnO, 0, 0}, "laptop."...), "laptop."},
		{"wire partial", append([]byte{fqdnE, 255, 255}, wire("Laptop")...), "", append(append([]byte{fqdnN | fqdnE, 255, 255}, wire("Laptop")...), 0), "Laptop."},
		{"wire full", append(append([]byte{fqdnE | fqdnS, 0, 0}, wire("pc", "lab")...), 0), "", append(append([]byte{fqdnN | fqdnE | fqdnO, 0, 0}, wire("pc", "lab")...), 0), "pc.lab."},
		{"bad characters scrubbed", append([]byte{0, 0, 0}, "my_pc!"...), "", append([]byte{fqdnN, 0, 0}, "mypc."...), "mypc."},
		{"empty name", []byte{fqdnN, 0, 0}, "", []byte{fqdnN, 0, 0}, ""},
		{"reservation wins", append([]byte{0, 0, 0}, "laptop"...), "printer", append([]byte{fqdnN, 0, 0}, "printer."...), "printer."},
		{"S and N both set", []byte{fqdnS | fqdnN, 0, 0}, "", nil, ""},
		{"scrubbed to nothing", append([]byte{0, 0, 0}, "__"...), "", nil, ""},
		{"too short", []byte{0, 0}, "", nil, ""},
		{"label overruns", []byte{fqdnE, 0, 0, 9, 'a'}, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := fqdnReply(tt.req, tt.reserved)
			if ok != (tt.want != nil) {
				t.Fatalf("ok = %v, want %v", ok, tt.want != nil)
			}
			if !ok {
				return
			}
			if got := f.marshal(); !bytes.Equal(got, tt.want) {
				t.Errorf("payload % x, want % x", got, tt.want)
			}
			if f.text() != tt.wantText {
				t.Errorf("text %q, want %q", f.text(), tt.wantText)
			}
		})
	}
}

// The FQDN answer reaches the reply and the lease; option 12 is then not
// sent.
func TestFQDNInLease(t *testing.T) {
	h := newHarness(t, testNetwork())
	a := h.lease(macA, withOpt(optFQDN, append([]byte{fqdnS, 0, 0}, "laptop"...)), withOpt(optHostname, []byte("other")))
	l, _ := h.store.Get(a)
	if l.Hostname != "laptop." || l.FqdnFwd || l.FqdnRev {
		t.Errorf("lease hostname %q fwd %v rev %v, want \"laptop.\" and no DNS updates", l.Hostname, l.FqdnFwd, l.FqdnRev)
	}
	res := h.e.Handle(unicast(pkt(dhcpv4.MessageTypeRequest, macA, withOpt(optFQDN, append([]byte{fqdnS, 0, 0}, "laptop"...))), a.String()))
	if got := res.Reply.Options[optFQDN]; !bytes.Equal(got, append([]byte{fqdnN | fqdnO, 0, 0}, "laptop."...)) {
		t.Errorf("option 81 = %q", got)
	}
	if _, ok := res.Reply.Options[optHostname]; ok {
		t.Error("option 12 sent alongside option 81")
	}
}

// FuzzFQDN: any payload parses to an error or to a name that marshals and
// parses back to the same name.
func FuzzFQDN(f *testing.F) {
	f.Add([]byte{fqdnE, 0, 0, 2, 'p', 'c', 3, 'l', 'a', 'b', 0})
	f.Add([]byte{fqdnS, 0, 0, 'h', '.', 'x', '.'})
	f.Add([]byte{fqdnE, 0, 0, 9, 'a'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseFQDN(b)
		if err != nil {
			if !errors.Is(err, errFQDN) {
				t.Fatalf("error %v does not wrap errFQDN", err)
			}
			return
		}
		if p.flags&fqdnE == 0 {
			return // ASCII names may hold dots inside labels' bytes; no round trip
		}
		again, err := parseFQDN(p.marshal())
		if err != nil || again.text() != p.text() || again.full != p.full {
			t.Fatalf("round trip: %+v -> %+v (%v)", p, again, err)
		}
		fqdnReply(b, "")
	})
}
