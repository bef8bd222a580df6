package ha

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/leasecmds"
	"github.com/twinleaf/twinleaf/pkg/memfile"
)

// Config is what a Machine needs: the relationship as parsed from Kea's
// configuration and the outside world, injected.
type Config struct {
	HA config.HA
	// Version is the wire form this server sends (Kea3 unless the pair
	// runs a Kea 2.2 partner that must see 2.2's arguments).
	Version Version
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// ClockSynced reports whether the local clock is synchronised (NTP);
	// nil means always. See README: clock skew on boards without an RTC.
	ClockSynced func() bool
	// Transport reaches the partner; required unless this server is a
	// backup or the passive-backup primary.
	Transport Transport
	// Syncer runs the lease sync in state syncing; nil fails every sync.
	// It runs with the machine locked (as Kea's sync blocks its main
	// loop); only State, Scopes, InScope and HeartbeatAnswer work
	// meanwhile.
	Syncer Syncer
	// Backlog is load-balancing's communication-recovery queue; nil turns
	// communication-recovery into a plain wait.
	Backlog Backlog
	// SetDHCP is told when local DHCP service must go on or off (Kea's
	// adjustNetworkState). It runs with the machine locked: it must not
	// call back into the Machine.
	SetDHCP func(enabled bool)
	// Log gets Kea's HA messages ("ID text"); nil logs nothing.
	Log hclog.Logger
	// Identify learns the partner's wire form (see Identify); the machine
	// calls it after a heartbeat that found a partner not identified since
	// contact was lost or since it went back to waiting, and does not leave
	// waiting for syncing or ready until it has succeeded. So no lease
	// update is built before the partner's form is known. nil: the partner
	// speaks Version.
	Identify func(ctx context.Context) (Partner, error)
	// Adopt stores kept, a lease the partner kept in a load-balancing
	// conflict this server lost (KeepLocal), in place of lost, this
	// server's lease at the address, if the address still holds lost's
	// client: anything else there came later. It must not block on the
	// lease update that lost: it is called while that update's reply is
	// held. nil adopts nothing.
	Adopt func(kept, lost *lease.Lease)
	// AcceptBatches says this server takes twinleaf-lease4-batch (the
	// daemon registered it); status-get's local server then offers it
	// (Capabilities) and counts the batches received.
	AcceptBatches bool
}

// Machine is one server's HA state machine (Kea's HAService). Its methods
// are safe for concurrent use; InScope is cheap and called per packet.
type Machine struct {
	cfg     Config
	ha      config.HA
	self    config.Peer
	partner *config.Peer // the failover peer; nil for backups and passive-backup
	peers   []config.Peer
	classes []string // each peer's config.ScopeClass, in peers' order
	log     hclog.Logger

	mu            sync.Mutex // the state machine; held while a pass runs
	state, prev   State
	entry         bool
	paused        bool
	pausedOnce    map[State]bool
	cancelPending bool // a maintenance cancel just moved us: one no-op pass
	maintStart    bool // partner-down entered by ha-maintenance-start

	cmu  sync.Mutex // comm, shared with the packet path
	comm *comm

	// The partner's wire form (cmu): known once Identify succeeded, fresh
	// while no contact was lost and the partner did not restart since.
	partnerVer      Version
	partnerBatch    int
	partnerLB       int // the partner's LBConflictProtocol, 0 for Kea
	verKnown, fresh bool

	// Batches of lease updates sent to and received from a twinleaf
	// partner, and the updates they carried (status-get).
	batchesSent, batchItemsSent, batchesReceived, batchItemsReceived atomic.Uint64

	// Addresses whose last update the partner did not take.
	unconfirmed unconfirmed

	// Kea 3.x's hold after ha-sync-complete-notify in partner-down (mu):
	// local service waits for the next heartbeat (see SyncComplete).
	syncHold, syncNotified bool

	served  atomic.Pointer[map[string]bool]
	enabled atomic.Bool
	cur     atomic.Uint32 // state, readable while a pass (a sync) runs
}

// New builds the machine in state waiting (run it with Run or Heartbeat).
func New(cfg Config) (*Machine, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	m := &Machine{cfg: cfg, ha: cfg.HA, log: log, pausedOnce: map[State]bool{}}
	if err := m.orderPeers(); err != nil {
		return nil, err
	}
	if m.partner != nil && cfg.Transport == nil {
		return nil, fmt.Errorf("ha: %s has a partner (%s) but no transport to reach it", m.self.Name, m.partner.Name)
	}
	h := cfg.HA
	m.comm = newComm(cfg.Now(), ms(h.MaxResponseDelay), ms(h.MaxAckDelay), h.MaxUnackedClients)
	// A refusing partner retries every heartbeat-delay; three missed
	// retries mean it stopped trying.
	m.comm.refusalWindow = max(3*ms(h.HeartbeatDelay), 3*time.Second)
	if cfg.Identify == nil {
		m.partnerVer, m.verKnown, m.fresh = cfg.Version, true, true
	}
	if h.MaxRejectedPos != (config.Pos{}) && m.partner != nil {
		log.Warn(fmt.Sprintf("HA_MAX_REJECTED_LEASE_UPDATES_IGNORED %s: %s: max-rejected-lease-updates %d is accepted but never terminates HA in twinleaf: "+
			"a lease update the partner rejects as a conflict is retried once in favour of the server serving the client, logged and counted in status-get "+
			"(lease-update-conflicts); remove the key to silence this warning", m.self.Name, h.MaxRejectedPos, h.MaxRejectedLeaseUpdates))
	}
	m.served.Store(&map[string]bool{})
	m.state = Waiting
	m.prev = Waiting
	m.entry = true
	m.paused = m.shouldPause(Waiting)
	return m, nil
}

