package dhcp4

import (
	"fmt"
	"iter"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// InitStats sets the statistics Kea computes at startup and on
// reconfiguration, onto fresh (zero) counters: total-addresses of every
// subnet and pool, and assigned-addresses and declined-addresses recounted
// from the leases (state 0, expired or not, counts as assigned; state 1 as
// declined).
func (e *Engine) InitStats(leases iter.Seq[*lease.Lease]) {
	for _, s := range e.net.Subnets {
		var total int64
		for _, p := range s.Pools {
			n := int64(p.alloc.Size())
			total += n
			e.stats.Add(fmt.Sprintf("subnet[%d].pool[%d].total-addresses", s.ID, p.ID), n)
		}
		e.stats.Add(fmt.Sprintf("subnet[%d].total-addresses", s.ID), total)
	}
	if leases == nil {
		return
	}
	for l := range leases {
		if _, ok := e.byID[l.SubnetID]; !ok {
			continue
		}
		switch l.State {
		case lease.StateDefault:
			e.poolStat(l.SubnetID, l.Addr, "assigned-addresses", 1)
		case lease.StateDeclined:
			e.stats.Add("declined-addresses", 1)
			e.poolStat(l.SubnetID, l.Addr, "declined-addresses", 1)
		}
	}
}
