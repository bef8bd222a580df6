package ha

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

func TestUpdateCommands(t *testing.T) {
	a, b := testLease(1, 100), testLease(2, 200)
	released := testLease(3, 300)
	released.State, released.ValidLft = lease.StateReleased, 0
	changes := []lease.Change{
		{Old: nil, New: a},              // new lease
		{Old: testLease(7, 50), New: b}, // client moved from .7 to .2
		{Old: testLease(4, 10)},         // released without affinity
		{Old: released, New: released},
	}
	name := func(cs []Command) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Command+" "+c.Addr())
		}
		return strings.Join(out, ",")
	}
	if got, want := name(UpdateCommands(Kea3, changes)), "lease4-del 192.0.2.7,lease4-del 192.0.2.4,lease4-update 192.0.2.3,lease4-update 192.0.2.1,lease4-update 192.0.2.2"; got != want {
		t.Errorf("3.x:\n got %s\nwant %s", got, want)
	}
	if got, want := name(UpdateCommands(Kea22, changes)), "lease4-del 192.0.2.7,lease4-del 192.0.2.4,lease4-del 192.0.2.3,lease4-update 192.0.2.1,lease4-update 192.0.2.2"; got != want {
		t.Errorf("2.2:\n got %s\nwant %s", got, want)
	}
}

// answers answers with bodies in turn, repeating the last.
func answers(bodies ...string) func(map[string]any) ([]byte, error) {
	n := 0
	return func(map[string]any) ([]byte, error) {
		b := bodies[min(n, len(bodies)-1)]
		n++
		return []byte(b), nil
	}
}

const (
	rc0 = `[{"result":0,"text":"IPv4 lease updated."}]`
	rc1 = `[{"result":1,"text":"Invalid state value: 3"}]`
	rc3 = `[{"result":3,"text":"IPv4 lease not found."}]`
	rc4 = `[{"result":4,"text":"ResourceBusy: IP address:192.0.2.1 could not be updated."}]`
)

func TestSendUpdate(t *testing.T) {
	hw := net.HardwareAddr{0, 0, 0, 0, 0, 1}
	update, del := LeaseUpdateCommand(Kea3, testLease(1, 1)), LeaseDeleteCommand(Kea3, testLease(1, 1))
	tests := []struct {
		name     string
		cmd      Command
		update   func(map[string]any) ([]byte, error)
		del      func(map[string]any) ([]byte, error)
		sent     string
		failed   bool // an error: the reply is held back, the partner unavailable
		fixed    bool // a conflict the second attempt resolved
		conflict bool
	}{
		{name: "added", cmd: update, update: answers(rc0), sent: "lease4-update"},
		{name: "delete of a missing lease", cmd: del, del: answers(rc3), sent: "lease4-del"},
		{name: "empty answer to an update", cmd: update, update: answers(rc3), sent: "lease4-update"},
		{name: "conflict resolved by del and update", cmd: update, update: answers(rc4, rc0), del: answers(rc0),
			sent: "lease4-update,lease4-del,lease4-update", conflict: true, fixed: true},
		{name: "conflict the partner keeps", cmd: update, update: answers(rc4), del: answers(rc3),
			sent: "lease4-update,lease4-del,lease4-update", conflict: true},
		{name: "conflict, the deletion refused", cmd: update, update: answers(rc4), del: answers(rc1),
			sent: "lease4-update,lease4-del", conflict: true},
		{name: "conflict, no answer to the retry", cmd: update, update: answers(rc4),
			sent: "lease4-update,lease4-del", conflict: true},
		{name: "conflict on a deletion, resent", cmd: del, del: answers(rc4, rc0),
			sent: "lease4-del,lease4-del", conflict: true, fixed: true},
		{name: "2.2 error", cmd: update, update: answers(rc1), sent: "lease4-update", failed: true},
		{name: "unauthorized map", cmd: update, update: answers(`{"result":401,"text":"Unauthorized"}`), sent: "lease4-update", failed: true},
		{name: "no answer", cmd: update, sent: "lease4-update", failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, haConfig("hot-standby", "server1"))
			r.force(HotStandby, HotStandby)
			if tt.update != nil {
				r.tr.answer["lease4-update"] = tt.update
			}
			if tt.del != nil {
				r.tr.answer["lease4-del"] = tt.del
			}
			err := SendUpdate(context.Background(), r.m, r.tr, "server2", tt.cmd, hw, nil)
			r.checkSent(t, err, tt.failed, tt.sent)
			remote := r.m.Status()["ha-servers"].(map[string]any)["remote"].(map[string]any)
			conflicts, fixed := remote["lease-update-conflicts"], remote["lease-update-conflicts-fixed-by-retry"]
			switch {
			case !tt.conflict && (conflicts != nil || fixed != nil):
				t.Errorf("status-get shows conflicts %v, fixed %v; want neither key", conflicts, fixed)
			case tt.conflict && (conflicts != uint64(1) || fixed != map[bool]uint64{true: 1}[tt.fixed]):
				t.Errorf("status-get shows conflicts %v, fixed %v; want 1, fixed %v", conflicts, fixed, tt.fixed)
			}
			logged := strings.Contains(r.log.String(), "HA_LEASE_UPDATE_CONFLICT server1: lease update "+tt.cmd.Command+" for [hwtype=1 00:00:00:00:00:01]")
			if logged != tt.conflict {
				t.Errorf("conflict logged %v, want %v:\n%s", logged, tt.conflict, r.log)
			}
		})
	}
}

