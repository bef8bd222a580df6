package stats

import "fmt"

// StartupNames are the statistics kea-dhcp4 sets to 0 when it starts: the
// packet counters and the allocation failure counters of Kea 2.2 and 3.0,
// and v4-lease-reuses, which 3.0 adds.
func StartupNames() []string {
	return []string{
		"pkt4-received", "pkt4-discover-received", "pkt4-offer-received",
		"pkt4-request-received", "pkt4-ack-received", "pkt4-nak-received",
		"pkt4-release-received", "pkt4-decline-received", "pkt4-inform-received",
		"pkt4-unknown-received", "pkt4-sent", "pkt4-offer-sent", "pkt4-ack-sent",
		"pkt4-nak-sent", "pkt4-parse-failed", "pkt4-receive-drop",
		"v4-allocation-fail", "v4-allocation-fail-shared-network",
		"v4-allocation-fail-subnet", "v4-allocation-fail-no-pools",
		"v4-allocation-fail-classes", "v4-reservation-conflicts", "v4-lease-reuses",
	}
}

// LeaseCounters are the global lease statistics that survive a recount:
// Kea creates them at 0 when they are missing and never resets them.
func LeaseCounters() []string {
	return []string{"reclaimed-declined-addresses", "reclaimed-leases", "cumulative-assigned-addresses"}
}

// SubnetNames are the statistics Kea keeps for each subnet, without the
// "subnet[ID]." prefix.
func SubnetNames() []string {
	return []string{
		"total-addresses", "assigned-addresses", "cumulative-assigned-addresses",
		"declined-addresses", "reclaimed-declined-addresses", "reclaimed-leases",
		"v4-reservation-conflicts", "v4-lease-reuses",
	}
}

// PoolNames are the statistics Kea 3 keeps for each pool, without the
// "subnet[ID].pool[PID]." prefix.
func PoolNames() []string {
	return []string{
		"total-addresses", "assigned-addresses", "cumulative-assigned-addresses",
		"declined-addresses", "reclaimed-declined-addresses", "reclaimed-leases",
	}
}

// Subnet names a per-subnet statistic: Subnet(1, "assigned-addresses") is
// "subnet[1].assigned-addresses".
func Subnet(id uint32, name string) string {
	return fmt.Sprintf("subnet[%d].%s", id, name)
}

// Pool names a per-pool statistic: Pool(1, 0, "total-addresses") is
// "subnet[1].pool[0].total-addresses".
func Pool(id, pool uint32, name string) string {
	return fmt.Sprintf("subnet[%d].pool[%d].%s", id, pool, name)
}

// Start does what kea-dhcp4 does to its statistics at start-up: the
// StartupNames are set to 0, declined-addresses is set to 0 (to be
// recounted from the leases) and the LeaseCounters are created at 0 if
// missing.
func (r *Registry) Start() {
	for _, name := range StartupNames() {
		r.Set(name, 0)
	}
	r.Set("declined-addresses", 0)
	for _, name := range LeaseCounters() {
		if _, ok := r.Get(name); !ok {
			r.Set(name, 0)
		}
	}
}
