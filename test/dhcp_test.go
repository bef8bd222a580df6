//go:build integration

package test

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

// The lab network of configs/lab/single.conf.
const (
	serverAddr = "192.0.2.2"
	poolFirst  = "192.0.2.100"
	poolLast   = "192.0.2.199"
)

// labServer builds a lab with the server namespace and starts the server
// under test on configs/lab/single.conf (with optional replacements).
func labServer(t *testing.T, replace ...string) (*Lab, string, *Server) {
	t.Helper()
	l := NewLab(t)
	srv := l.Host("srv", "eth0", serverAddr+"/24")
	conf := labConfig(t, l, "single.conf", replace...)
	return l, srv, StartServer(t, l, srv, l.Dir, conf)
}

func inPool(t *testing.T, ip, first, last string) bool {
	t.Helper()
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return a.Compare(netip.MustParseAddr(first)) >= 0 && a.Compare(netip.MustParseAddr(last)) <= 0
}

// TestClientsGetAddress: each real client gets a pool address with the
// routers and DNS servers of its subnet, and the server's lease file has it.
func TestClientsGetAddress(t *testing.T) {
	for i, kind := range []string{"dhclient", "udhcpc", "dhcpcd"} {
		t.Run(kind, func(t *testing.T) {
			l, _, s := labServer(t)
			mac := "02:00:00:00:01:0" + string(rune('1'+i))
			c := NewClient(t, l, kind, "c1", mac)
			c.Start()
			ev := c.Bound()
			if !inPool(t, ev.IP, poolFirst, poolLast) {
				t.Errorf("%s got %q, want an address in %s-%s", kind, ev.IP, poolFirst, poolLast)
			}
			if ev.Routers != "192.0.2.1" {
				t.Errorf("routers = %q, want 192.0.2.1", ev.Routers)
			}
			if !strings.Contains(ev.DNS, "192.0.2.53") || !strings.Contains(ev.DNS, "192.0.2.54") {
				t.Errorf("dns = %q, want 192.0.2.53 and 192.0.2.54", ev.DNS)
			}
			row, ok := s.Leases()[ev.IP]
			if !ok || row.HWAddr != mac || row.Valid != 120 || row.SubnetID != 1 || row.State != 0 {
				t.Errorf("lease file row for %s = %+v (found %v), want hwaddr %s valid 120 subnet 1 state 0", ev.IP, row, ok, mac)
			}
		})
	}
}

// TestReservations: a MAC reservation and a client-id reservation get
// their fixed addresses.
func TestReservations(t *testing.T) {
	l, _, s := labServer(t)
	byMAC := NewClient(t, l, "dhclient", "r1", "02:00:00:00:0a:0a")
	byCID := NewClient(t, l, "udhcpc", "r2", "02:00:00:00:0b:0b") // udhcpc sends client-id 01:<mac>
	byMAC.Start()
	byCID.Start()
	if ev := byMAC.Bound(); ev.IP != "192.0.2.10" {
		t.Errorf("hw-address reservation: got %s, want 192.0.2.10", ev.IP)
	}
	if ev := byCID.Bound(); ev.IP != "192.0.2.11" {
		t.Errorf("client-id reservation: got %s, want 192.0.2.11", ev.IP)
	}
	// Kea's lease log line, which people grep for, in Kea's words.
	s.waitLog(t, "DHCP4_LEASE_ALLOC [hwtype=1 02:00:00:00:0a:0a], cid=[no info], tid=0x", 1)
	if !strings.Contains(s.Output(), ": lease 192.0.2.10 has been allocated for 120 seconds") {
		t.Errorf("no DHCP4_LEASE_ALLOC line for 192.0.2.10 in Kea's form:\n%s", s.Output())
	}
}