func TestLeaseBacklog(t *testing.T) {
	tr := &fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){}}
	b := NewLeaseBacklog(2, tr, "server2")
	if !b.Push(LeaseUpdateCommand(Kea3, testLease(1, 1))) || !b.Push(LeaseDeleteCommand(Kea3, testLease(2, 1))) {
		t.Fatal("push within the limit refused")
	}
	if err := b.Replay(context.Background()); err == nil || b.Len() != 2 {
		t.Fatalf("replay to a dead partner: %v, %d left", err, b.Len())
	}
	tr.answer["lease4-update"] = ok("IPv4 lease updated.")
	tr.answer["lease4-del"] = func(map[string]any) ([]byte, error) {
		return []byte(`[{"result":3,"text":"IPv4 lease not found."}]`), nil
	}
	if err := b.Replay(context.Background()); err != nil || b.Len() != 0 {
		t.Fatalf("replay: %v, %d left", err, b.Len())
	}
	if got := strings.Join(tr.commands(), ","); got != "lease4-update,lease4-update,lease4-del" {
		t.Errorf("sent %s", got)
	}
	for range 2 {
		b.Push(LeaseUpdateCommand(Kea3, testLease(1, 1)))
	}
	if b.Push(LeaseUpdateCommand(Kea3, testLease(3, 1))) || !b.Overflowed() {
		t.Error("third push into a backlog of 2 accepted")
	}
	b.Clear()
	if b.Overflowed() || b.Len() != 0 {
		t.Error("clear left the backlog overflowed or full")
	}
}

// TestLeaseBacklogConflict: a replayed update the partner answers with a
// conflict is retried once and leaves the queue; the replay goes on and
// no resync (ha-reset) is needed.
func TestLeaseBacklogConflict(t *testing.T) {
	for _, tt := range []struct {
		name   string
		update func(map[string]any) ([]byte, error)
		fixed  bool
	}{
		{"fixed by the retry", answers(rc4, rc0, rc0), true},
		{"kept by the partner", answers(rc4, rc4, rc0), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := &fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){
				"lease4-update": tt.update, "lease4-del": answers(rc0)}}
			b := NewLeaseBacklog(4, tr, "server2")
			var heard []bool
			b.Conflict = func(fixed bool) { heard = append(heard, fixed) }
			b.Push(LeaseUpdateCommand(Kea3, testLease(1, 1)))
			b.Push(LeaseUpdateCommand(Kea3, testLease(2, 1)))
			if err := b.Replay(context.Background()); err != nil || b.Len() != 0 {
				t.Fatalf("replay: %v, %d left", err, b.Len())
			}
			if len(heard) != 1 || heard[0] != tt.fixed {
				t.Errorf("conflicts heard %v, want one, fixed %v", heard, tt.fixed)
			}
			if got, want := strings.Join(tr.commands(), ","), "lease4-update,lease4-del,lease4-update,lease4-update"; got != want {
				t.Errorf("sent %s, want %s", got, want)
			}
		})
	}
}
