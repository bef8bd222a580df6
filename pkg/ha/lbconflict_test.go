package ha

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/leasecmds"
)

var (
	primaryScopeHW   = net.HardwareAddr{0x08, 0x00, 0x27, 0xaa, 0xbb, 0xcc} // hashes to server1
	secondaryScopeHW = net.HardwareAddr{0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f} // hashes to server2
)

// lbLease is a lease of hw at 192.0.2.40 granted at cltt.
func lbLease(hw net.HardwareAddr, cltt int64) *lease.Lease {
	return &lease.Lease{Addr: netip.MustParseAddr("192.0.2.40"), HWAddr: hw, SubnetID: 1, ValidLft: 3600, CLTT: time.Unix(cltt, 0)}
}

func TestKeepLocal(t *testing.T) {
	tests := []struct {
		name        string
		mode, self  string
		lbProtocol  int
		local, sent *lease.Lease
		keep        bool
	}{
		{"earlier local grant kept", "load-balancing", "server1", 1, lbLease(primaryScopeHW, 100), lbLease(secondaryScopeHW, 101), true},
		{"later local grant gives way", "load-balancing", "server1", 1, lbLease(primaryScopeHW, 102), lbLease(secondaryScopeHW, 101), false},
		{"same second: the primary keeps", "load-balancing", "server1", 1, lbLease(primaryScopeHW, 100), lbLease(secondaryScopeHW, 100), true},
		{"same second: the secondary gives way", "load-balancing", "server2", 1, lbLease(secondaryScopeHW, 100), lbLease(primaryScopeHW, 100), false},
		{"secondary's earlier grant kept", "load-balancing", "server2", 1, lbLease(secondaryScopeHW, 99), lbLease(primaryScopeHW, 100), true},
		{"local client in the partner's scope", "load-balancing", "server1", 1, lbLease(secondaryScopeHW, 100), lbLease(secondaryScopeHW, 101), false},
		{"sent client in this server's scope", "load-balancing", "server1", 1, lbLease(primaryScopeHW, 100), lbLease(primaryScopeHW, 101), false},
		{"partner without the rule (Kea)", "load-balancing", "server1", 0, lbLease(primaryScopeHW, 100), lbLease(secondaryScopeHW, 101), false},
		{"hot-standby: the sender serves", "hot-standby", "server2", 1, lbLease(primaryScopeHW, 100), lbLease(secondaryScopeHW, 101), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, haConfig(tt.mode, tt.self))
			r.m.partnerLB = tt.lbProtocol
			if got := r.m.KeepLocal(tt.local, tt.sent); got != tt.keep {
				t.Fatalf("KeepLocal = %v, want %v", got, tt.keep)
			}
			local := r.m.Status()["ha-servers"].(map[string]any)["local"].(map[string]any)
			if kept := local["lease-update-conflicts-kept"]; (kept == uint64(1)) != tt.keep || (kept != nil) != tt.keep {
				t.Errorf("status-get lease-update-conflicts-kept %v", kept)
			}
			if logged := strings.Contains(r.log.String(), "HA_LEASE_UPDATE_CONFLICT_KEPT "+tt.self); logged != tt.keep {
				t.Errorf("logged %v:\n%s", logged, r.log)
			}
		})
	}
}

// The two servers of a load-balancing pair that gave 192.0.2.40 to their
// own clients in the same second agree on who keeps it, whichever update
// arrives first.
func TestKeepLocalAgrees(t *testing.T) {
	for _, cltt := range [][2]int64{{100, 100}, {100, 101}, {101, 100}} {
		one, two := newRig(t, haConfig("load-balancing", "server1")), newRig(t, haConfig("load-balancing", "server2"))
		one.m.partnerLB, two.m.partnerLB = 1, 1
		mine, theirs := lbLease(primaryScopeHW, cltt[0]), lbLease(secondaryScopeHW, cltt[1])
		if k1, k2 := one.m.KeepLocal(mine, theirs), two.m.KeepLocal(theirs, mine); k1 == k2 {
			t.Errorf("cltt %v: server1 keeps %v, server2 keeps %v; exactly one must", cltt, k1, k2)
		}
	}
}

