//go:build integration

package test

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ha"
)

// haConflictCounters reads the lease update conflict counters from the
// node's status-get: the local server's conflicts resolved in favour of
// the partner, and the updates the partner refused and how many a retry
// fixed. Absent counters read 0.
func haConflictCounters(t *testing.T, l *Lab, n haNode) (resolved, refused, fixed uint64) {
	t.Helper()
	s := haServerObjects(t, l, n)
	return counter(s["local"], "lease-update-conflicts-resolved"), counter(s["remote"], "lease-update-conflicts"),
		counter(s["remote"], "lease-update-conflicts-fixed-by-retry")
}

// haServerObjects is the node's status-get high-availability entry's
// server objects, "local" and (with a partner) "remote".
func haServerObjects(t *testing.T, l *Lab, n haNode) map[string]map[string]any {
	t.Helper()
	a, err := n.command(l, "status-get", nil)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		HA []struct {
			Servers map[string]map[string]any `json:"ha-servers"`
		} `json:"high-availability"`
	}
	if err := json.Unmarshal(a.Arguments, &st); err != nil || len(st.HA) != 1 {
		t.Fatalf("status-get of %s has no high-availability entry: %v: %s", n.addr, err, a.Arguments)
	}
	return st.HA[0].Servers
}

// counter reads a counter of a status-get object; absent reads 0.
func counter(obj map[string]any, key string) uint64 {
	v, _ := obj[key].(float64)
	return uint64(v)
}

// homePairConf is the home template for server i (1 or 2) on the lab,
// with max-rejected-lease-updates 1: Kea would terminate the pair at the
// first client whose update the partner rejects.
func homePairConf(t *testing.T, l *Lab, i int, dir string) string {
	name := fmt.Sprintf("home-server%d.conf", i)
	return haConfig(t, l, filepath.Join(repoRoot(t), "configs", name), name, dir,
		[2]string{"enp0s8", "eth0"}, [2]string{"192.168.1.", "192.0.2."},
		[2]string{`"max-unacked-clients": 0,`, `"max-unacked-clients": 0, "max-rejected-lease-updates": 1,`})
}

// TestHAConflictStandbyHeld: the standby's store disagrees with the
// primary before the client comes. It holds the address the client will
// get for another MAC (a client that randomised its MAC, say) and holds
// another address for the client itself. The client gets its lease from
// the primary; the standby ends up holding exactly the primary's lease,
// counts both conflicts in status-get and logs them; both servers stay in
// hot-standby.
func TestHAConflictStandbyHeld(t *testing.T) {
	l, ns, dirs := haLab(t)
	primary := haNode{ns: ns[0], addr: haPrimary, url: "http://" + haPrimary + ":8000/"}
	standby := haNode{ns: ns[1], addr: haStandby, url: "http://" + haStandby + ":8000/"}
	StartServer(t, l, primary.ns, dirs[0], homePairConf(t, l, 1, dirs[0]))
	s2 := StartServer(t, l, standby.ns, dirs[1], homePairConf(t, l, 2, dirs[1]))
	primary.waitState(t, l, "hot-standby")
	standby.waitState(t, l, "hot-standby")
	if !strings.Contains(s2.Output(), "HA_MAX_REJECTED_LEASE_UPDATES_IGNORED server2: ") {
		t.Errorf("the standby did not warn that max-rejected-lease-updates no longer terminates")
	}

	const want, stale = "192.0.2.150", "192.0.2.160"
	const clientMAC, otherMAC = "02:00:00:00:7c:01", "02:00:00:00:7c:99"
	for _, add := range []map[string]any{
		{"ip-address": want, "hw-address": otherMAC},
		{"ip-address": stale, "hw-address": clientMAC},
	} {
		if a, err := standby.command(l, "lease4-add", add); err != nil || a.Result != 0 {
			t.Fatalf("lease4-add %v on the standby: %+v, %v", add, a, err)
		}
	}
	standby.holds(t, l, want, otherMAC)
	if got := primary.leases(t, l); len(got) != 0 {
		t.Fatalf("the primary holds %v before any client; want nothing", got)
	}

	c := NewClient(t, l, "udhcpc", "cf1", clientMAC)
	c.Start("-r", want)
	if ip := c.Bound().IP; ip != want {
		t.Fatalf("the client asked for %s and got %q", want, ip)
	}
	primary.holds(t, l, want, clientMAC)
	standby.holds(t, l, want, clientMAC)
	if got1, got2 := primary.leases(t, l), standby.leases(t, l); !mapsEqual(got1, got2) {
		t.Errorf("the primary holds %v and the standby %v; want the primary's lease set on both", got1, got2)
	}
	if resolved, _, _ := haConflictCounters(t, l, standby); resolved != 2 {
		t.Errorf("the standby's lease-update-conflicts-resolved is %d, want 2 (the address held by %s, %s's other address)", resolved, otherMAC, clientMAC)
	}
	if _, refused, _ := haConflictCounters(t, l, primary); refused != 0 {
		t.Errorf("the primary counts %d refused updates; the standby should have taken them all", refused)
	}
	for _, line := range []string{
		"HA_LEASE_UPDATE_CONFLICT_RESOLVED server2: lease4-update for " + want + " conflicted with this server's lease (the address is held by another client",
		"HA_LEASE_UPDATE_CONFLICT_RESOLVED server2: lease4-update for " + want + " conflicted with this server's lease (the client held another address in the subnet (" + stale,
	} {
		if !strings.Contains(s2.Output(), line) {
			t.Errorf("the standby's log lacks %q", line)
		}
	}
	for _, n := range []haNode{primary, standby} {
		if st, err := n.state(l); err != nil || st != "hot-standby" {
			t.Errorf("%s is in %q (%v) after the conflicts, want hot-standby", n.addr, st, err)
		}
	}
}

