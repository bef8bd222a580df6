// Package ha is Kea's High Availability hook for twinleaf: the state
// machine of a server pair (hot-standby, load-balancing, passive-backup),
// the partner failure detection, the load-balancing scope split and the
// JSON commands the peers exchange, in Kea 2.2's and 3.x's forms.
//
// Everything here is pure: the clock and the partner's transport are
// injected, so the package is tested without sockets or timers. The
// daemon drives a Machine from its heartbeat loop and DHCP path.
package ha

import "fmt"

// State is an HA state as Kea names it on the wire.
type State uint8

// Kea's HA states. Unavailable exists only as a partner state: the last
// command to the partner failed.
const (
	Waiting State = iota
	Syncing
	Ready
	LoadBalancing
	HotStandby
	CommunicationRecovery
	PartnerDown
	PartnerInMaintenance
	InMaintenance
	PassiveBackup
	Backup
	Terminated
	Unavailable
)

var stateNames = [...]string{
	Waiting:               "waiting",
	Syncing:               "syncing",
	Ready:                 "ready",
	LoadBalancing:         "load-balancing",
	HotStandby:            "hot-standby",
	CommunicationRecovery: "communication-recovery",
	PartnerDown:           "partner-down",
	PartnerInMaintenance:  "partner-in-maintenance",
	InMaintenance:         "in-maintenance",
	PassiveBackup:         "passive-backup",
	Backup:                "backup",
	Terminated:            "terminated",
	Unavailable:           "unavailable",
}

// String is the state's wire name.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// ParseState reads a wire state name. Kea treats an unknown name in a
// heartbeat answer as a failed heartbeat, so callers do too.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("ha: unknown state %q", name)
}

// DHCPEnabled reports whether local DHCP service runs in state s (Kea's
// adjustNetworkState).
func (s State) DHCPEnabled() bool {
	switch s {
	case CommunicationRecovery, LoadBalancing, HotStandby, PartnerDown,
		PartnerInMaintenance, PassiveBackup, Terminated:
		return true
	}
	return false
}
