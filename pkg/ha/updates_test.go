package ha

import (
	"context"
	"errors"
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
			out = append(out, c.Command+" "+c.Arguments["ip-address"].(string))
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

func TestSendUpdate(t *testing.T) {
	hw := net.HardwareAddr{0, 0, 0, 0, 0, 1}
	answer := func(body string) func(map[string]any) ([]byte, error) {
		return func(map[string]any) ([]byte, error) { return []byte(body), nil }
	}
	tests := []struct {
		name        string
		cmd         Command
		answer      func(map[string]any) ([]byte, error)
		err         error
		unavailable bool
		rejected    int
	}{
		{"added", LeaseUpdateCommand(Kea3, testLease(1, 1)), ok("IPv4 lease added."), nil, false, 0},
		{"delete of a missing lease", LeaseDeleteCommand(Kea3, testLease(1, 1)), answer(`[{"result":3,"text":"IPv4 lease not found."}]`), nil, false, 0},
		{"empty answer to an update", LeaseUpdateCommand(Kea3, testLease(1, 1)), answer(`[{"result":3,"text":"x"}]`), nil, false, 0},
		{"conflict", LeaseUpdateCommand(Kea3, testLease(1, 1)), answer(`[{"result":4,"text":"address in use"}]`), ErrConflict, false, 1},
		{"2.2 error", LeaseUpdateCommand(Kea3, testLease(1, 1)), answer(`[{"result":1,"text":"Invalid state value: 3"}]`), errors.New(""), true, 0},
		{"unauthorized map", LeaseUpdateCommand(Kea3, testLease(1, 1)), answer(`{"result":401,"text":"Unauthorized"}`), errors.New(""), true, 0},
		{"no answer", LeaseUpdateCommand(Kea3, testLease(1, 1)), nil, errors.New(""), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, haConfig("hot-standby", "server1"))
			r.force(HotStandby, HotStandby)
			if tt.answer != nil {
				r.tr.answer[tt.cmd.Command] = tt.answer
			}
			err := SendUpdate(context.Background(), r.m, r.tr, "server2", tt.cmd, hw, nil)
			if (err == nil) != (tt.err == nil) || (errors.Is(tt.err, ErrConflict) && !errors.Is(err, ErrConflict)) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
			if got := r.m.PartnerState() == Unavailable; got != tt.unavailable {
				t.Errorf("partner unavailable %v, want %v", got, tt.unavailable)
			}
			if n := len(r.m.comm.rejected); n != tt.rejected {
				t.Errorf("%d rejected clients, want %d", n, tt.rejected)
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