// An update the partner refuses with its kept lease holds the client's
// reply back, hands the kept lease to Adopt, is counted and logged, and
// leaves the partner available; it is not retried.
func TestConflictLost(t *testing.T) {
	kept := lbLease(secondaryScopeHW, 100)
	args, err := json.Marshal(map[string]any{leasecmds.KeptArg: leasecmds.LeaseJSON(kept)})
	if err != nil {
		t.Fatal(err)
	}
	refusal := `[{"result":4,"text":"kept","arguments":` + string(args) + `}]`
	var adopted []*lease.Lease
	r := newRig(t, haConfig("load-balancing", "server1"), func(c *Config) {
		c.Adopt = func(kept, lost *lease.Lease) {
			if lost.HWAddr.String() != primaryScopeHW.String() {
				t.Errorf("adopted in place of %s's lease, want %s's", lost.HWAddr, primaryScopeHW)
			}
			adopted = append(adopted, kept)
		}
	})
	r.force(LoadBalancing, LoadBalancing)
	r.tr.answer["lease4-update"] = answers(refusal)
	mine := lbLease(primaryScopeHW, 101)
	changes := []lease.Change{{New: mine}}
	r.m.UpdatesSending(changes)
	err = SendUpdate(context.Background(), r.m, r.tr, "server2", LeaseUpdateCommand(Kea3, mine), primaryScopeHW, nil)
	if !errors.Is(err, errConflictLost) {
		t.Fatalf("error %v, want errConflictLost", err)
	}
	// The partner answered: the address is not one it may lack.
	r.m.UpdatesDone(changes, err)
	if r.m.LeaseUnconfirmed(mine.Addr) {
		t.Error("the address stays unconfirmed after the partner answered with its kept lease")
	}
	if s := r.m.PartnerState(); s == Unavailable {
		t.Error("partner marked unavailable")
	}
	if got := strings.Join(r.tr.commands(), ","); got != "lease4-update" {
		t.Errorf("sent %s, want the update alone", got)
	}
	if len(adopted) != 1 || adopted[0].HWAddr.String() != secondaryScopeHW.String() || !adopted[0].CLTT.Equal(kept.CLTT) {
		t.Errorf("adopted %v, want the partner's kept lease", adopted)
	}
	remote := r.m.Status()["ha-servers"].(map[string]any)["remote"].(map[string]any)
	if remote["lease-update-conflicts-lost"] != uint64(1) || remote["lease-update-conflicts"] != nil {
		t.Errorf("status-get remote %v", remote)
	}
	if !strings.Contains(r.log.String(), "HA_LEASE_UPDATE_CONFLICT_LOST server1") {
		t.Errorf("not logged:\n%s", r.log)
	}

	// Replayed from the backlog, the client was answered long ago: the
	// lease is adopted and the replay goes on.
	tr := &fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){"lease4-update": answers(refusal, rc0)}}
	b := NewLeaseBacklog(10, tr, "server2")
	b.Lost = r.m.BacklogConflictLost
	b.Push(LeaseUpdateCommand(Kea3, lbLease(primaryScopeHW, 101)))
	b.Push(LeaseUpdateCommand(Kea3, testLease(41, 101)))
	if err := b.Replay(context.Background()); err != nil || b.Len() != 0 {
		t.Fatalf("replay: %v, %d left", err, b.Len())
	}
	if len(adopted) != 2 {
		t.Errorf("replay adopted %d leases, want 2 in all", len(adopted))
	}
}

// keptLease takes only a well-formed kept lease from a result-4 answer.
func TestKeptLease(t *testing.T) {
	good, _ := json.Marshal(map[string]any{leasecmds.KeptArg: leasecmds.LeaseJSON(lbLease(primaryScopeHW, 100))})
	for _, tt := range []struct {
		name string
		a    Answer
		ok   bool
	}{
		{"kept", Answer{Result: 4, Arguments: good}, true},
		{"not a conflict", Answer{Result: 0, Arguments: good}, false},
		{"Kea's conflict", Answer{Result: 4, Text: "conflict"}, false},
		{"not a map", Answer{Result: 4, Arguments: json.RawMessage(`[1]`)}, false},
		{"a broken lease", Answer{Result: 4, Arguments: json.RawMessage(`{"twinleaf-kept-lease":{"ip-address":"x"}}`)}, false},
	} {
		if _, ok := keptLease(tt.a); ok != tt.ok {
			t.Errorf("%s: ok %v, want %v", tt.name, ok, tt.ok)
		}
	}
}
