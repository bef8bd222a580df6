package leasecmds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// updateItem is HA's lease4-update for 192.0.2.last held by hw.
func updateItem(last int, hw string) Item {
	return Item{Command: "lease4-update", Arguments: json.RawMessage(fmt.Sprintf(
		`{"ip-address":"192.0.2.%d","hw-address":%q,"subnet-id":1,"valid-lft":4000,"expire":%d,"force-create":true}`,
		last, hw, testNow.Unix()+4000))}
}

// countCommits wraps the fixture's Commit to count its calls.
func (f *fixture) countCommits() *int {
	n := 0
	commit := f.h.Commit
	f.h.Commit = func(c ...lease.Change) error {
		n++
		return commit(c...)
	}
	return &n
}

// TestBatch applies batches and the same commands one by one on another
// fixture: every item answers as its own command does, the stores end
// alike, and the batch made its changes durable in one commit.
func TestBatch(t *testing.T) {
	var many []Item
	for i := range 50 {
		many = append(many, updateItem(100+i, fmt.Sprintf("02:00:00:00:01:%02x", i)))
	}
	tests := []struct {
		name      string
		items     []Item
		commits   int
		conflicts int
	}{
		{name: "fifty updates", items: many, commits: 1},
		{name: "one update", items: many[:1], commits: 1},
		{name: "delete, then update, of one address", items: []Item{
			{Command: "lease4-del", Arguments: json.RawMessage(`{"ip-address":"192.0.2.10"}`)},
			updateItem(10, "02:00:00:00:00:09"),
		}, commits: 1},
		{name: "the client's other address goes (force-create)", conflicts: 1, items: []Item{
			updateItem(121, "02:00:00:00:00:05"),
			updateItem(122, "02:00:00:00:00:05"),
		}, commits: 1},
		{name: "another client's address: a conflict applied for the sender", conflicts: 1, items: []Item{
			updateItem(123, "02:00:00:00:00:06"),
			updateItem(123, "02:00:00:00:00:07"),
		}, commits: 1},
		{name: "errors stay per item", items: []Item{
			updateItem(130, "02:00:00:00:00:01"),
			{Command: "lease4-update", Arguments: json.RawMessage(`{"ip-address":"192.0.2.131"}`)},
			{Command: "lease4-update", Arguments: json.RawMessage(`[1,2]`)},
			{Command: "lease4-wipe", Arguments: json.RawMessage(`{}`)},
			{Command: "lease4-del", Arguments: json.RawMessage(`{"ip-address":"192.0.2.250"}`)},
			updateItem(132, "02:00:00:00:00:02"),
		}, commits: 1},
		{name: "nothing to write", items: []Item{
			{Command: "lease4-del", Arguments: json.RawMessage(`{"ip-address":"192.0.2.250"}`)},
		}, commits: 0},
		{name: "empty", commits: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batched, single := newFixture(t), newFixture(t)
			commits := batched.countCommits()
			bc, sc := batched.recordConflicts(), single.recordConflicts()
			got := (&Commands{h: batched.h}).Batch(context.Background(), tt.items)
			if len(got) != len(tt.items) {
				t.Fatalf("%d answers for %d items", len(got), len(tt.items))
			}
			for i, it := range tt.items {
				if it.Command != "lease4-update" && it.Command != "lease4-del" {
					if got[i].Result != ctrl.ResultError || !strings.Contains(got[i].Text, "not allowed in a batch") {
						t.Errorf("item %d (%s): %+v, want a refusal", i, it.Command, got[i])
					}
					continue
				}
				want := single.call(t, it.Command, string(it.Arguments))
				if !reflect.DeepEqual(got[i], want) {
					t.Errorf("item %d (%s): %+v, alone it answers %+v", i, it.Command, got[i], want)
				}
			}
			if len(*bc) != tt.conflicts {
				t.Errorf("%d conflicts resolved, want %d", len(*bc), tt.conflicts)
			}
			if !reflect.DeepEqual(*bc, *sc) {
				t.Errorf("conflicts %+v, alone %+v", *bc, *sc)
			}
			if *commits != tt.commits {
				t.Errorf("%d commits, want %d", *commits, tt.commits)
			}
			if !reflect.DeepEqual(batched.stats, single.stats) {
				t.Errorf("statistics %v, alone %v", batched.stats, single.stats)
			}
			b, s := batched.h.Store.All(), single.h.Store.All()
			if len(b) != len(s) {
				t.Fatalf("store holds %d leases, alone %d", len(b), len(s))
			}
			for i := range b {
				if !lease.Equal(b[i], s[i]) {
					t.Errorf("store has %+v, alone %+v", b[i], s[i])
				}
			}
			batched.checkDurable(t)
		})
	}
}

// TestBatchCommitFailure: a batch whose write fails leaves the store,
// the engine and the statistics as they were, and every item says why.
func TestBatchCommitFailure(t *testing.T) {
	f := newFixture(t)
	before := f.h.Store.All()
	f.h.Commit = func(...lease.Change) error { return errors.New("disk full") }
	got := (&Commands{h: f.h}).Batch(context.Background(), []Item{
		{Command: "lease4-del", Arguments: json.RawMessage(`{"ip-address":"192.0.2.10"}`)},
		updateItem(10, "02:00:00:00:00:09"),
		updateItem(140, "02:00:00:00:00:0a"),
	})
	for i, a := range got {
		if a.Result != ctrl.ResultError || !strings.Contains(a.Text, "disk full") {
			t.Errorf("item %d: %+v, want the write error", i, a)
		}
	}
	after := f.h.Store.All()
	if len(after) != len(before) {
		t.Fatalf("store holds %d leases, had %d", len(after), len(before))
	}
	for i := range after {
		if after[i] != before[i] {
			t.Errorf("store has %+v, had %+v", after[i], before[i])
		}
	}
	for k, v := range f.stats {
		if v != 0 {
			t.Errorf("statistic %s moved by %d", k, v)
		}
	}
	if n := len(f.observed); n != 6 {
		t.Errorf("engine heard %d changes, want 3 and their 3 reversals", n)
	}
}

// TestBatchConcurrentChange: a DHCP worker changes an address after the
// batch swapped it and writes its lease before the batch's commit; the
// lease file still ends with what the store holds (the worker's lease).
func TestBatchConcurrentChange(t *testing.T) {
	f := newFixture(t)
	worker := active(150, "02:00:00:00:00:0b")
	commit := f.h.Commit
	raced := false
	f.h.Commit = func(c ...lease.Change) error {
		if !raced {
			raced = true
			cur, _ := f.h.Store.Get(worker.Addr)
			if !f.h.Store.CompareAndPut(cur, worker) {
				return errors.New("test: the worker lost its swap")
			}
			if err := commit(lease.Change{Old: cur, New: worker}); err != nil {
				return err
			}
		}
		return commit(c...)
	}
	got := (&Commands{h: f.h}).Batch(context.Background(), []Item{updateItem(150, "02:00:00:00:00:0c"), updateItem(151, "02:00:00:00:00:0d")})
	for i, a := range got {
		if a.Result != ctrl.ResultSuccess {
			t.Errorf("item %d: %+v", i, a)
		}
	}
	if l, _ := f.h.Store.Get(netip.MustParseAddr("192.0.2.150")); l != worker {
		t.Errorf("store holds %+v, want the worker's lease", l)
	}
	f.checkDurable(t)
}