func ms(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }

// orderPeers sorts the peers as Kea's query filter does: the primary
// first (scope index 0), then the secondary or standby, then backups.
func (m *Machine) orderPeers() error {
	var found bool
	rank := map[string]int{"primary": 0, "secondary": 1, "standby": 1, "backup": 2}
	m.peers = slices.Clone(m.ha.Peers)
	slices.SortStableFunc(m.peers, func(a, b config.Peer) int { return rank[a.Role] - rank[b.Role] })
	m.classes = make([]string, len(m.peers))
	for i, p := range m.peers {
		m.classes[i] = config.ScopeClass(p.Name)
		if p.Name == m.ha.ThisServerName {
			m.self, found = p, true
		}
	}
	if !found {
		return fmt.Errorf("ha: this-server-name %q matches no peer", m.ha.ThisServerName)
	}
	if m.self.Role == "backup" || m.ha.Mode == "passive-backup" {
		return nil
	}
	for i, p := range m.peers {
		if p.Name != m.self.Name && p.Role != "backup" {
			m.partner = &m.peers[i]
			return nil
		}
	}
	return fmt.Errorf("ha: %s (%s) has no partner among the peers", m.self.Name, m.ha.Mode)
}

func (m *Machine) shouldPause(s State) bool {
	switch m.ha.StateMachine[s.String()] {
	case "always":
		return true
	case "once":
		if !m.pausedOnce[s] {
			m.pausedOnce[s] = true
			return true
		}
	}
	return false
}

// State is this server's state. It does not wait for a running pass, so
// heartbeats are answered during a sync.
func (m *Machine) State() State { return State(m.cur.Load()) }

// PartnerState is the partner's state from the last heartbeat, or
// Unavailable after a failed command.
func (m *Machine) PartnerState() State {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	return m.comm.partner
}

// DHCPEnabled reports whether local DHCP service runs in the current state.
func (m *Machine) DHCPEnabled() bool { return m.enabled.Load() }

// Paused reports that the state-machine configuration paused the machine
// on entry to its state; ha-continue resumes it.
func (m *Machine) Paused() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paused
}

// HeartbeatsRunning reports whether this state sends heartbeats: not
// while syncing (the sync replaces them), never in terminated, backup and
// passive-backup.
func (m *Machine) HeartbeatsRunning() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heartbeatsRunning()
}

func (m *Machine) heartbeatsRunning() bool {
	if m.partner == nil || m.ha.HeartbeatDelay == 0 {
		return false
	}
	switch m.state {
	case Syncing, Terminated, Backup, PassiveBackup:
		return false
	}
	return true
}

// HeartbeatDelay is the pause between the end of one heartbeat exchange
// and the next.
func (m *Machine) HeartbeatDelay() time.Duration { return ms(m.ha.HeartbeatDelay) }

// heartbeatTimeout bounds one heartbeat. Kea waits its 10 s HTTP timeout,
// so after a link cut the state machine sits in that wait although the
// partner is already overdue: an answer later than max-response-delay
// (or heartbeat-delay, if longer) changes nothing, so twinleaf waits no
// longer than that, and fails over that much sooner.
func (m *Machine) heartbeatTimeout() time.Duration {
	return min(commandTimeout, max(ms(m.ha.MaxResponseDelay), ms(m.ha.HeartbeatDelay), time.Second))
}

