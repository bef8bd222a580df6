package main

import (
	"strings"
	"testing"
)

const csvHeader = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id\n"

func TestLiveLeases(t *testing.T) {
	tests := []struct {
		name, csv string
		want      int
		err       string
	}{
		{name: "empty", csv: "", want: 0},
		{name: "header only", csv: csvHeader, want: 0},
		{name: "two live", csv: csvHeader +
			"198.18.1.0,02:00:00:00:00:01,,3600,2000,1,0,0,,0,,0\n" +
			"198.18.1.1,02:00:00:00:00:02,,3600,2000,1,0,0,,0,,0\n", want: 2},
		{name: "last row of an address wins", csv: csvHeader +
			"198.18.1.0,02:00:00:00:00:01,,3600,2000,1,0,0,,0,,0\n" +
			"198.18.1.0,02:00:00:00:00:01,,0,1000,1,0,0,,0,,0\n" +
			"198.18.1.1,02:00:00:00:00:02,,3600,900,1,0,0,,0,,0\n" +
			"198.18.1.1,02:00:00:00:00:02,,3600,2000,1,0,0,,0,,0\n", want: 1},
		{name: "expired, released, declined", csv: csvHeader +
			"198.18.1.0,02:00:00:00:00:01,,3600,1500,1,0,0,,0,,0\n" +
			"198.18.1.1,02:00:00:00:00:02,,3600,2000,1,0,0,,3,,0\n" +
			"198.18.1.2,,,3600,2000,1,0,0,,1,,0\n", want: 0},
		{name: "escaped comma and quotes in the user context", csv: csvHeader +
			`198.18.1.0,02:00:00:00:00:01,,3600,2000,1,0,0,a&#x2cb,0,{ "ISC": { "x": 1 } },0` + "\n", want: 1},
		{name: "a row still being written", csv: csvHeader +
			"198.18.1.0,02:00:00:00:00:01,,3600,2000,1,0,0,,0,,0\n198.18.1.1,02:00", want: 1},
		{name: "short row", csv: csvHeader + "198.18.1.0,02:00\n", want: 0},
		{name: "no header", csv: "198.18.1.0,02:00:00:00:00:01\n", err: "no \"address\" column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := liveLeases([]byte(tt.csv), 1800)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("liveLeases = %d, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("liveLeases = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// FuzzLiveLeases: any file contents give a count no larger than its rows,
// or an error, and never a panic.
func FuzzLiveLeases(f *testing.F) {
	f.Add([]byte(csvHeader + "198.18.1.0,02:00:00:00:00:01,,3600,2000,1,0,0,,0,,0\n"))
	f.Add([]byte(csvHeader + "198.18.1.0,02:00\n198.18.1.1"))
	f.Add([]byte("state,expire,address\n0,2000,x\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := liveLeases(b, 1800)
		if err == nil && n > strings.Count(string(b), "\n") {
			t.Fatalf("%d leases from %d lines", n, strings.Count(string(b), "\n"))
		}
	})
}

func TestMessageID(t *testing.T) {
	tests := []struct{ line, want string }{
		{"2026-11-27 04:00:20.972 WARN  [kea-dhcp4.ha-hooks/17410.17414] HA_PARTNER_VERSION_UNKNOWN server1: cannot tell", "HA_PARTNER_VERSION_UNKNOWN"},
		{"2026-11-27 03:38:01.123 WARN  [kea-dhcp4.dhcp4/1.2] DHCP4_HOOK_LEASES4_PARKING_LOT_FULL The parked-packet-limit 256, has been reached, dropping query: [hwtype=1 00:0c:01:02:03:04], cid=[no info], tid=0x1", "DHCP4_HOOK_LEASES4_PARKING_LOT_FULL"},
		{"INFO  [kea-ctrl-agent.dctl/9] DCTL_STARTING DHCP4 starting", "DCTL_STARTING"},
		{"no message id here, only WARN and DHCP", ""},
	}
	for _, tt := range tests {
		if got := messageID.FindString(tt.line); got != tt.want {
			t.Errorf("messageID in %q = %q, want %q", tt.line, got, tt.want)
		}
	}
}
