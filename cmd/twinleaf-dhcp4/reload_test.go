package main

import (
	"testing"

	"github.com/twinleaf/twinleaf/pkg/dhcp4"
)

// TestConfigSummary: DHCP4_CONFIG_COMPLETE's summary reads as Kea's
// (SrvConfig::getConfigSummary for IPv4), with and without subnets.
func TestConfigSummary(t *testing.T) {
	for _, tc := range []struct {
		subnets int
		want    string
	}{
		{0, "no IPv4 subnets!; DDNS: disabled"},
		{1, "added IPv4 subnets: 1; DDNS: disabled"},
		{3, "added IPv4 subnets: 3; DDNS: disabled"},
	} {
		n := &dhcp4.Network{Subnets: make([]*dhcp4.Subnet, tc.subnets)}
		if got := configSummary(n); got != tc.want {
			t.Errorf("%d subnets: %q, want %q", tc.subnets, got, tc.want)
		}
	}
}
