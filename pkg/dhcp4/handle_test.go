package dhcp4

import (
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestMessageType checks the allocation-free reading of option 53
// against the library's own, for every shape the option can take.
func TestMessageType(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value []byte // nil: option absent
	}{
		{"absent", nil},
		{"empty", []byte{}},
		{"discover", []byte{1}},
		{"request", []byte{3}},
		{"unknown type", []byte{200}},
		{"two bytes", []byte{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &dhcpv4.DHCPv4{Options: dhcpv4.Options{}}
			if tc.value != nil {
				m.Options[optMessageType] = tc.value
			}
			if got, want := MessageType(m), m.MessageType(); got != want {
				t.Errorf("MessageType = %v, library says %v", got, want)
			}
		})
	}
	m := &dhcpv4.DHCPv4{Options: dhcpv4.Options{optMessageType: {3}}}
	if n := testing.AllocsPerRun(100, func() { MessageType(m) }); n != 0 {
		t.Errorf("MessageType allocates %v times, want 0", n)
	}
}
