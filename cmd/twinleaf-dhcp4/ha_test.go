package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/dhcp4"
	"github.com/twinleaf/twinleaf/pkg/ha"
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/server"
)

func TestClientOf(t *testing.T) {
	a := &lease.Lease{Addr: netip.MustParseAddr("192.0.2.100"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, ClientID: []byte{1, 2}}
	b := &lease.Lease{Addr: netip.MustParseAddr("192.0.2.101"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	for _, tc := range []struct {
		name    string
		changes []lease.Change
		want    net.HardwareAddr
	}{
		{"none", nil, nil},
		{"new lease", []lease.Change{{New: a}}, a.HWAddr},
		{"deletion names the old lease's client", []lease.Change{{Old: b}}, b.HWAddr},
		{"the last change wins", []lease.Change{{Old: a}, {Old: a, New: b}}, b.HWAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hw, _ := clientOf(tc.changes)
			if !slices.Equal(hw, tc.want) {
				t.Errorf("clientOf = %v, want %v", hw, tc.want)
			}
		})
	}
}

func TestDedicatedListener(t *testing.T) {
	for _, tc := range []struct {
		global, ha, dedicated, want bool
	}{
		{true, true, true, true},
		{false, true, true, false},
		{true, false, true, false},
		{true, true, false, false},
	} {
		c := &config.Dhcp4{MultiThreading: config.MultiThreading{Enable: tc.global}}
		h := config.HA{MultiThreading: config.HAMultiThreading{Enable: tc.ha, DedicatedListener: tc.dedicated}}
		if got := dedicatedListener(c, h); got != tc.want {
			t.Errorf("global MT %v, HA MT %v, dedicated %v: %v, want %v", tc.global, tc.ha, tc.dedicated, got, tc.want)
		}
	}
}

func TestIsBackup(t *testing.T) {
	peers := []config.Peer{{Name: "server1", Role: "primary"}, {Name: "server3", Role: "backup"}}
	for name, want := range map[string]bool{"server1": false, "server3": true, "unknown": false} {
		if got := isBackup(config.HA{ThisServerName: name, Peers: peers}); got != want {
			t.Errorf("isBackup(%s) = %v, want %v", name, got, want)
		}
	}
}

// journal records what the server's committer writes.
type journal struct {
	mu      sync.Mutex
	changes []lease.Change
}

func (j *journal) Commit(ch ...lease.Change) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.changes = append(j.changes, ch...)
	return nil
}

func TestSyncStore(t *testing.T) {
	store := lease.NewStore()
	eng, err := dhcp4.NewEngine(&dhcp4.Network{}, dhcp4.Deps{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	j := &journal{}
	srv := server.New(server.Config{Engine: eng, Journal: j})
	t.Cleanup(srv.Close)
	s := syncStore{&service{store: store, srv: srv}}
	addr := netip.MustParseAddr("192.0.2.100")
	mk := func(mac byte) *lease.Lease {
		return &lease.Lease{Addr: addr, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, mac}, SubnetID: 1,
			ValidLft: 3600, CLTT: time.Unix(1700000000, 0)}
	}

	first := mk(1)
	if err := s.Commit(context.Background(), nil, first); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(addr); got != first || len(j.changes) != 1 || j.changes[0].New != first {
		t.Fatalf("free address: store has %v, journal %v", got, j.changes)
	}

	// The store changed after the sync read it: the store's lease stays
	// and is written again after the synced one, so the file agrees.
	current := mk(2)
	store.Put(current)
	synced := mk(3)
	if err := s.Commit(context.Background(), first, synced); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(addr); got != current {
		t.Errorf("lost race: store has %v, want the concurrent lease kept", got)
	}
	last := j.changes[len(j.changes)-1]
	if len(j.changes) != 3 || last.Old != synced || last.New != current {
		t.Errorf("lost race: journal %v, want the synced lease then the store's lease again", j.changes)
	}
}

// TestCheckConfigHAFiles: -T reads the HA peers' certificate files as a
// start would, and names the one that is missing.
func TestCheckConfigHAFiles(t *testing.T) {
	var stdout, stderr strings.Builder
	if rc := checkConfig("../../configs/secure-mt-server1.conf", true, &stdout, &stderr); rc != 1 {
		t.Fatalf("-T exit %d, want 1; stdout %q", rc, stdout.String())
	}
	if want := "high-availability: ha: peer server2: ctrl: trust-anchor: stat /usr/lib/kea/CA.pem"; !strings.Contains(stderr.String(), want) {
		t.Errorf("-T says %q, want it to contain %q", stderr.String(), want)
	}
	if rc := checkConfig("../../configs/secure-mt-server1.conf", false, &stdout, &stderr); rc != 0 {
		t.Errorf("-t exit %d, want 0 (files are read only by -T): %s", rc, stderr.String())
	}
}

// TestParkLimit: parked-packet-limit reaches the server as Kea reads it,
// 0 meaning no limit.
func TestParkLimit(t *testing.T) {
	for _, tt := range []struct {
		in   uint32
		want int
	}{
		{0, server.NoParkLimit},
		{1, 1},
		{256, 256},
		{math.MaxUint32, math.MaxInt32},
	} {
		if got := parkLimit(tt.in); got != tt.want {
			t.Errorf("parkLimit(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// fakeBackup is a backup's control socket: it answers version-get as the
// given release and records the commands it gets; down refuses all.
type fakeBackup struct {
	release string
	mu      sync.Mutex
	got     []string
	down    bool
}

func (f *fakeBackup) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct{ Command string }
	json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	f.got = append(f.got, req.Command)
	if req.Command == "version-get" {
		fmt.Fprintf(w, `[{"result":0,"text":%q}]`, f.release)
		return
	}
	fmt.Fprint(w, `[{"result":0,"text":"done"}]`)
}

func (f *fakeBackup) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// TestBackupForms sends a released lease to two backups, a Kea 2.2 one
// and a Kea 3.x one: each is identified first and gets the form its
// release takes (2.2 refuses 3.x's released-lease update, so it gets
// lease4-del). A backup that fails is identified again before its next
// update, and does not keep the other from its own.
func TestBackupForms(t *testing.T) {
	old, cur := &fakeBackup{release: "2.2.0"}, &fakeBackup{release: "3.0.1"}
	h := config.HA{ThisServerName: "server1"}
	for _, b := range []struct {
		name string
		f    *fakeBackup
	}{{"server3", old}, {"server4", cur}} {
		srv := httptest.NewServer(b.f)
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL + "/")
		h.Peers = append(h.Peers, config.Peer{Name: b.name, Role: "backup", URL: u})
	}
	tr, err := ha.NewHTTPTransport(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	s := &haService{transport: tr, life: context.Background(), log: hclog.NewNullLogger(),
		backups: []*ha.BackupPeer{{Name: "server3", Transport: tr}, {Name: "server4", Transport: tr}}}
	released := []lease.Change{{New: &lease.Lease{Addr: netip.MustParseAddr("192.0.2.100"),
		HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, SubnetID: 1, ValidLft: 3600, State: lease.StateReleased}}}

	if err := s.sendBackups(released); err != nil {
		t.Fatal(err)
	}
	if got, want := old.commands(), []string{"version-get", "lease4-del"}; !slices.Equal(got, want) {
		t.Errorf("Kea 2.2 backup got %v, want %v", got, want)
	}
	if got, want := cur.commands(), []string{"version-get", "lease4-update"}; !slices.Equal(got, want) {
		t.Errorf("Kea 3.x backup got %v, want %v", got, want)
	}

	old.mu.Lock()
	old.down = true
	old.mu.Unlock()
	if err := s.sendBackups(released); err == nil || !strings.Contains(err.Error(), "server3") {
		t.Errorf("a backup down: %v, want an error naming server3", err)
	}
	if got := cur.commands(); len(got) != 3 || got[2] != "lease4-update" {
		t.Errorf("with the other backup down, the Kea 3.x backup got %v", got)
	}
	old.mu.Lock()
	old.down = false
	old.mu.Unlock()
	if err := s.sendBackups(released); err != nil {
		t.Fatal(err)
	}
	if got, want := old.commands(), []string{"version-get", "lease4-del", "version-get", "lease4-del"}; !slices.Equal(got, want) {
		t.Errorf("Kea 2.2 backup back up got %v, want %v (identified again)", got, want)
	}
}