// TestRenewal: a renewal is a unicast REQUEST from the client's address
// to the server, answered by an ACK for the same address. (dhcpcd 9.4 in a
// network namespace ignores the unicast ACKs it gets, from Kea as from
// twinleaf, and falls back to rebinding, so it is not used here.)
func TestRenewal(t *testing.T) {
	for _, kind := range []string{"udhcpc", "dhclient"} {
		t.Run(kind, func(t *testing.T) {
			l, srv, _ := labServer(t)
			c := NewClient(t, l, kind, "n1", "02:00:00:00:02:01")
			c.Start()
			first, idx := c.WaitEvent(0, "BOUND")
			cap := StartCapture(t, l, srv, "eth0", "192.0.2.254")
			c.Renew()
			ev, _ := c.WaitEvent(idx+1, "RENEW", "REBIND")
			if ev.Reason != "RENEW" {
				t.Fatalf("the client rebound instead of renewing; wire:\n%+v\nclient:\n%s", cap.Messages(), c.Output())
			}
			if ev.IP != first.IP {
				t.Fatalf("renewal moved the client from %s to %s", first.IP, ev.IP)
			}
			var req, ack bool
			for _, m := range cap.Messages() {
				if m.Type == "REQUEST" && m.CIAddr == first.IP && m.Src == first.IP && m.Dst == serverAddr {
					req = true
				}
				if m.Type == "ACK" && m.YIAddr == first.IP && m.Dst == first.IP {
					ack = true
				}
			}
			if !req || !ack {
				t.Errorf("want a unicast REQUEST (ciaddr %s to %s) and a unicast ACK: request %v, ack %v", first.IP, serverAddr, req, ack)
			}
		})
	}
}

// TestReleaseAndReturn: RELEASE frees the lease (kept in released state for
// affinity, as Kea 3.x does with expired-leases-processing set), and the
// client coming back gets the same address.
func TestReleaseAndReturn(t *testing.T) {
	l, _, s := labServer(t)
	c := NewClient(t, l, "udhcpc", "rl", "02:00:00:00:03:01")
	c.Start()
	ip := c.Bound().IP
	c.Release()
	row := s.Leases()[ip]
	if row.Valid != 0 {
		t.Fatalf("after RELEASE the last lease row for %s has valid lifetime %d, want 0", ip, row.Valid)
	}
	if isKea() {
		// Kea 2.2 deletes the lease on release (state 0); 3.x and twinleaf keep it released.
		if row.State != 0 {
			t.Errorf("Kea 2.2 released lease state = %d, want 0", row.State)
		}
		return
	}
	if row.State != 3 {
		t.Errorf("released lease state = %d, want 3 (released, kept for affinity)", row.State)
	}
	again := NewClient(t, l, "udhcpc", "rl2", "02:00:00:00:03:01")
	again.Start()
	if got := again.Bound().IP; got != ip {
		t.Errorf("returning client after release got %s, want its old %s", got, ip)
	}
}

// TestReturningClient: a client that comes back without having released
// gets its old address, both by INIT-REBOOT (dhclient remembers its lease)
// and by DISCOVER (udhcpc does not).
func TestReturningClient(t *testing.T) {
	for _, kind := range []string{"dhclient", "udhcpc"} {
		t.Run(kind, func(t *testing.T) {
			l, _, _ := labServer(t)
			c := NewClient(t, l, kind, "rt", "02:00:00:00:04:01")
			c.Start()
			ev, idx := c.WaitEvent(0, "BOUND")
			c.Stop()
			c.Start()
			again, _ := c.WaitEvent(idx+1, "BOUND", "REBOOT")
			if again.IP != ev.IP {
				t.Errorf("returning %s got %s, want %s", kind, again.IP, ev.IP)
			}
		})
	}
}

