package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// Kea's HA result code for a maintenance request the state forbids.
const ResultMaintenanceNotAllowed = 1001

// HeartbeatAnswer answers the partner's ha-heartbeat: our state, time,
// served scopes and unsent-update-count, plus twinleaf's clock flag when
// our clock is not synchronised. Answering does not count as contact, but
// it ends a refusal of the partner's requests (Refused): they get through.
func (m *Machine) HeartbeatAnswer() ctrl.Answer {
	m.cmu.Lock()
	m.comm.heardAt = m.cfg.Now() // the partner reaches us: no refusal stands
	m.cmu.Unlock()
	hb := Heartbeat{State: m.State(), Time: m.cfg.Now(), Scopes: m.Scopes(),
		UnsentCount: m.UnsentUpdateCount(), ClockSynced: m.cfg.ClockSynced == nil || m.cfg.ClockSynced()}
	return ctrl.Success("HA peer status returned.", hb.Arguments())
}

// CheckServerName is 3.x's check of a peer command's server-name argument:
// absent (a 2.2 sender) is fine, an unknown name is refused.
func (m *Machine) CheckServerName(args json.RawMessage) error {
	if len(bytes.TrimSpace(args)) == 0 {
		return nil
	}
	var a struct {
		Name *string `json:"server-name"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return fmt.Errorf("arguments are not a map: %v", err)
	}
	if a.Name == nil {
		return nil
	}
	for _, p := range m.peers {
		if p.Name == *a.Name {
			return nil
		}
	}
	return fmt.Errorf("%s matches no configured 'server-name'", *a.Name)
}

// Reset is the partner's ha-reset: back to waiting, hence a resync.
func (m *Machine) Reset(ctx context.Context) ctrl.Answer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == Waiting {
		return ctrl.Success("HA state machine already in WAITING state.", nil)
	}
	m.transition(Waiting)
	m.run(ctx)
	return ctrl.Success("HA state machine reset.", nil)
}

// Continue is ha-continue: resume a machine paused by state-machine.
func (m *Machine) Continue() ctrl.Answer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.paused {
		return ctrl.Success("HA state machine is not paused.", nil)
	}
	m.paused = false
	return ctrl.Success("HA state machine continues.", nil)
}

// MaintenanceNotify is the arguments of ha-maintenance-notify.
type MaintenanceNotify struct {
	Cancel bool
	// State is the sender's state (3.x); empty from a 2.2 sender.
	State string
}

// ParseMaintenanceNotify reads ha-maintenance-notify's arguments: cancel
// is a mandatory boolean, state an optional string.
func ParseMaintenanceNotify(args json.RawMessage) (MaintenanceNotify, error) {
	var a struct {
		Cancel *bool           `json:"cancel"`
		State  json.RawMessage `json:"state"`
	}
	if len(bytes.TrimSpace(args)) == 0 {
		return MaintenanceNotify{}, errors.New("'cancel' is mandatory for the 'ha-maintenance-notify' command")
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return MaintenanceNotify{}, fmt.Errorf("arguments in the 'ha-maintenance-notify' command are not a map: %v", err)
	}
	if a.Cancel == nil {
		return MaintenanceNotify{}, errors.New("'cancel' is mandatory for the 'ha-maintenance-notify' command")
	}
	n := MaintenanceNotify{Cancel: *a.Cancel}
	if len(a.State) > 0 && string(a.State) != "null" {
		if err := json.Unmarshal(a.State, &n.State); err != nil {
			return MaintenanceNotify{}, errors.New("'state' must be a string in the 'ha-maintenance-notify' command")
		}
	}
	return n, nil
}

// HandleMaintenanceNotify is the receiver's side of maintenance: enter
// in-maintenance (DHCP off, heartbeats on), or on cancel go back to the
// state before it.
func (m *Machine) HandleMaintenanceNotify(ctx context.Context, n MaintenanceNotify) ctrl.Answer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n.Cancel {
		if m.state != InMaintenance {
			return ctrl.Error("Unable to cancel the maintenance for the server not in the in-maintenance state.")
		}
		m.cmu.Lock()
		if st, err := ParseState(n.State); err == nil {
			m.comm.setPartnerState(st, m.cfg.Now())
		} else {
			m.comm.unavailable(m.cfg.Now())
		}
		m.cmu.Unlock()
		next := m.prev
		if next == InMaintenance {
			next = Waiting
		}
		m.cancelPending = true
		m.transition(next)
		m.run(ctx)
		return ctrl.Success("Server maintenance canceled.", map[string]any{"state": m.state.String()})
	}
	switch m.state {
	case Backup, PartnerInMaintenance, Terminated:
		return ctrl.Answer{Result: ResultMaintenanceNotAllowed,
			Text: fmt.Sprintf("Unable to transition the server from the %s to in-maintenance state.", m.state)}
	}
	m.transition(InMaintenance)
	m.run(ctx)
	return ctrl.Success("Server is in-maintenance state.", nil)
}

// MaintenanceStart is ha-maintenance-start: tell the partner to go
// in-maintenance and take over its clients. A partner that cannot be
// reached (or answers rc 1) is taken to be down already.
func (m *Machine) MaintenanceStart(ctx context.Context) ctrl.Answer {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.state {
	case Backup, InMaintenance, PartnerInMaintenance, Terminated:
		return ctrl.Error("Unable to transition the server from the %s to partner-in-maintenance state.", m.state)
	}
	if m.partner == nil {
		return ctrl.Error("%s has no partner to put in maintenance", m.self.Name)
	}
	cmd := MaintenanceNotifyCommand(m.cfg.Version, m.self.Name, false, m.state)
	body, err := call(ctx, m.cfg.Transport, m.partner.Name, cmd)
	rc := 1
	if err == nil {
		var a Answer
		if a, err = ParseAnswer(body); err == nil {
			rc, err = a.Result, a.Err()
		}
	}
	if err != nil {
		m.log.Error(fmt.Sprintf("HA_MAINTENANCE_NOTIFY_FAILED %s: failed to send ha-maintenance-notify to %s: %v", m.self.Name, m.partner.Name, err))
		m.failed(err)
	}
	switch {
	case rc == 1:
		m.maintStart = true
		m.transition(PartnerDown)
		m.run(ctx)
		return ctrl.Success("Server is now in the partner-down state as its partner appears to be offline for maintenance.", nil)
	case rc == 0:
		m.maintStart = true
		m.transition(PartnerInMaintenance)
		m.run(ctx)
		return ctrl.Success("Server is now in the partner-in-maintenance state and its partner is in-maintenance state. The partner can be now safely shut down.", nil)
	}
	return ctrl.Error("Unable to transition to the partner-in-maintenance state. The partner server responded with the following message to the ha-maintenance-notify command: %v.", err)
}

// MaintenanceCancel is ha-maintenance-cancel: bring the partner back and
// return to the state before partner-in-maintenance.
func (m *Machine) MaintenanceCancel(ctx context.Context) ctrl.Answer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != PartnerInMaintenance {
		return ctrl.Error("Unable to cancel maintenance request because the server is not in the partner-in-maintenance state.")
	}
	next := m.prev
	if next == PartnerInMaintenance {
		next = Waiting
	}
	body, err := call(ctx, m.cfg.Transport, m.partner.Name, MaintenanceNotifyCommand(m.cfg.Version, m.self.Name, true, next))
	var st State
	var ok bool
	if err == nil {
		st, ok, err = ParseMaintenanceCancel(body)
	}
	now := m.cfg.Now()
	m.cmu.Lock()
	m.comm.unavailable(now)
	if ok {
		m.comm.setPartnerState(st, now)
	}
	m.cmu.Unlock()
	if err != nil {
		m.log.Error(fmt.Sprintf("HA_MAINTENANCE_NOTIFY_CANCEL_FAILED %s: error returned while processing maintenance notification from %s: %v", m.self.Name, m.partner.Name, err))
		return ctrl.Error("Unable to cancel maintenance. The partner server responded with the following message to the ha-maintenance-notify command: %v.", err)
	}
	m.cancelPending = true
	m.transition(next)
	m.run(ctx)
	return ctrl.Success("Server maintenance successfully canceled.", nil)
}

// SyncComplete answers ha-sync-complete-notify. In partner-down it also
// holds local service until the next heartbeat, as Kea 3.x does: the
// partner has just copied our leases, and partner-down sends it no
// updates, so a lease given now would be missing from its copy. That
// heartbeat moves the pair on (the partner is ready), or, if it fails,
// service resumes in partner-down. Re-enabling the remote HA origin is
// the daemon's network-state job.
func (m *Machine) SyncComplete() ctrl.Answer {
	if m.State() == PartnerDown { // not waiting on mu in states that hold it long (syncing)
		m.mu.Lock()
		if m.state == PartnerDown {
			m.syncHold, m.syncNotified = true, true
			m.adjustDHCP()
		}
		m.mu.Unlock()
	}
	return ctrl.Success("Server successfully notified about the synchronization completion.", nil)
}

// Status is the high-availability entry of status-get (Kea 3.x shape;
// 2.2 lacks server-name, system-time and clock-skew).
func (m *Machine) Status() map[string]any {
	state := m.State()
	now := m.cfg.Now()
	const layout = "2006-01-02 15:04:05"
	local := map[string]any{"role": m.self.Role, "scopes": m.Scopes(), "state": state.String(),
		"server-name": m.self.Name, "system-time": now.UTC().Format(layout)}
	servers := map[string]any{"local": local}
	if m.cfg.AcceptBatches {
		tl := Capabilities()
		tl["lease4-batches-received"] = m.batchesReceived.Load()
		tl["lease4-batch-updates-received"] = m.batchItemsReceived.Load()
		local["twinleaf"] = tl
	}
	m.cmu.Lock()
	if n := m.comm.conflictsReceived; n > 0 {
		// A backup applies the primary's updates too.
		local["lease-update-conflicts-resolved"] = n
	}
	if n := m.comm.conflictsKept; n > 0 {
		local["lease-update-conflicts-kept"] = n
	}
	m.cmu.Unlock()
	if m.partner != nil {
		m.cmu.Lock()
		c := m.comm
		interrupted := c.interrupted(now)
		unacked := c.unackedCount()
		var left uint32
		if interrupted && m.ha.MaxUnackedClients >= unacked {
			left = m.ha.MaxUnackedClients - unacked + 1
		}
		inTouch := !c.partnerTime.IsZero()
		var age int64
		var sysTime, skew any
		if inTouch {
			age = int64(now.Sub(c.poke) / time.Second)
			sysTime = c.partnerTime.UTC().Format(layout)
			skew = int64(c.skew / time.Second)
		}
		scopes := c.partnerScopes
		if scopes == nil {
			scopes = []string{}
		}
		servers["remote"] = map[string]any{"role": m.partner.Role, "server-name": m.partner.Name,
			"age": age, "in-touch": inTouch, "last-state": c.partner.String(), "last-scopes": scopes,
			"communication-interrupted": interrupted, "connecting-clients": len(c.clients),
			"unacked-clients": unacked, "unacked-clients-left": left, "analyzed-packets": c.analyzed,
			"system-time": sysTime, "clock-skew": skew}
		remote := servers["remote"].(map[string]any)
		if f, ok := c.configFault(now); ok {
			remote["config-fault"] = f.String()
		}
		if m.verKnown && m.partnerBatch > 0 {
			remote["twinleaf"] = map[string]any{"lease4-batch": m.partnerBatch,
				"lease4-batches-sent": m.batchesSent.Load(), "lease4-batch-updates-sent": m.batchItemsSent.Load()}
		}
		if c.conflicts > 0 {
			remote["lease-update-conflicts"] = c.conflicts
			remote["lease-update-conflicts-fixed-by-retry"] = c.conflictsFixed
		}
		if c.conflictsLost > 0 {
			remote["lease-update-conflicts-lost"] = c.conflictsLost
		}
		m.cmu.Unlock()
	}
	return map[string]any{"ha-mode": m.ha.Mode, "ha-servers": servers}
}
