package leasecmds

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// active is a lease of hw at 192.0.2.last that runs past testNow.
func active(last byte, hw string) *lease.Lease {
	return &lease.Lease{Addr: netip.AddrFrom4([4]byte{192, 0, 2, last}), HWAddr: mac(hw),
		ValidLft: 4000, CLTT: testNow.Add(-time.Minute), SubnetID: 1}
}

// put writes ls to the fixture's file and store, as leases it held before
// the command.
func (f *fixture) put(t *testing.T, ls ...*lease.Lease) {
	t.Helper()
	for _, l := range ls {
		if err := f.journal.Commit(lease.Change{New: l}); err != nil {
			t.Fatal(err)
		}
		f.h.Store.Put(l)
	}
}

// recordConflicts makes the fixture keep what Deps.Conflict hears.
func (f *fixture) recordConflicts() *[]Conflict {
	var got []Conflict
	f.h.Conflict = func(c Conflict) { got = append(got, c) }
	return &got
}

func TestConflicts(t *testing.T) {
	expired := active(40, "02:00:00:00:00:01")
	expired.CLTT = testNow.Add(-2 * time.Hour)
	tests := []struct {
		name      string
		local     []*lease.Lease
		cmd, args string
		text      string   // the answer's text, always with result 0
		reasons   []string // reported conflicts, by reason prefix
		holds     map[byte]string
	}{
		{name: "update over another client's active lease",
			local: []*lease.Lease{active(40, "02:00:00:00:00:01")},
			cmd:   "lease4-update", args: `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","force-create":true}`,
			text: "IPv4 lease updated.", reasons: []string{reasonHeld}, holds: map[byte]string{40: "02:00:00:00:00:02"}},
		{name: "update of the client's own lease",
			local: []*lease.Lease{active(40, "02:00:00:00:00:02")},
			cmd:   "lease4-update", args: `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","force-create":true}`,
			text: "IPv4 lease updated.", holds: map[byte]string{40: "02:00:00:00:00:02"}},
		{name: "update over another client's expired lease",
			local: []*lease.Lease{expired},
			cmd:   "lease4-update", args: `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","force-create":true}`,
			text: "IPv4 lease updated.", holds: map[byte]string{40: "02:00:00:00:00:02"}},
		{name: "update for a client that holds another address",
			local: []*lease.Lease{active(41, "02:00:00:00:00:02")},
			cmd:   "lease4-update", args: `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","force-create":true}`,
			text: "IPv4 lease added.", reasons: []string{reasonStale}, holds: map[byte]string{40: "02:00:00:00:00:02", 41: ""}},
		{name: "both at once",
			local: []*lease.Lease{active(40, "02:00:00:00:00:01"), active(41, "02:00:00:00:00:02")},
			cmd:   "lease4-update", args: `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","force-create":true}`,
			text: "IPv4 lease updated.", reasons: []string{reasonHeld, reasonStale}, holds: map[byte]string{40: "02:00:00:00:00:02", 41: ""}},
		{name: "an operator's update without force-create keeps the client's other lease",
			local: []*lease.Lease{active(40, "02:00:00:00:00:02"), active(41, "02:00:00:00:00:02")},
			cmd:   "lease4-update", args: `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02"}`,
			text: "IPv4 lease updated.", holds: map[byte]string{40: "02:00:00:00:00:02", 41: "02:00:00:00:00:02"}},
		{name: "another client-id on the same hardware address is another client",
			local: []*lease.Lease{func() *lease.Lease { l := active(41, "02:00:00:00:00:02"); l.ClientID = []byte{1, 2}; return l }()},
			cmd:   "lease4-update", args: `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","client-id":"01:03","force-create":true}`,
			text: "IPv4 lease added.", holds: map[byte]string{40: "02:00:00:00:00:02", 41: "02:00:00:00:00:02"}},
		{name: "deletion naming another client",
			local: []*lease.Lease{active(40, "02:00:00:00:00:01")},
			cmd:   "lease4-del", args: `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02"}`,
			text: "IPv4 lease deleted.", reasons: []string{reasonHeld}, holds: map[byte]string{40: ""}},
		{name: "deletion of the client's own lease",
			local: []*lease.Lease{active(40, "02:00:00:00:00:02")},
			cmd:   "lease4-del", args: `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02"}`,
			text: "IPv4 lease deleted.", holds: map[byte]string{40: ""}},
		{name: "an operator's deletion by address names no client",
			local: []*lease.Lease{active(40, "02:00:00:00:00:01")},
			cmd:   "lease4-del", args: `{"ip-address":"192.0.2.40"}`,
			text: "IPv4 lease deleted.", holds: map[byte]string{40: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.put(t, tt.local...)
			got := f.recordConflicts()
			a := f.call(t, tt.cmd, tt.args)
			if a.Result != 0 || a.Text != tt.text {
				t.Errorf("answer %d %q, want 0 %q", a.Result, a.Text, tt.text)
			}
			var reasons []string
			for _, c := range *got {
				if c.Command != tt.cmd || c.Local == nil {
					t.Errorf("conflict %+v: want command %s and the local lease", c, tt.cmd)
				}
				reasons = append(reasons, c.Reason)
			}
			if len(reasons) != len(tt.reasons) {
				t.Fatalf("conflicts %q, want %q", reasons, tt.reasons)
			}
			for i, r := range tt.reasons {
				if !strings.HasPrefix(reasons[i], r) {
					t.Errorf("conflict %d: %q, want %q", i, reasons[i], r)
				}
			}
			for last, hw := range tt.holds {
				l, ok := f.h.Store.Get(netip.AddrFrom4([4]byte{192, 0, 2, last}))
				switch {
				case hw == "" && ok:
					t.Errorf("192.0.2.%d still held by %s", last, l.HWAddr)
				case hw != "" && (!ok || l.HWAddr.String() != hw):
					t.Errorf("192.0.2.%d: %v, want %s's lease", last, l, hw)
				}
			}
			f.checkDurable(t)
		})
	}
}

