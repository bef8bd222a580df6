package leasecmds

import (
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/stats"
)

// counted reports whether a lease counts as an assigned address: every
// state but reclaimed, as Kea's lease_cmds counts on add and delete.
func counted(l *lease.Lease) bool {
	return l != nil && l.State != lease.StateReclaimed
}

func declined(l *lease.Lease) bool {
	return l != nil && l.State == lease.StateDeclined
}

// count applies a change's statistic deltas: subnet[ID].assigned-addresses,
// subnet[ID].declined-addresses and the global declined-addresses.
//
// An update is counted as the deletion of the old lease and the addition
// of the new one. Kea 3.x's updateStatsOnUpdate differs in one case: a
// lease moved from state 0 to reclaimed in the same subnet keeps its
// assigned-addresses count there, which leaves the counter one too high;
// twinleaf counts what the store holds. Kea 3.x also keeps per-pool
// counters, which twinleaf does not have.
func (h *handler) count(c lease.Change) {
	if h.Stats == nil {
		return
	}
	h.addLease(c.Old, -1)
	h.addLease(c.New, 1)
}

func (h *handler) addLease(l *lease.Lease, n int64) {
	if !counted(l) {
		return
	}
	h.Stats.Add(stats.Subnet(l.SubnetID, lease.StatAssignedAddresses), n)
	if declined(l) {
		h.Stats.Add(stats.Subnet(l.SubnetID, lease.StatDeclinedAddresses), n)
		h.Stats.Add(lease.StatDeclinedAddresses, n)
	}
}
