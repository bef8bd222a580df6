package ha

import (
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Clock-skew thresholds (Kea's communication_state.cc).
const (
	warnSkew        = 30 * time.Second
	terminateSkew   = 60 * time.Second
	skewWarnEvery   = 60 * time.Second
	terminatedAfter = 10 * time.Minute // 3.x: partner terminated this long while we wait
)

// clientKey identifies a client for failure detection: its hardware
// address and option 61 data.
type clientKey struct{ hw, id string }

// comm is what this server knows about its partner (Kea's
// CommunicationState4). The Machine's mutex guards it.
type comm struct {
	maxResponseDelay time.Duration
	maxAckDelay      time.Duration
	maxUnacked       uint32

	poke          time.Time // last successful heartbeat, or start
	partner       State
	partnerSince  time.Time
	partnerScopes []string
	partnerTime   time.Time // the partner's date-time; zero until a heartbeat
	myTimeAtSkew  time.Time
	skew          time.Duration
	partnerSynced bool
	lastSkewWarn  time.Time
	partnerUnsent [2]uint64 // previous and latest unsent-update-count
	clients       map[clientKey]bool
	analyzed      uint64
	unsent        uint64

	// Lease update conflicts (README, "Conflicting lease updates"):
	// updates the partner answered with rc 4, how many of them the
	// second attempt made it take, and the partner's updates this server
	// applied over a disagreeing local lease.
	conflicts, conflictsFixed, conflictsReceived uint64
	// Load-balancing conflicts between two twinleaf servers (KeepLocal):
	// partner updates this server refused for its own earlier lease, and
	// this server's updates the partner refused so.
	conflictsKept, conflictsLost uint64

	// fault is the configuration fault of the last failed request to the
	// partner, kept until a request succeeds (a plain failure meanwhile
	// does not end it); faultLogged rate-limits its log line.
	fault       *Fault
	faultLogged time.Time
	// refused is the partner's last request our sockets turned away, at
	// refusedAt; a heartbeat from the partner after it (heardAt) or
	// refusalWindow without another ends it.
	refused       *Fault
	refusedAt     time.Time
	refusedLogged time.Time
	heardAt       time.Time
	refusalWindow time.Duration
}

// faultLogEvery rate-limits the configuration fault log lines.
const faultLogEvery = time.Minute

// refusedNow is the partner's refusal still in force, if any.
func (c *comm) refusedNow(now time.Time) (Fault, bool) {
	if c.refused == nil || !c.refusedAt.After(c.heardAt) || now.Sub(c.refusedAt) > c.refusalWindow {
		return Fault{}, false
	}
	return *c.refused, true
}

// configFault is the fault to report: ours in reaching the partner, else
// the partner's in reaching us.
func (c *comm) configFault(now time.Time) (Fault, bool) {
	if c.fault != nil {
		return *c.fault, true
	}
	return c.refusedNow(now)
}

func newComm(now time.Time, maxResponse, maxAck time.Duration, maxUnacked uint32) *comm {
	return &comm{maxResponseDelay: maxResponse, maxAckDelay: maxAck, maxUnacked: maxUnacked,
		poke: now, partner: Unavailable, partnerSince: now,
		partnerSynced: true, clients: map[clientKey]bool{}}
}

// interrupted reports that no heartbeat succeeded for longer than
// max-response-delay. The clock starts at service start.
func (c *comm) interrupted(now time.Time) bool {
	return now.Sub(c.poke) > c.maxResponseDelay
}

func (c *comm) setPartnerState(s State, now time.Time) {
	if s != c.partner {
		c.partnerSince = now
	}
	c.partner = s
}

// heartbeatOK records a successful heartbeat: the partner's state, scopes,
// time and counter, and contact (which forgets the analysed clients).
func (c *comm) heartbeatOK(hb Heartbeat, now time.Time) {
	c.setPartnerState(hb.State, now)
	c.partnerScopes = hb.Scopes
	c.partnerTime = hb.Time
	c.myTimeAtSkew = now
	c.skew = hb.Time.Sub(now).Truncate(time.Second)
	c.partnerSynced = hb.ClockSynced
	c.partnerUnsent[0], c.partnerUnsent[1] = c.partnerUnsent[1], hb.UnsentCount
	c.poke = now
	clear(c.clients)
	c.analyzed = 0
}

// unavailable records a failed command: the partner state and its clock
// data are forgotten.
func (c *comm) unavailable(now time.Time) {
	c.setPartnerState(Unavailable, now)
	c.partnerTime, c.myTimeAtSkew, c.lastSkewWarn = time.Time{}, time.Time{}, time.Time{}
	c.skew = 0
	c.partnerSynced = true
}

// newUnsent reports that the partner skipped updates to us since its
// previous heartbeat, so a resync is needed.
func (c *comm) newUnsent() bool {
	return c.partnerUnsent[1] > 0 && c.partnerUnsent[0] != c.partnerUnsent[1]
}

// secs is the query's secs field, with Kea's workaround for clients that
// send it byte-swapped (non-zero high byte, zero low byte).
func secs(p *dhcpv4.DHCPv4) uint16 {
	s := p.NumSeconds
	if s > 255 && s&0xff == 0 {
		s = s>>8 | s<<8
	}
	return s
}

// analyze records a query meant for the partner while communication is
// interrupted. A client only ever moves from acked to unacked.
func (c *comm) analyze(p *dhcpv4.DHCPv4) (unackedNow bool) {
	c.analyzed++
	unacked := time.Duration(secs(p))*time.Second > c.maxAckDelay
	k := keyOf(p)
	was, seen := c.clients[k]
	if seen && was {
		return false
	}
	c.clients[k] = unacked
	return unacked
}

func keyOf(p *dhcpv4.DHCPv4) clientKey {
	return clientKey{string(p.ClientHWAddr), string(p.Options.Get(dhcpv4.OptionClientIdentifier))}
}

func (c *comm) unackedCount() uint32 {
	var n uint32
	for _, u := range c.clients {
		if u {
			n++
		}
	}
	return n
}

// failureDetected: more than max-unacked-clients distinct clients went
// unanswered by the partner (or the limit is 0).
func (c *comm) failureDetected() bool {
	return c.maxUnacked == 0 || c.unackedCount() > c.maxUnacked
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// skewTerminates is Kea's > 60 s rule, applied only when both clocks are
// synchronised (see README, "Clock skew on boards without an RTC").
func (c *comm) skewTerminates(localSynced bool) bool {
	return abs(c.skew) > terminateSkew && localSynced && c.partnerSynced
}

// skewWarns gates the > 30 s warning to once a minute.
func (c *comm) skewWarns(now time.Time) bool {
	if abs(c.skew) <= warnSkew {
		return false
	}
	if !c.lastSkewWarn.IsZero() && now.Sub(c.lastSkewWarn) <= skewWarnEvery {
		return false
	}
	c.lastSkewWarn = now
	return true
}

// countUnsent bumps unsent-update-count; 0 is reserved for a fresh start,
// so it wraps to 1.
func (c *comm) countUnsent() {
	c.unsent++
	if c.unsent == 0 {
		c.unsent = 1
	}
}
