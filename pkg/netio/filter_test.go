package netio

import (
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

// TestServerFilter runs the filter in x/net/bpf's interpreter on the
// packets a raw socket would hand it.
func TestServerFilter(t *testing.T) {
	vm, err := bpf.NewVM(serverFilter(67))
	if err != nil {
		t.Fatal(err)
	}
	query := func(dstPort uint16) []byte {
		return buildDatagram(make([]byte, 300), netip.MustParseAddrPort("0.0.0.0:68"),
			netip.AddrPortFrom(netip.IPv4Unspecified(), dstPort), make([]byte, 240))
	}
	withOptions := func() []byte {
		// A 24-byte header: the port must be found past the option.
		b := query(67)
		out := append([]byte{}, b[:ipv4HeaderLen]...)
		out[0] = 0x46
		out = append(out, 1, 1, 1, 0) // NOP NOP NOP EOL
		return append(out, b[ipv4HeaderLen:]...)
	}
	mod := func(b []byte, f func([]byte)) []byte { f(b); return b }
	tests := []struct {
		name   string
		pkt    []byte
		accept bool
	}{
		{"query to 67", query(67), true},
		{"query with IP options", withOptions(), true},
		{"UDP to 68", query(68), false},
		{"UDP to 53", query(53), false},
		{"TCP to 67", mod(query(67), func(b []byte) { b[9] = 6 }), false},
		{"ICMP", mod(query(67), func(b []byte) { b[9] = 1 }), false},
		{"first fragment", mod(query(67), func(b []byte) { b[6] = 0x20 }), false},
		{"later fragment", mod(query(67), func(b []byte) { b[7] = 0x10 }), false},
		{"don't fragment set", mod(query(67), func(b []byte) { b[6] = 0x40 }), true},
		{"truncated", query(67)[:21], false},
	}
	for _, tt := range tests {
		n, err := vm.Run(tt.pkt)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := n > 0; got != tt.accept {
			t.Errorf("%s: accepted %v, want %v", tt.name, got, tt.accept)
		}
		if tt.accept && n < len(tt.pkt) {
			t.Errorf("%s: filter keeps %d of %d bytes", tt.name, n, len(tt.pkt))
		}
	}
}

// TestServerFilterPort checks -p: the filter follows the configured port.
func TestServerFilterPort(t *testing.T) {
	vm, err := bpf.NewVM(serverFilter(1067))
	if err != nil {
		t.Fatal(err)
	}
	for port, want := range map[uint16]bool{67: false, 1067: true} {
		b := buildDatagram(make([]byte, 64), netip.MustParseAddrPort("10.0.0.1:68"), netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), port), []byte("q"))
		n, err := vm.Run(b)
		if err != nil {
			t.Fatal(err)
		}
		if (n > 0) != want {
			t.Errorf("port %d: accepted %v, want %v", port, n > 0, want)
		}
	}
}
