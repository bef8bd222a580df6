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
// subnet[ID].declined-addresses, the same two of the pool holding the
// address (Kea 3.x; 2.2 has no pool statistics) and the global
// declined-addresses.
//
// An update is counted as the deletion of the old lease and the addition
// of the new one. Kea 3.x's updateStatsOnUpdate differs in one case: a
// lease moved from state 0 to reclaimed in the same subnet keeps its
// assigned-addresses count there, which leaves the counter one too high;
// twinleaf counts what the store holds.
func (h *handler) count(c lease.Change) {
	if h.Stats == nil {
		return
	}
	subnets := h.Subnets()
	h.addLease(subnets, c.Old, -1)
	h.addLease(subnets, c.New, 1)
}

func (h *handler) addLease(subnets []SubnetInfo, l *lease.Lease, n int64) {
	if !counted(l) {
		return
	}
	pool, inPool := poolOf(subnets, l)
	add := func(name string) {
		h.Stats.Add(stats.Subnet(l.SubnetID, name), n)
		if inPool {
			h.Stats.Add(stats.Pool(l.SubnetID, pool, name), n)
		}
	}
	add(lease.StatAssignedAddresses)
	if declined(l) {
		add(lease.StatDeclinedAddresses)
		h.Stats.Add(lease.StatDeclinedAddresses, n)
	}
}

// poolOf finds the id of the pool of the lease's subnet holding its
// address.
func poolOf(subnets []SubnetInfo, l *lease.Lease) (uint32, bool) {
	for _, s := range subnets {
		if s.ID != l.SubnetID {
			continue
		}
		for _, p := range s.Pools {
			if p.First.Compare(l.Addr) <= 0 && l.Addr.Compare(p.Last) <= 0 {
				return p.ID, true
			}
		}
	}
	return 0, false
}