// conflictingStandby is a Kea 3.x standby that answers every
// lease4-update with a conflict (rc 4) and everything else as a healthy
// partner does.
func conflictingStandby(command string) []byte {
	if command == "lease4-update" {
		return []byte(`[{"result":4,"text":"failed to update the lease with address 192.0.2.100 either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed"}]`)
	}
	return slowStandby(0)(command)
}

// TestHAConflictPartnerRefuses: a Kea 3.x standby rejects every lease
// update as a conflict, with max-rejected-lease-updates 1. Kea would
// terminate at the first client; twinleaf answers every client from the
// primary, retries each update once (lease4-del, then lease4-update),
// counts the refusals in status-get and twinleafctl ha status, and stays
// in hot-standby.
func TestHAConflictPartnerRefuses(t *testing.T) {
	l, ns, dirs := haLab(t)
	var p fakePartner
	p.serve(t, listenIn(t, ns[1], haStandby+":8000"), conflictingStandby)
	primary := haNode{ns: ns[0], addr: haPrimary, url: "http://" + haPrimary + ":8000/"}
	s := StartServer(t, l, ns[0], dirs[0], homePairConf(t, l, 1, dirs[0]))
	watchState(t, l, primary, []string{"waiting", "syncing", "ready", "hot-standby"},
		func(st string) bool { return st == "hot-standby" })

	for i := range 3 {
		c := NewClient(t, l, "udhcpc", fmt.Sprintf("cr%d", i), fmt.Sprintf("02:00:00:00:7d:%02x", i))
		c.Start()
		primary.holds(t, l, c.Bound().IP, c.MAC)
	}
	if _, refused, fixed := haConflictCounters(t, l, primary); refused != 3 || fixed != 0 {
		t.Errorf("status-get counts %d refused updates, %d fixed; want 3 and 0", refused, fixed)
	}
	if got := p.count("lease4-update"); got != 6 {
		t.Errorf("the partner got %d lease4-update, want 6 (each client's, then its retry)", got)
	}
	if got := p.count("lease4-del"); got != 3 {
		t.Errorf("the partner got %d lease4-del, want 3 (one before each retry)", got)
	}
	if n := strings.Count(s.Output(), "HA_LEASE_UPDATE_CONFLICT server1: lease update lease4-update for "); n != 3 {
		t.Errorf("%d HA_LEASE_UPDATE_CONFLICT lines, want 3", n)
	}
	if out := haCtl(t, l, primary, nil, "ha", "status"); !strings.Contains(out, "lease update conflicts: 3 refused by the partner (0 fixed by a retry)") {
		t.Errorf("twinleafctl ha status does not show the conflicts:\n%s", out)
	}
	// Heartbeats, not seconds: the pair stays formed through several.
	start := p.count("ha-heartbeat")
	watchState(t, l, primary, []string{"hot-standby"}, func(string) bool { return p.count("ha-heartbeat") >= start+3 })
	for _, bad := range []string{"TERMINAT", "HA_LEASE_UPDATE_FAILED"} {
		if strings.Contains(s.Output(), bad) {
			t.Errorf("conflicting updates caused %s", bad)
		}
	}
}

