package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

type mapStore map[netip.Addr]*lease.Lease

func (m mapStore) Get(a netip.Addr) (*lease.Lease, bool) { l, ok := m[a]; return l, ok }
func (m mapStore) Commit(_ context.Context, old, nl *lease.Lease) error {
	if cur := m[nl.Addr]; cur != old {
		return fmt.Errorf("stale old lease for %s", nl.Addr)
	}
	m[nl.Addr] = nl
	return nil
}

func testLease(last byte, cltt int64) *lease.Lease {
	return &lease.Lease{Addr: netip.AddrFrom4([4]byte{192, 0, 2, last}), HWAddr: net.HardwareAddr{0, 0, 0, 0, 0, last},
		SubnetID: 1, ValidLft: 3600, CLTT: time.Unix(cltt, 0)}
}

// pageServer answers lease4-get-page from remote as lease_cmds does:
// addresses strictly after from, ascending, at most limit.
func pageServer(remote []*lease.Lease) func(map[string]any) ([]byte, error) {
	return func(args map[string]any) ([]byte, error) {
		from := netip.IPv4Unspecified()
		if f := args["from"].(string); f != "start" {
			from = netip.MustParseAddr(f)
		}
		limit := int(args["limit"].(float64))
		var out []any
		for _, l := range remote {
			if from.Less(l.Addr) && len(out) < limit {
				m := leaseArgsMap(&leaseArgs{l: l, v: Kea22})
				delete(m, "expire")
				m["cltt"] = l.CLTT.Unix()
				out = append(out, m)
			}
		}
		rc := 0
		if len(out) == 0 {
			rc, out = 3, []any{}
		}
		return json.Marshal([]any{map[string]any{"result": rc, "text": fmt.Sprintf("%d IPv4 lease(s) found.", len(out)),
			"arguments": map[string]any{"count": len(out), "leases": out}}})
	}
}

func newSync(tr *fakeTransport, store mapStore) *LeaseSync {
	return &LeaseSync{Transport: tr, Partner: "server1", Label: "server1 (http://192.0.2.1:8000/)", ServerName: "server2",
		PageLimit: 2, Timeout: 60 * time.Second, Store: store}
}

func TestLeaseSync(t *testing.T) {
	remote := []*lease.Lease{testLease(1, 100), testLease(2, 200), testLease(3, 300), testLease(4, 400), testLease(5, 500)}
	local := mapStore{}
	newer := testLease(2, 900) // ours is newer: kept
	older := testLease(3, 10)  // ours is older: replaced
	only := testLease(9, 50)   // only ours: kept
	for _, l := range []*lease.Lease{newer, older, only} {
		local[l.Addr] = l
	}
	tr := &fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){
		"dhcp-disable": ok("DHCPv4 service disabled for 60 seconds"), "lease4-get-page": pageServer(remote),
		"ha-sync-complete-notify": ok("Server successfully notified about the synchronization completion."),
	}}
	if err := newSync(tr, local).Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "dhcp-disable,lease4-get-page,dhcp-disable,lease4-get-page,dhcp-disable,lease4-get-page,ha-sync-complete-notify"
	if got := strings.Join(tr.commands(), ","); got != want {
		t.Errorf("sent %s\nwant %s", got, want)
	}
	if args := tr.sent[0]["arguments"].(map[string]any); args["max-period"] != float64(60) {
		t.Errorf("dhcp-disable arguments %v", args)
	}
	if args := tr.sent[3]["arguments"].(map[string]any); args["from"] != "192.0.2.2" {
		t.Errorf("second page from %v", args["from"])
	}
	if len(local) != 6 || local[newer.Addr] != newer || local[older.Addr].CLTT.Unix() != 300 || local[only.Addr] != only {
		t.Errorf("merged store: %d leases, .2 cltt %d, .3 cltt %d", len(local), local[newer.Addr].CLTT.Unix(), local[older.Addr].CLTT.Unix())
	}
}

func TestLeaseSyncFailures(t *testing.T) {
	rc2 := func(map[string]any) ([]byte, error) {
		return []byte(`[ { "result": 2, "text": "'ha-sync-complete-notify' command not supported." } ]`), nil
	}
	tests := []struct {
		name    string
		answers map[string]func(map[string]any) ([]byte, error)
		sent    string
		err     string
	}{
		{"old partner without sync-complete-notify",
			map[string]func(map[string]any) ([]byte, error){"dhcp-disable": ok(""), "lease4-get-page": pageServer(nil),
				"ha-sync-complete-notify": rc2, "dhcp-enable": ok("")},
			"dhcp-disable,lease4-get-page,ha-sync-complete-notify,dhcp-enable", ""},
		{"disable fails", map[string]func(map[string]any) ([]byte, error){},
			"dhcp-disable", "connection refused"},
		{"page fails", map[string]func(map[string]any) ([]byte, error){"dhcp-disable": ok(""), "dhcp-enable": ok("")},
			"dhcp-disable,lease4-get-page,dhcp-enable", "connection refused"},
		{"bad page", map[string]func(map[string]any) ([]byte, error){"dhcp-disable": ok(""), "dhcp-enable": ok(""),
			"lease4-get-page": ok("no arguments")},
			"dhcp-disable,lease4-get-page,dhcp-enable", "no arguments map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &fakeTransport{answer: tt.answers}
			err := newSync(tr, mapStore{}).Sync(context.Background())
			if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
			if got := strings.Join(tr.commands(), ","); got != tt.sent {
				t.Errorf("sent %s, want %s", got, tt.sent)
			}
		})
	}
}