// Heartbeat sends ha-heartbeat to the partner, records the answer (or the
// failure), then runs the state machine. It returns the heartbeat's error.
func (m *Machine) Heartbeat(ctx context.Context) error {
	m.mu.Lock()
	notified := m.syncNotified
	m.syncNotified = false
	m.mu.Unlock()
	var err error
	if m.HeartbeatsRunning() {
		var body []byte
		hctx, cancel := context.WithTimeout(ctx, m.heartbeatTimeout())
		body, err = call(hctx, m.cfg.Transport, m.partner.Name, HeartbeatCommand(m.cfg.Version, m.self.Name))
		cancel()
		var hb Heartbeat
		if err != nil {
			m.log.Warn(fmt.Sprintf("HA_HEARTBEAT_COMMUNICATIONS_FAILED %s: failed to send heartbeat to %s: %v", m.self.Name, m.partnerLabel(), err))
		} else if hb, err = ParseHeartbeat(body); err != nil {
			m.log.Warn(fmt.Sprintf("HA_HEARTBEAT_FAILED %s: heartbeat to %s failed: %v", m.self.Name, m.partnerLabel(), err))
		}
		if err == nil {
			m.identify(ctx, hb.State)
		}
		m.cmu.Lock()
		now := m.cfg.Now()
		if f, refused := m.comm.refusedNow(now); err == nil && refused {
			// It answers us but cannot reach us: not a pair either.
			err = &refusedError{f}
		}
		if err != nil {
			m.failedLocked(err, now)
			m.fresh = m.cfg.Identify == nil
		} else {
			m.comm.heartbeatOK(hb, now)
			m.faultCleared()
		}
		interrupted := err != nil && m.comm.interrupted(m.cfg.Now())
		m.cmu.Unlock()
		if interrupted {
			m.log.Warn(fmt.Sprintf("HA_COMMUNICATION_INTERRUPTED %s: communication with %s is interrupted", m.self.Name, m.partner.Name))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cancelPending, m.maintStart = false, false
	if notified && err != nil && m.syncHold {
		// The partner synced but cannot be reached now: serve on in
		// partner-down until it can (Kea's synced-partner-unavailable).
		m.syncHold = false
		m.adjustDHCP()
	}
	m.run(ctx)
	return err
}

// partnerLabel names the partner in the log as Kea does: "name (url)".
func (m *Machine) partnerLabel() string {
	if m.partner.URL == nil {
		return m.partner.Name
	}
	return fmt.Sprintf("%s (%s)", m.partner.Name, m.partner.URL)
}

// identify asks the partner's wire form when it is not fresh: at first
// contact, after lost contact, and when the partner is seen entering
// waiting (a restart, perhaps as another release). A failure leaves it
// stale, and the next heartbeat asks again.
func (m *Machine) identify(ctx context.Context, partner State) {
	if m.cfg.Identify == nil {
		return
	}
	m.cmu.Lock()
	if partner == Waiting && m.comm.partner != Waiting {
		m.fresh = false
	}
	fresh := m.fresh
	m.cmu.Unlock()
	if fresh {
		return
	}
	p, err := m.cfg.Identify(ctx)
	if err != nil {
		m.log.Warn(fmt.Sprintf("HA_PARTNER_VERSION_UNKNOWN %s: cannot tell which Kea release %s runs (it must answer version-get or status-get), staying in waiting until it can: %v",
			m.self.Name, m.partner.Name, err))
		return
	}
	m.cmu.Lock()
	m.partnerVer, m.partnerBatch, m.partnerLB, m.verKnown, m.fresh = p.Version, p.Batch, p.LBConflicts, true, true
	m.cmu.Unlock()
}

// PartnerVersion is the partner's wire form for lease updates, and false
// while it was never identified. The machine reaches a state that sends
// updates only after identifying it.
func (m *Machine) PartnerVersion() (Version, bool) {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	return m.partnerVer, m.verKnown
}

// BatchAgreed reports whether the partner, as last identified, takes
// twinleaf-lease4-batch in the protocol this build sends. A Kea partner
// never does, so it gets Kea's commands only.
func (m *Machine) BatchAgreed() bool {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	return m.verKnown && m.partnerBatch >= BatchProtocol
}

// Run runs the state machine once without a heartbeat: at start, and on
// servers that send none (backups, passive-backup).
func (m *Machine) Run(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.run(ctx)
}

// run calls state handlers until one makes no transition, as Kea's
// runModel does; the bound only guards against a bug looping forever.
func (m *Machine) run(ctx context.Context) {
	for range 32 {
		before := m.state
		m.handle(ctx)
		if m.state == before {
			return
		}
	}
}

// transition moves to s, logs it, pauses if configured and clears the
// backlog when leaving communication-recovery.
func (m *Machine) transition(s State) {
	m.cmu.Lock()
	partner := m.comm.partner
	m.cmu.Unlock()
	from, to := strings.ToUpper(m.state.String()), strings.ToUpper(s.String())
	if m.ha.Mode == "passive-backup" {
		m.log.Info(fmt.Sprintf("HA_STATE_TRANSITION_PASSIVE_BACKUP %s: server transitions from %s to %s state", m.self.Name, from, to))
	} else {
		m.log.Info(fmt.Sprintf("HA_STATE_TRANSITION %s: server transitions from %s to %s state, partner state is %s",
			m.self.Name, from, to, strings.ToUpper(partner.String())))
	}
	if m.state == CommunicationRecovery && s != CommunicationRecovery && m.cfg.Backlog != nil {
		m.cfg.Backlog.Clear()
	}
	m.prev, m.state = m.state, s
	m.cur.Store(uint32(s))
	m.syncHold = false // the new state's entry decides
	m.entry = m.prev != s
	if m.entry && !m.paused && m.shouldPause(s) {
		m.paused = true
	}
}

// normal is the mode's normal state.
func (m *Machine) normal() State {
	if m.ha.Mode == "load-balancing" {
		return LoadBalancing
	}
	return HotStandby
}

// onEntry runs the state's entry actions: scopes and local DHCP.
func (m *Machine) onEntry() {
	if !m.entry {
		return
	}
	m.entry = false
	switch m.state {
	case Waiting, Syncing, Ready, InMaintenance, Backup:
		m.serveNone()
	case PartnerDown:
		if m.maintStart || m.self.AutoFailover {
			m.serveFailover()
		} else {
			m.serveDefault()
		}
	case PartnerInMaintenance:
		m.serveFailover()
	default:
		m.serveDefault()
	}
	m.adjustDHCP()
	if m.paused {
		m.log.Info(fmt.Sprintf("HA_STATE_MACHINE_PAUSED %s: state machine paused in state %s", m.self.Name, m.state))
	}
	switch m.state {
	case InMaintenance:
		m.log.Info(fmt.Sprintf("HA_MAINTENANCE_SHUTDOWN_SAFE %s: the server can now be shutdown for maintenance as the partner has taken over the DHCP traffic", m.self.Name))
	case Terminated:
		m.log.Error(fmt.Sprintf("HA_TERMINATED HA %s: service terminated due to an unrecoverable condition. Check previous error message(s), address the problem and restart!", m.self.Name))
	}
}

func (m *Machine) adjustDHCP() {
	want := m.state.DHCPEnabled() && !m.syncHold
	if want == m.enabled.Load() {
		return
	}
	word := "disabled"
	id := "HA_LOCAL_DHCP_DISABLE"
	if want {
		word, id = "enabled", "HA_LOCAL_DHCP_ENABLE"
	}
	m.log.Info(fmt.Sprintf("%s %s: local DHCP service is %s while the %s is in the %s state",
		id, m.self.Name, word, m.self.Name, strings.ToUpper(m.state.String())))
	m.enabled.Store(want)
	if m.cfg.SetDHCP != nil {
		m.cfg.SetDHCP(want)
	}
}

// handle is one pass of the current state's handler, checks in Kea's
// order (section 1.4 of the fact sheet).
func (m *Machine) handle(ctx context.Context) {
	m.onEntry()
	switch m.state {
	case Backup, PassiveBackup, Terminated, InMaintenance:
		return
	case PartnerInMaintenance:
		m.handlePartnerInMaintenance()
		return
	}
	if m.paused || m.cancelPending {
		return
	}
	if m.state == Waiting {
		if m.self.Role == "backup" {
			m.transition(Backup)
			return
		}
		if m.ha.Mode == "passive-backup" {
			m.transition(PassiveBackup)
			return
		}
	}
	if m.shouldTerminate() {
		m.transition(Terminated)
		return
	}
	m.cmu.Lock()
	partner, since := m.comm.partner, m.comm.partnerSince
	newUnsent := m.comm.newUnsent()
	fresh := m.fresh
	m.cmu.Unlock()
	if m.partnerStateInvalid(partner) {
		if m.state != Waiting {
			m.transition(Waiting)
		}
		return
	}
	switch m.state {
	case Waiting:
		m.handleWaiting(partner, since, fresh)
	case Syncing:
		m.handleSyncing(ctx, partner)
	case Ready:
		m.handleReady(partner)
	case LoadBalancing, HotStandby:
		m.handleNormal(partner)
	case CommunicationRecovery:
		m.handleRecovery(ctx, partner)
	case PartnerDown:
		m.handlePartnerDown(partner, newUnsent)
	}
}

func (m *Machine) syncOrReady() State {
	if m.ha.SyncLeases {
		return Syncing
	}
	return Ready
}

// handleWaiting is Kea's waiting handler, except that a partner whose
// wire form is not known yet (not identified since the last lost contact)
// keeps us waiting: syncing and ready lead to the states that send lease
// updates.
func (m *Machine) handleWaiting(partner State, since time.Time, identified bool) {
	switch partner {
	case CommunicationRecovery, HotStandby, LoadBalancing, InMaintenance, PartnerDown, PartnerInMaintenance, Ready:
		if identified {
			m.transition(m.syncOrReady())
		}
	case Waiting:
		if m.self.Role == "primary" && identified {
			m.transition(m.syncOrReady())
		}
	case Terminated:
		if m.cfg.Now().Sub(since) >= terminatedAfter {
			m.log.Warn(fmt.Sprintf("HA_TERMINATED_PARTNER_DID_NOT_RESTART %s: partner server remained in terminated state for %d minutes", m.self.Name, int(terminatedAfter/time.Minute)))
			m.transition(Terminated)
		}
	case Unavailable:
		if m.shouldPartnerDown() {
			m.transition(PartnerDown)
		}
	}
}

func (m *Machine) handleSyncing(ctx context.Context, partner State) {
	switch partner {
	case Terminated:
		m.transition(Terminated)
	case Unavailable:
		if m.shouldPartnerDown() {
			m.transition(PartnerDown)
		}
	default:
		err := errors.New("no lease syncer configured")
		if m.cfg.Syncer != nil {
			err = m.cfg.Syncer.Sync(ctx)
		}
		if err == nil {
			m.transition(Ready)
			return
		}
		m.log.Error(fmt.Sprintf("HA_SYNC_FAILED %s: lease database synchronization with %s failed: %v", m.self.Name, m.partner.Name, err))
		m.failed(err)
	}
}

func (m *Machine) handleReady(partner State) {
	switch partner {
	case HotStandby, LoadBalancing, CommunicationRecovery:
		m.transition(m.normal())
	case InMaintenance:
		m.transition(PartnerInMaintenance)
	case PartnerInMaintenance:
		m.transition(InMaintenance)
	case Ready:
		if m.self.Role == "primary" {
			m.transition(m.normal())
		}
	case Terminated:
		m.transition(Terminated)
	case Unavailable:
		if m.shouldPartnerDown() {
			m.transition(PartnerDown)
		}
	}
}

// handleCommon is the part of normal and communication-recovery that is
// the same; it reports whether it handled the partner state.
func (m *Machine) handleCommon(partner State) bool {
	switch partner {
	case InMaintenance:
		m.transition(PartnerInMaintenance)
	case PartnerDown:
		m.transition(Waiting)
	case PartnerInMaintenance:
		m.transition(InMaintenance)
	case Terminated:
		m.transition(Terminated)
	default:
		return false
	}
	return true
}

func (m *Machine) handleNormal(partner State) {
	if m.handleCommon(partner) || partner != Unavailable {
		return
	}
	switch {
	case m.shouldPartnerDown():
		m.transition(PartnerDown)
	case m.yieldsToFault():
		m.transition(Waiting)
	case m.ha.Mode == "load-balancing" && m.ha.DelayedUpdatesLimit > 0:
		m.transition(CommunicationRecovery)
	}
}

// yieldsToFault: a load-balancing secondary whose partner is cut off by
// a configuration fault stops serving its scope once communication is
// interrupted, since the primary then serves every client (README).
func (m *Machine) yieldsToFault() bool {
	if m.ha.Mode != "load-balancing" || m.self.Role == "primary" {
		return false
	}
	m.cmu.Lock()
	defer m.cmu.Unlock()
	return m.comm.fault != nil && m.comm.interrupted(m.cfg.Now())
}

func (m *Machine) handleRecovery(ctx context.Context, partner State) {
	if m.handleCommon(partner) {
		return
	}
	overflowed := m.cfg.Backlog != nil && m.cfg.Backlog.Overflowed()
	m.cmu.Lock()
	interrupted := m.comm.interrupted(m.cfg.Now())
	m.cmu.Unlock()
	switch partner {
	case Unavailable:
		if m.shouldPartnerDown() {
			m.transition(PartnerDown)
		} else if m.yieldsToFault() {
			m.transition(Waiting)
		}
		return
	case Waiting, Syncing, Ready:
		if !interrupted && overflowed {
			m.transition(Waiting)
		}
		return
	}
	if interrupted {
		return
	}
	if partner != m.normal() && partner != CommunicationRecovery {
		m.transition(Waiting)
		return
	}
	if overflowed || (m.cfg.Backlog != nil && m.cfg.Backlog.Replay(ctx) != nil) {
		if m.sendReset(ctx) {
			m.transition(Waiting)
		}
		return
	}
	m.transition(m.normal())
}

// sendReset asks the partner to resync (ha-reset); a failure marks it
// unavailable.
func (m *Machine) sendReset(ctx context.Context) bool {
	body, err := call(ctx, m.cfg.Transport, m.partner.Name, ResetCommand(m.cfg.Version, m.self.Name))
	if err == nil {
		var a Answer
		if a, err = ParseAnswer(body); err == nil {
			err = a.Err()
		}
	}
	if err != nil {
		m.log.Error(fmt.Sprintf("HA_RESET_FAILED %s: failed to send ha-reset command to %s: %v", m.self.Name, m.partner.Name, err))
		m.failed(err)
		return false
	}
	return true
}

func (m *Machine) handlePartnerDown(partner State, newUnsent bool) {
	switch partner {
	case CommunicationRecovery, PartnerDown, PartnerInMaintenance:
		m.transition(Waiting)
	case Ready:
		if newUnsent {
			m.transition(Waiting)
		} else {
			m.transition(m.normal())
		}
	case Terminated:
		m.transition(Terminated)
	}
}

// handlePartnerInMaintenance: no maintenance-cancel check here (this
// server is the one that cancels), and the only automatic exit is a
// failed heartbeat, without the unacked-clients test.
func (m *Machine) handlePartnerInMaintenance() {
	if m.paused {
		return
	}
	if m.shouldTerminate() {
		m.transition(Terminated)
		return
	}
	if m.PartnerState() == Unavailable {
		m.transition(PartnerDown)
	}
}

// partnerStateInvalid: a partner state that cannot exist in our mode.
func (m *Machine) partnerStateInvalid(p State) bool {
	switch p {
	case CommunicationRecovery, LoadBalancing:
		return m.ha.Mode != "load-balancing"
	case HotStandby:
		return m.ha.Mode != "hot-standby"
	}
	return false
}

// shouldTerminate is Kea's clock-skew check, with twinleaf's rule that
// only a skew between two synchronised clocks terminates. Kea's second
// reason, too many rejected lease updates, is gone: twinleaf resolves
// conflicts instead (README, "Conflicting lease updates").
func (m *Machine) shouldTerminate() bool {
	localSynced := m.cfg.ClockSynced == nil || m.cfg.ClockSynced()
	now := m.cfg.Now()
	m.cmu.Lock()
	defer m.cmu.Unlock()
	c := m.comm
	if c.skewTerminates(localSynced) {
		m.log.Error(fmt.Sprintf("HA_HIGH_CLOCK_SKEW_CAUSED_TERMINATION %s: %s, causing HA service to terminate", m.self.Name, m.skewText()))
		return true
	}
	if c.skewWarns(now) {
		text := m.skewText()
		if abs(c.skew) > terminateSkew {
			text += ", waiting for a synchronized clock before acting on it"
		}
		m.log.Warn(fmt.Sprintf("HA_HIGH_CLOCK_SKEW %s: %s, please synchronize clocks!", m.self.Name, text))
	}
	return false
}

// skewText is Kea's clock-skew description; cmu must be held.
func (m *Machine) skewText() string {
	c := m.comm
	const layout = "2006-01-02 15:04:05"
	var where string
	switch s := c.skew / time.Second; {
	case s == 0:
		where = "synchronized"
	case s < 0:
		where = fmt.Sprintf("%ds behind", -s)
	default:
		where = fmt.Sprintf("%ds ahead", s)
	}
	return fmt.Sprintf("my time: %s, partner's time: %s, partner's clock is %s", c.myTimeAtSkew.UTC().Format(layout),
		c.partnerTime.UTC().Format(layout), where)
}

// shouldPartnerDown is Kea's rule: only once communication is interrupted;
// then at once when local DHCP is off or we are the hot-standby primary,
// else (a load-balancing peer or a serving standby) only when enough
// clients went unanswered.
func (m *Machine) shouldPartnerDown() bool {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	if !m.comm.interrupted(m.cfg.Now()) {
		return false
	}
	if m.comm.fault != nil {
		// A configuration fault: the partner answers, so it is not
		// down. Only the primary serves on (README).
		return m.self.Role == "primary"
	}
	if m.enabled.Load() && (m.ha.Mode == "load-balancing" || m.self.Role == "standby") {
		return m.comm.failureDetected()
	}
	return true
}

// PartnerUnavailable records a failed command to the partner (a lease
// update that failed other than by conflict, a failed sync page); err is
// why, which may be a configuration fault.
func (m *Machine) PartnerUnavailable(err error) { m.failed(err) }

// failed records a failed request to the partner: it is unavailable, and
// a configuration fault (ConfigFault) stays until a request succeeds.
func (m *Machine) failed(err error) {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	m.failedLocked(err, m.cfg.Now())
}

// refusedError is a heartbeat that succeeded while the partner's own
// requests to us are refused.
type refusedError struct{ f Fault }

func (e *refusedError) Error() string {
	return "the partner's requests to us are refused: " + e.f.Cause
}

// failedLocked is failed with cmu held.
func (m *Machine) failedLocked(err error, now time.Time) {
	m.comm.unavailable(now)
	f, ok := ConfigFault(err)
	var re *refusedError
	if errors.As(err, &re) {
		f, ok = re.f, true
	}
	if !ok {
		return
	}
	c := m.comm
	if c.fault != nil && *c.fault == f && now.Sub(c.faultLogged) < faultLogEvery {
		c.fault = &f
		return
	}
	c.fault, c.faultLogged = &f, now
	m.log.Error(fmt.Sprintf("HA_CONFIG_FAULT %s: partner %s at %s: %s: %s; %s", m.self.Name, m.partner.Name,
		PeerURL(m.ha, *m.partner), f.Cause, f.Check, m.faultConsequence()))
}

// faultConsequence says what this server does about a configuration
// fault (README, "Configuration faults").
func (m *Machine) faultConsequence() string {
	if m.self.Role == "primary" {
		return "this server serves alone, without lease updates, once communication is interrupted, as with a partner that is down"
	}
	return "this server does not take over from its partner while the fault lasts"
}

// faultCleared ends the configuration fault after a request succeeded;
// cmu must be held.
func (m *Machine) faultCleared() {
	if m.comm.fault == nil {
		return
	}
	m.comm.fault = nil
	m.log.Info(fmt.Sprintf("HA_CONFIG_FAULT_CLEARED %s: requests to partner %s succeed again", m.self.Name, m.partner.Name))
}

// Refused records a request that our control socket or HA listener
// turned away: a failed TLS handshake or wrong basic-auth credentials
// (err, classified by Refusal). From the partner's address it is a
// configuration fault on the partner's side, which this server reports
// and, while it lasts, counts against the partner even when our own
// requests get through. Refusals of other clients are not HA's business.
// Its signature is ctrl.HTTPHandler's Refused.
func (m *Machine) Refused(from netip.AddrPort, err error) {
	if m.partner == nil || !m.isPartner(from.Addr()) {
		return
	}
	f, ok := Refusal(err)
	if !ok {
		return
	}
	m.cmu.Lock()
	defer m.cmu.Unlock()
	c := m.comm
	now := m.cfg.Now()
	same := c.refused != nil && *c.refused == f
	c.refused, c.refusedAt = &f, now
	if same && now.Sub(c.refusedLogged) < faultLogEvery {
		return
	}
	c.refusedLogged = now
	m.log.Error(fmt.Sprintf("HA_CONFIG_FAULT %s: refused a request from partner %s (%s): %s: %s; %s", m.self.Name,
		m.partner.Name, from.Addr().Unmap(), f.Cause, f.Check, m.faultConsequence()))
}

// isPartner reports whether a connection from a comes from the partner:
// the address of its url (a host name is compared as written).
func (m *Machine) isPartner(a netip.Addr) bool {
	if m.partner.Addr.IsValid() {
		return m.partner.Addr.Addr().Unmap() == a.Unmap()
	}
	return m.partner.URL != nil && m.partner.URL.Hostname() == a.Unmap().String()
}

// ConfigFault is the configuration fault between this server and its
// partner, if any: ours in reaching it, else its own in reaching us.
func (m *Machine) ConfigFault() (Fault, bool) {
	if m.partner == nil {
		return Fault{}, false
	}
	m.cmu.Lock()
	defer m.cmu.Unlock()
	return m.comm.configFault(m.cfg.Now())
}

// UpdatePlan says what to do with one DHCP transaction's lease updates to
// the partner.
type UpdatePlan uint8

// Plans: skip (counted in unsent-update-count when the state serves
// clients), send and hold the reply until the partner acknowledges, or
// queue in the communication-recovery backlog without holding the reply.
const (
	UpdateSkip UpdatePlan = iota
	UpdateSend
	UpdateQueue
)

// Committed is called once per DHCP transaction that committed leases and
// returns what to do with its updates to the partner. Updates to backups
// follow SendLeaseUpdates alone and are not decided here.
func (m *Machine) Committed() UpdatePlan {
	if !m.ha.SendLeaseUpdates || m.partner == nil {
		return UpdateSkip
	}
	s := m.State()
	switch s {
	case HotStandby, LoadBalancing, PartnerInMaintenance:
		return UpdateSend
	case CommunicationRecovery:
		return UpdateQueue
	}
	if s.DHCPEnabled() {
		m.cmu.Lock()
		m.comm.countUnsent()
		m.cmu.Unlock()
	}
	return UpdateSkip
}

// UnsentUpdateCount is the counter the heartbeat answer reports.
func (m *Machine) UnsentUpdateCount() uint64 {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	return m.comm.unsent
}

// UpdateConflict records a lease update the partner answered with a
// conflict (rc 4), and whether the second attempt made the partner take
// this server's lease. The partner answered, so it stays available, and
// the client's reply goes out: this server serves the client.
func (m *Machine) UpdateConflict(fixed bool) {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	m.comm.conflicts++
	if fixed {
		m.comm.conflictsFixed++
	}
}

// ConflictResolved records and logs a lease update from the partner that
// this server applied over a disagreeing local lease: the partner serves
// the client, so its lease wins. It is leasecmds.Deps.Conflict.
func (m *Machine) ConflictResolved(c leasecmds.Conflict) {
	m.cmu.Lock()
	m.comm.conflictsReceived++
	m.cmu.Unlock()
	local := "none"
	if c.Local != nil {
		local = fmt.Sprintf("hw-address %s", memfile.FormatHex(c.Local.HWAddr))
	}
	m.log.Warn(fmt.Sprintf("HA_LEASE_UPDATE_CONFLICT_RESOLVED %s: %s for %s conflicted with this server's lease (%s; local lease of %s): applied in favour of the sender, which serves the client",
		m.self.Name, c.Command, c.Addr, c.Reason, local))
}

// ShouldReclaim reports whether this server reclaims the expired lease: a
// terminated server reclaims only its own scope's leases.
func (m *Machine) ShouldReclaim(l *lease.Lease) bool {
	if m.State() != Terminated {
		return true
	}
	return m.LeaseInScope(l)
}

// InScope is the engine's HA filter (Kea's buffer4_receive callout):
// whether this server answers the query in its current state, and the
// class naming the query's scope, HA_<server name>, which the client is
// put in either way, as Kea does. Pools and subnets restricted to these
// classes are how a load-balanced pair splits its addresses. Queries of
// non-HA types are always answered, in the first peer's scope; a
// load-balanced query with neither client-id nor hardware address is
// dropped. While communication is interrupted, queries meant for the
// partner feed failure detection.
func (m *Machine) InScope(p *dhcpv4.DHCPv4) (class string, in bool) {
	if !haType(p.MessageType()) {
		return m.classes[0], true
	}
	i, ok := m.queryScope(p)
	if !ok {
		return "", false
	}
	if m.serving(m.peers[i].Name) {
		return m.classes[i], true
	}
	m.cmu.Lock()
	defer m.cmu.Unlock()
	if m.comm.interrupted(m.cfg.Now()) {
		if m.comm.analyze(p) {
			n := m.comm.unackedCount()
			var left uint32
			if m.ha.MaxUnackedClients >= n {
				left = m.ha.MaxUnackedClients - n + 1
			}
			m.log.Info(fmt.Sprintf("HA_COMMUNICATION_INTERRUPTED_CLIENT4_UNACKED %s: partner server failed to respond to %s, %d clients unacked so far, %d clients left before transitioning to the partner-down state",
				m.self.Name, label(p), n, left))
		}
	}
	return m.classes[i], false
}

func label(p *dhcpv4.DHCPv4) string {
	return fmt.Sprintf("[hwtype=%d %s], cid=[%s], tid=0x%x", p.HWType, p.ClientHWAddr, memfile.FormatHex(p.Options.Get(dhcpv4.OptionClientIdentifier)), p.TransactionID[:])
}

// haType: DISCOVER, REQUEST, DECLINE, RELEASE and INFORM are split
// between the servers; other types go to the primary's scope.
func haType(t dhcpv4.MessageType) bool {
	switch t {
	case dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeDecline,
		dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeInform:
		return true
	}
	return false
}

func (m *Machine) queryScope(p *dhcpv4.DHCPv4) (int, bool) {
	return m.scopeFor(p.Options.Get(dhcpv4.OptionClientIdentifier), p.ClientHWAddr)
}

// LeaseInScope applies the scope split to a stored lease.
func (m *Machine) LeaseInScope(l *lease.Lease) bool {
	i, ok := m.scopeFor(l.ClientID, l.HWAddr)
	return ok && m.serving(m.peers[i].Name)
}

// scopeFor is the index in peers of the server whose scope a client
// belongs to: the primary's, or in load-balancing the one its key hashes
// to.
func (m *Machine) scopeFor(clientID, hw []byte) (int, bool) {
	if m.ha.Mode != "load-balancing" {
		return 0, true
	}
	key := loadBalanceKey(clientID, hw)
	if key == nil {
		return 0, false
	}
	return int(LoadBalanceHash(key) % 2), true
}

func (m *Machine) serving(scope string) bool {
	s := *m.served.Load()
	v, ok := s[scope]
	return !ok || v
}

func (m *Machine) serve(names ...string) {
	s := make(map[string]bool, len(m.peers))
	for _, p := range m.peers {
		s[p.Name] = false
	}
	for _, n := range names {
		s[n] = true
	}
	m.served.Store(&s)
}

func (m *Machine) serveNone() { m.serve() }

// serveDefault: a primary or secondary serves its own scope; standby and
// backups serve none.
func (m *Machine) serveDefault() {
	if m.self.Role == "primary" || m.self.Role == "secondary" {
		m.serve(m.self.Name)
		return
	}
	m.serve()
}

// serveFailover serves every primary and secondary scope.
func (m *Machine) serveFailover() {
	var names []string
	for _, p := range m.peers {
		if p.Role == "primary" || p.Role == "secondary" {
			names = append(names, p.Name)
		}
	}
	m.serve(names...)
}

// Scopes are the scopes served now, sorted, as heartbeats report them.
func (m *Machine) Scopes() []string {
	var out []string
	for n, v := range *m.served.Load() {
		if v {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// SetScopes is ha-scopes: serve exactly the named scopes until the next
// state change. An unknown name changes nothing.
func (m *Machine) SetScopes(names []string) error {
	for _, n := range names {
		if !slices.ContainsFunc(m.peers, func(p config.Peer) bool { return p.Name == n }) {
			return fmt.Errorf("invalid server name specified '%s' while enabling/disabling HA scopes", n)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.serve(names...)
	return nil
}