// macInScope returns a MAC address, 02:00:00:00:<b>:<n>, whose client
// hashes to the load-balancing scope of peer index scope (0 the primary,
// 1 the secondary) whether the client sends its MAC as client-id
// (udhcpc) or not.
func macInScope(b byte, scope int) string {
	for n := 0; n < 256; n++ {
		hw := []byte{2, 0, 0, 0, b, byte(n)}
		cid := append([]byte{1}, hw...)
		if int(ha.LoadBalanceHash(hw))%2 == scope && int(ha.LoadBalanceHash(cid))%2 == scope {
			return net.HardwareAddr(hw).String()
		}
	}
	panic("no MAC in scope")
}

// TestHALoadBalancingConflict: a load-balancing twinleaf pair sharing one
// pool (unsplit, as Kea's documentation warns against) where both servers
// give one address to their own clients. The secondary gave 192.0.2.150
// to a client of its scope two minutes ago (added on it alone, so the
// primary does not know); a real client of the primary's scope then asks
// the primary for that address. The secondary refuses the primary's
// update and keeps its earlier lease, the primary holds back the ACK and
// takes the secondary's lease, and the client is moved to another address
// before it is ever bound to 192.0.2.150. Both servers end with the same
// two leases, count the conflict in status-get and stay in
// load-balancing. Both warn at start-up that the pool is shared.
func TestHALoadBalancingConflict(t *testing.T) {
	l, ns, dirs := haLab(t)
	var nodes [2]haNode
	var out [2]*Server
	for i, addr := range []string{haPrimary, haStandby} {
		name := fmt.Sprintf("home-server%d.conf", i+1)
		conf := haConfig(t, l, filepath.Join(repoRoot(t), "configs", name), "lbc-"+name, dirs[i],
			append([][2]string{{"enp0s8", "eth0"}, {"192.168.1.", "192.0.2."}}, loadBalancing...)...)
		nodes[i] = haNode{ns: ns[i], addr: addr, url: "http://" + addr + ":8000/"}
		out[i] = StartServer(t, l, ns[i], dirs[i], conf)
	}
	primary, secondary := nodes[0], nodes[1]
	primary.waitState(t, l, "load-balancing")
	secondary.waitState(t, l, "load-balancing")
	for i, s := range out {
		// Kea's message for configuration warnings, then ours.
		if !strings.Contains(s.Output(), "DHCP4_CONFIG_SYNTAX_WARNING configuration syntax warning: ") ||
			!strings.Contains(s.Output(), "pool 192.0.2.100-192.0.2.199 is open to both servers of load-balancing relationship") {
			t.Errorf("server%d did not warn that its pool is shared", i+1)
		}
	}

	const contested = "192.0.2.150"
	theirs, mine := macInScope(0x7d, 1), macInScope(0x7d, 0)
	add := map[string]any{"ip-address": contested, "hw-address": theirs, "valid-lft": 3600,
		"expire": time.Now().Add(time.Hour - 2*time.Minute).Unix()}
	if a, err := secondary.command(l, "lease4-add", add); err != nil || a.Result != 0 {
		t.Fatalf("lease4-add on the secondary: %+v, %v", a, err)
	}
	if got := primary.leases(t, l); len(got) != 0 {
		t.Fatalf("the primary holds %v before any client; want nothing", got)
	}

	c := NewClient(t, l, "udhcpc", "lbc", mine)
	c.Start("-r", contested)
	got := c.Bound().IP
	if got == "" || got == contested {
		t.Fatalf("the client was bound to %q; want an address other than the secondary's %s", got, contested)
	}
	for _, n := range nodes {
		n.holds(t, l, contested, theirs)
		n.holds(t, l, got, mine)
	}
	if l1, l2 := primary.leases(t, l), secondary.leases(t, l); !mapsEqual(l1, l2) || len(l1) != 2 {
		t.Errorf("the primary holds %v and the secondary %v; want the same two leases", l1, l2)
	}
	if kept := counter(haServerObjects(t, l, secondary)["local"], "lease-update-conflicts-kept"); kept != 1 {
		t.Errorf("the secondary's lease-update-conflicts-kept is %d, want 1", kept)
	}
	if lost := counter(haServerObjects(t, l, primary)["remote"], "lease-update-conflicts-lost"); lost != 1 {
		t.Errorf("the primary's lease-update-conflicts-lost is %d, want 1", lost)
	}
	for i, line := range []string{"HA_LEASE_UPDATE_CONFLICT_LOST server1: lease update lease4-update", "HA_LEASE_UPDATE_CONFLICT_KEPT server2: lease update from server1 gives " + contested} {
		if !strings.Contains(out[i].Output(), line) {
			t.Errorf("server%d's log lacks %q", i+1, line)
		}
	}
	for _, n := range nodes {
		if st, err := n.state(l); err != nil || st != "load-balancing" {
			t.Errorf("%s is in %q (%v) after the conflict, want load-balancing", n.addr, st, err)
		}
	}
}
