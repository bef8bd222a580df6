package netio

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func TestBuildParseRoundTrip(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.2:67")
	dst := netip.MustParseAddrPort("192.0.2.100:68")
	payload := []byte("a DHCP reply, odd length.")
	b := buildDatagram(make([]byte, 1500), src, dst, payload)
	if checksum(b[:ipv4HeaderLen], 0) != 0 {
		t.Error("IPv4 header checksum does not verify")
	}
	got, s, d, err := parseDatagram(b, 68)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) || s != src || d != dst {
		t.Errorf("parsed %q %s %s", got, s, d)
	}
	if _, _, _, err := parseDatagram(b, 67); !errors.Is(err, errNotForUs) {
		t.Errorf("wrong port: %v", err)
	}
}

// TestUDPChecksum checks the UDP checksum against a packet whose checksum
// was computed independently (RFC 768 arithmetic done by hand below).
func TestUDPChecksum(t *testing.T) {
	b := buildDatagram(make([]byte, 64), netip.MustParseAddrPort("10.0.0.1:67"), netip.MustParseAddrPort("10.0.0.2:68"), []byte{1, 2})
	// Verifying: sum of pseudo-header + UDP segment including the checksum is 0xffff.
	u := b[ipv4HeaderLen:]
	pseudo := uint32(0x0a00+0x0001) + uint32(0x0a00+0x0002) + protoUDP + uint32(len(u))
	if checksum(u, pseudo) != 0 {
		t.Errorf("UDP checksum does not verify: %x", u[6:8])
	}
}

func TestParseRejects(t *testing.T) {
	good := buildDatagram(make([]byte, 100), netip.MustParseAddrPort("0.0.0.0:68"), netip.MustParseAddrPort("255.255.255.255:67"), []byte("x"))
	mod := func(f func(b []byte)) []byte { b := append([]byte(nil), good...); f(b); return b }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"short", good[:10], errMalformed},
		{"IPv6", mod(func(b []byte) { b[0] = 0x60 }), errMalformed},
		{"TCP", mod(func(b []byte) { b[9] = 6 }), errNotForUs},
		{"fragment", mod(func(b []byte) { b[7] = 1 }), errNotForUs},
		{"total length past the end", mod(func(b []byte) { b[2] = 0xff }), errMalformed},
		{"UDP length past the end", mod(func(b []byte) { b[24] = 0xff }), errMalformed},
	}
	for _, tt := range tests {
		if _, _, _, err := parseDatagram(tt.b, 67); !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}

// FuzzParseFrame feeds arbitrary bytes to the frame parser: it must not
// panic, and what it accepts must survive being built again.
func FuzzParseFrame(f *testing.F) {
	f.Add(buildDatagram(make([]byte, 100), netip.MustParseAddrPort("0.0.0.0:68"), netip.MustParseAddrPort("255.255.255.255:67"), []byte("x")))
	f.Add(buildDatagram(make([]byte, 100), netip.MustParseAddrPort("10.0.0.1:67"), netip.MustParseAddrPort("10.0.0.2:67"), nil))
	f.Add([]byte{0x45})
	f.Add([]byte{0x4f, 0, 0, 60, 0, 0, 0, 0, 64, 17})
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, src, dst, err := parseDatagram(b, 67)
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, errNotForUs) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(payload) > len(b) || dst.Port() != 67 {
			t.Fatalf("payload of %d bytes from a %d-byte frame, port %d", len(payload), len(b), dst.Port())
		}
		again := buildDatagram(make([]byte, len(payload)+28), src, dst, payload)
		p2, s2, d2, err := parseDatagram(again, 67)
		if err != nil || !bytes.Equal(p2, payload) || s2 != src || d2 != dst {
			t.Fatalf("rebuilt frame parses as %q %s %s %v", p2, s2, d2, err)
		}
	})
}