// dhclientLease writes a dhclient lease file holding addr, so the next
// start is an INIT-REBOOT asking for it.
func dhclientLease(t *testing.T, c *Client, addr string) {
	t.Helper()
	lease := `lease {
  interface "` + c.Iface + `";
  fixed-address ` + addr + `;
  option subnet-mask 255.255.255.0;
  option dhcp-lease-time 120;
  renew 4 2037/01/01 00:00:00;
  rebind 4 2037/01/01 00:00:00;
  expire 4 2037/01/01 00:00:00;
}
`
	if err := os.WriteFile(c.leaseFile(), []byte(lease), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInitRebootFromAnotherNetwork: a client asking for an address from
// another network is NAKed where Kea NAKs (a client the server knows, or
// any client when authoritative) and then gets a fresh address; an unknown
// client of a non-authoritative server is ignored instead.
func TestInitRebootFromAnotherNetwork(t *testing.T) {
	tests := []struct {
		name          string
		authoritative bool
		known         bool
		wantNAK       bool
	}{
		{name: "known client", known: true, wantNAK: true},
		{name: "unknown client, not authoritative", wantNAK: false},
		{name: "unknown client, authoritative", authoritative: true, wantNAK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var repl []string
			if tt.authoritative {
				repl = []string{`"decline-probation-period": 600,`, `"decline-probation-period": 600, "authoritative": true,`}
			}
			l, srv, _ := labServer(t, repl...)
			c := NewClient(t, l, "dhclient", "ir", "02:00:00:00:05:01")
			after := 0
			if tt.known {
				c.Start()
				_, after = c.WaitEvent(0, "BOUND")
				after++
				c.Stop()
			}
			dhclientLease(t, c, "10.99.0.50")
			cap := StartCapture(t, l, srv, "eth0", "192.0.2.254")
			c.Start()
			ev, _ := c.WaitEvent(after, "BOUND", "REBOOT")
			if !inPool(t, ev.IP, poolFirst, poolLast) {
				t.Errorf("after INIT-REBOOT for 10.99.0.50 the client got %s, want a pool address", ev.IP)
			}
			var asked, nak bool
			for _, m := range cap.Messages() {
				if m.Type == "REQUEST" && m.Requested == "10.99.0.50" {
					asked = true
				}
				if m.Type == "NAK" {
					nak = true
				}
			}
			if !asked {
				t.Fatalf("dhclient never asked for 10.99.0.50; the test did not exercise INIT-REBOOT\n%s", c.Output())
			}
			if nak != tt.wantNAK {
				t.Errorf("NAK sent = %v, want %v", nak, tt.wantNAK)
			}
		})
	}
}

// TestDecline: a client that finds its offered address in use declines it,
// and the server puts the address in probation (state 1, no identifiers).
func TestDecline(t *testing.T) {
	l, _, s := labServer(t)
	l.Host("squat", "eth0", "192.0.2.13/24") // already using the reserved address
	c := NewClient(t, l, "udhcpc", "dc", "02:00:00:00:0d:0d")
	c.Start("-a1000") // ARP-check the offered address before using it
	ev := c.Bound()
	if ev.IP == "192.0.2.13" {
		t.Fatalf("client took 192.0.2.13 although another host answers ARP for it")
	}
	row, ok := s.Leases()["192.0.2.13"]
	if !ok || row.State != 1 || row.HWAddr != "" || row.Valid != 600 {
		t.Errorf("lease row for declined 192.0.2.13 = %+v (found %v), want state 1, empty hwaddr, valid 600", row, ok)
	}
}

// TestRelayedClient: a relayed request (giaddr 198.51.100.1, sent by
// perfdhcp acting as the relay) is served from the relay's subnet.
func TestRelayedClient(t *testing.T) {
	l, srv, s := labServer(t)
	relay := l.Host("relay", "eth0", "198.51.100.1/24")
	l.In(relay, "ip", "route", "add", serverAddr+"/32", "dev", "eth0")
	l.In(srv, "ip", "route", "add", "198.51.100.0/24", "dev", "eth0")
	// perfdhcp's exit status reports drops; the lease file is what counts.
	out, _ := l.Cmd(relay, "perfdhcp", "-4", "-l", "198.51.100.1", "-r", "1", "-n", "1", "-R", "1", "-W", "1000000", serverAddr).CombinedOutput()
	var got []LeaseRow
	for _, r := range s.Leases() {
		if r.Valid > 0 {
			got = append(got, r)
		}
	}
	if len(got) != 1 || got[0].SubnetID != 2 || !inPool(t, got[0].Addr, "198.51.100.100", "198.51.100.199") {
		t.Errorf("leases after one relayed exchange = %+v, want one in subnet 2's pool\nperfdhcp:\n%s", got, out)
	}
}

// TestLateInterface: an interface named in the config that appears after
// the server started is served without a restart.
func TestLateInterface(t *testing.T) {
	if isKea() {
		t.Skip("Kea 2.2 opens its sockets only when (re)configured; serving a late interface is twinleaf's addition")
	}
	l, srv, _ := labServer(t,
		`"interfaces": [ "eth0" ]`, `"interfaces": [ "eth0", "eth1" ]`,
		`"subnet4": [`, `"subnet4": [
        { "id": 3, "subnet": "203.0.113.0/24", "interface": "eth1",
          "pools": [ { "pool": "203.0.113.100-203.0.113.199" } ] },`)
	l.Bridge("br1")
	l.LinkTo("br1", srv, "eth1", "203.0.113.2/24")
	cns := "tl" + l.tag + "late"
	l.addNS(cns)
	l.hosts = append(l.hosts, cns)
	l.LinkTo("br1", cns, "clate", "")
	c := &Client{t: t, l: l, Kind: "udhcpc", NS: cns, Iface: "clate"}
	c.dir = l.Dir
	c.events = l.Dir + "/late-events"
	if err := os.WriteFile(c.script(), []byte(hookScript("udhcpc", c.events)), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	c.Start()
	if ev := c.Bound(); !inPool(t, ev.IP, "203.0.113.100", "203.0.113.199") {
		t.Errorf("client on the late interface got %s, want 203.0.113.100-199", ev.IP)
	}
}
