package ha

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// TestLoadBalanceHash checks the fact sheet's vectors, computed with
// Kea's own table.
func TestLoadBalanceHash(t *testing.T) {
	tests := []struct {
		key  []byte
		want uint8
	}{
		{[]byte{0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}, 169},
		{[]byte{0x01, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}, 31},
		{[]byte{0x08, 0x00, 0x27, 0xaa, 0xbb, 0xcc}, 186},
		{[]byte{0, 0, 0, 0, 0, 1}, 153},
		{nil, 0}, // nothing mixed in: the seed, len 0
	}
	for _, tt := range tests {
		if got := LoadBalanceHash(tt.key); got != tt.want {
			t.Errorf("hash(% x) = %d, want %d", tt.key, got, tt.want)
		}
	}
	seen := map[uint8]bool{}
	for _, v := range mixTable {
		seen[v] = true
	}
	if len(seen) != 256 {
		t.Errorf("mix table has %d distinct values, want a permutation of 256", len(seen))
	}
}

func TestInScope(t *testing.T) {
	secondaryHW := []byte{0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f} // hashes to the secondary
	primaryHW := []byte{0x08, 0x00, 0x27, 0xaa, 0xbb, 0xcc}   // hashes to the primary
	primaryCID := []byte{0x01, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}
	tests := []struct {
		name       string
		mode, self string
		state      State
		p          *dhcpv4.DHCPv4
		want       bool
		class      string
	}{
		{"hs primary serves all", "hot-standby", "server1", HotStandby, query(dhcpv4.MessageTypeDiscover, secondaryHW, nil, 0), true, "HA_server1"},
		{"hs standby serves none", "hot-standby", "server2", HotStandby, query(dhcpv4.MessageTypeRequest, primaryHW, nil, 0), false, "HA_server1"},
		{"hs standby in partner-down", "hot-standby", "server2", PartnerDown, query(dhcpv4.MessageTypeRequest, primaryHW, nil, 0), true, "HA_server1"},
		{"waiting serves none", "hot-standby", "server1", Waiting, query(dhcpv4.MessageTypeDiscover, primaryHW, nil, 0), false, "HA_server1"},
		{"non-HA type always", "hot-standby", "server2", Waiting, query(dhcpv4.MessageTypeAck, primaryHW, nil, 0), true, "HA_server1"},
		{"lb own hwaddr", "load-balancing", "server2", LoadBalancing, query(dhcpv4.MessageTypeDiscover, secondaryHW, nil, 0), true, "HA_server2"},
		{"lb partner hwaddr", "load-balancing", "server2", LoadBalancing, query(dhcpv4.MessageTypeDiscover, primaryHW, nil, 0), false, "HA_server1"},
		{"lb client-id wins", "load-balancing", "server1", LoadBalancing, query(dhcpv4.MessageTypeDiscover, primaryHW, primaryCID, 0), false, "HA_server2"},
		{"lb no key dropped", "load-balancing", "server1", PartnerDown, query(dhcpv4.MessageTypeDiscover, nil, nil, 0), false, ""},
		{"lb partner-down serves both", "load-balancing", "server1", PartnerDown, query(dhcpv4.MessageTypeInform, secondaryHW, nil, 0), true, "HA_server2"},
		{"backup serves none", "hot-standby", "server3", Backup, query(dhcpv4.MessageTypeDiscover, primaryHW, nil, 0), false, "HA_server1"},
		{"passive-backup primary", "passive-backup", "server1", PassiveBackup, query(dhcpv4.MessageTypeRelease, primaryHW, nil, 0), true, "HA_server1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, haConfig(tt.mode, tt.self))
			r.force(tt.state, Unavailable)
			r.m.mu.Lock()
			r.m.onEntry()
			r.m.mu.Unlock()
			class, got := r.m.InScope(tt.p)
			if got != tt.want || class != tt.class {
				t.Errorf("InScope = %q, %v, want %q, %v (scopes %v)", class, got, tt.class, tt.want, r.m.Scopes())
			}
		})
	}
}

func TestHAScopesAndReclaim(t *testing.T) {
	r := newRig(t, haConfig("load-balancing", "server1"))
	r.force(Terminated, Unavailable)
	r.m.mu.Lock()
	r.m.onEntry()
	r.m.mu.Unlock()
	own := &lease.Lease{HWAddr: net.HardwareAddr{0x08, 0x00, 0x27, 0xaa, 0xbb, 0xcc}}
	other := &lease.Lease{HWAddr: net.HardwareAddr{0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}}
	if !r.m.ShouldReclaim(own) || r.m.ShouldReclaim(other) {
		t.Errorf("terminated LB primary reclaims own %v, other %v; want true, false", r.m.ShouldReclaim(own), r.m.ShouldReclaim(other))
	}
	if err := r.m.SetScopes([]string{"server1", "server2"}); err != nil {
		t.Fatal(err)
	}
	if !r.m.LeaseInScope(other) {
		t.Error("ha-scopes with both scopes does not cover the secondary's lease")
	}
	if err := r.m.SetScopes([]string{"server7"}); err == nil || err.Error() != "invalid server name specified 'server7' while enabling/disabling HA scopes" {
		t.Errorf("unknown scope: %v", err)
	}
	if !r.m.LeaseInScope(other) {
		t.Error("a refused ha-scopes changed the scopes")
	}
}