// TestConflictChangedMeanwhile: a DHCP worker changes the address between
// the command's write and its swap. The sender's lease or deletion still
// wins, once more, and the store, the file and Deps.Conflict agree.
func TestConflictChangedMeanwhile(t *testing.T) {
	for _, tt := range []struct{ cmd, args string }{
		{"lease4-update", `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","force-create":true}`},
		{"lease4-del", `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02"}`},
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			f := newFixture(t)
			f.put(t, active(40, "02:00:00:00:00:02"))
			worker := active(40, "02:00:00:00:00:01")
			commit := f.h.Commit
			raced := false
			f.h.Commit = func(c ...lease.Change) error {
				if err := commit(c...); err != nil || raced {
					return err
				}
				raced = true
				if err := commit(lease.Change{New: worker}); err != nil {
					return err
				}
				f.h.Store.Put(worker)
				return nil
			}
			got := f.recordConflicts()
			if a := f.call(t, tt.cmd, tt.args); a.Result != 0 {
				t.Errorf("answer %+v, want result 0", a)
			}
			l, ok := f.h.Store.Get(worker.Addr)
			if tt.cmd == "lease4-del" && ok || tt.cmd == "lease4-update" && (!ok || l.HWAddr.String() != "02:00:00:00:00:02") {
				t.Errorf("store holds %v after %s", l, tt.cmd)
			}
			if len(*got) != 1 || (*got)[0].Reason != reasonChanged || (*got)[0].Local != worker {
				t.Errorf("conflicts %+v, want the worker's lease, changed meanwhile", *got)
			}
			f.checkDurable(t)
		})
	}
}

// TestConflictStorageError: a lease file that cannot be written is a
// genuine failure, reported as such and not as a resolved conflict.
func TestConflictStorageError(t *testing.T) {
	f := newFixture(t)
	f.put(t, active(40, "02:00:00:00:00:01"))
	got := f.recordConflicts()
	f.h.Commit = func(...lease.Change) error { return errors.New("disk full") }
	a := f.call(t, "lease4-update", `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","force-create":true}`)
	if a.Result != 1 || !strings.Contains(a.Text, "disk full") || len(*got) != 0 {
		t.Errorf("answer %+v, conflicts %+v; want result 1 naming the disk and none", a, *got)
	}
	if !slices.ContainsFunc(f.h.Store.All(), func(l *lease.Lease) bool { return l.HWAddr.String() == "02:00:00:00:00:01" }) {
		t.Error("the local lease went although nothing was written")
	}
}

// TestConflictKept: where Deps.Keep keeps the local lease (HA's
// load-balancing rule), the update is refused with result 4 and the kept
// lease, nothing changes, and only another client's active lease is ever
// offered to Keep.
func TestConflictKept(t *testing.T) {
	update := `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","force-create":true,"origin":"ha-partner"}`
	for _, tt := range []struct {
		name    string
		local   *lease.Lease
		keep    bool
		asked   bool
		result  int
		holder  string
		keptArg bool
	}{
		{"kept", active(40, "02:00:00:00:00:01"), true, true, 4, "02:00:00:00:00:01", true},
		{"given way", active(40, "02:00:00:00:00:01"), false, true, 0, "02:00:00:00:00:02", false},
		{"the client's own lease is never asked about", active(40, "02:00:00:00:00:02"), true, false, 0, "02:00:00:00:00:02", false},
		{"an operator's update is never asked about", active(40, "02:00:00:00:00:01"), true, false, 0, "02:00:00:00:00:02", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.put(t, tt.local)
			got := f.recordConflicts()
			var asked bool
			f.h.Keep = func(local, sent *lease.Lease) bool {
				asked = true
				if local.HWAddr.String() != "02:00:00:00:00:01" || sent.HWAddr.String() != "02:00:00:00:00:02" {
					t.Errorf("Keep(%s, %s)", local.HWAddr, sent.HWAddr)
				}
				return tt.keep
			}
			cmd := update
			if strings.HasPrefix(tt.name, "an operator's") {
				cmd = strings.Replace(update, `,"origin":"ha-partner"`, "", 1)
			}
			a := f.call(t, "lease4-update", cmd)
			if asked != tt.asked || a.Result != tt.result {
				t.Fatalf("asked %v, answer %d %q; want asked %v, result %d", asked, a.Result, a.Text, tt.asked, tt.result)
			}
			l, ok := f.h.Store.Get(netip.MustParseAddr("192.0.2.40"))
			if !ok || l.HWAddr.String() != tt.holder {
				t.Errorf("192.0.2.40 held by %v, want %s", l, tt.holder)
			}
			args, _ := a.Arguments.(map[string]any)
			kept, _ := args[KeptArg].(map[string]any)
			if (kept != nil) != tt.keptArg {
				t.Fatalf("answer arguments %v", a.Arguments)
			}
			if kept != nil {
				if kept["hw-address"] != "02:00:00:00:00:01" || kept["ip-address"] != "192.0.2.40" {
					t.Errorf("kept lease %v", kept)
				}
				if len(*got) != 0 {
					t.Errorf("a kept lease reported as resolved in the sender's favour: %+v", *got)
				}
			}
			f.checkDurable(t)
		})
	}
}

// TestConflictKeptMeanwhile: a DHCP worker gives the address to a client
// of this server while the partner's update is applied; Deps.Keep is
// asked about that lease too, and keeps it.
func TestConflictKeptMeanwhile(t *testing.T) {
	f := newFixture(t)
	worker := active(40, "02:00:00:00:00:01")
	commit := f.h.Commit
	raced := false
	f.h.Commit = func(c ...lease.Change) error {
		if !raced {
			raced = true
			if err := commit(lease.Change{New: worker}); err != nil {
				return err
			}
			f.h.Store.Put(worker)
		}
		return commit(c...)
	}
	var asked []*lease.Lease
	f.h.Keep = func(local, _ *lease.Lease) bool { asked = append(asked, local); return true }
	a := f.call(t, "lease4-update", `{"ip-address":"192.0.2.40","hw-address":"02:00:00:00:00:02","force-create":true,"origin":"ha-partner"}`)
	if a.Result != 4 || len(asked) != 1 || asked[0] != worker {
		t.Fatalf("answer %d %q, Keep asked about %v; want result 4 for the worker's lease", a.Result, a.Text, asked)
	}
	if l, ok := f.h.Store.Get(worker.Addr); !ok || l != worker {
		t.Errorf("store holds %v, want the worker's lease", l)
	}
	f.checkDurable(t)
}
