package ha

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
)

// Version is the Kea release whose wire form a server speaks. Both
// versions ignore arguments they do not know, so the difference is which
// extras this server sends.
type Version uint8

// Wire forms: Kea 2.2 sends bare commands; 3.x adds server-name, origin-id
// and origin, and answers a maintenance cancel with the new state.
const (
	Kea3 Version = iota
	Kea22
)

// Form names the wire form for the log.
func (v Version) Form() string {
	if v == Kea22 {
		return "Kea 2.2's"
	}
	return "Kea 3.x's"
}

// Kea's remote-partner origin for dhcp-disable/dhcp-enable in 3.x
// (2000 + relationship index; twinleaf has one relationship).
const partnerOrigin = 2000

// Command is one request envelope as the HA peers send it: always for
// the dhcp4 service, arguments left out when there are none.
type Command struct {
	Command   string
	Arguments map[string]any
	// lease, set for lease4-update and lease4-del (LeaseUpdateCommand),
	// takes Arguments' place: the arguments are encoded from the lease.
	lease *leaseArgs
}

// Addr is the address a lease command is about (its ip-address).
func (c Command) Addr() string {
	if c.lease != nil {
		return c.lease.l.Addr.String()
	}
	s, _ := c.Arguments["ip-address"].(string)
	return s
}

// MarshalJSON writes Kea's envelope (AppendJSON).
func (c Command) MarshalJSON() ([]byte, error) {
	return c.AppendJSON(nil)
}

// HeartbeatCommand is ha-heartbeat; 3.x names the sender.
func HeartbeatCommand(v Version, serverName string) Command {
	return Command{Command: "ha-heartbeat", Arguments: nameArg(v, serverName)}
}

// ResetCommand is ha-reset, sent by a load-balancing server whose backlog
// cannot be replayed.
func ResetCommand(v Version, serverName string) Command {
	return Command{Command: "ha-reset", Arguments: nameArg(v, serverName)}
}

func nameArg(v Version, serverName string) map[string]any {
	if v == Kea22 {
		return nil
	}
	return map[string]any{"server-name": serverName}
}

// DisableCommand is dhcp-disable as the syncing server sends it to its
// partner; maxPeriod is in seconds and 0 leaves it out.
func DisableCommand(v Version, maxPeriod uint32) Command {
	args := originArgs(v)
	if maxPeriod > 0 {
		args["max-period"] = maxPeriod
	}
	return Command{Command: "dhcp-disable", Arguments: args}
}

// EnableCommand is dhcp-enable, ending a sync that failed (or one whose
// partner lacks ha-sync-complete-notify).
func EnableCommand(v Version) Command {
	return Command{Command: "dhcp-enable", Arguments: originArgs(v)}
}

// originArgs names the HA partner origin: 2.2 takes only the string, and
// rejects an integer origin; 3.x prefers the integer origin-id.
func originArgs(v Version) map[string]any {
	if v == Kea22 {
		return map[string]any{"origin": "ha-partner"}
	}
	return map[string]any{"origin-id": partnerOrigin, "origin": "ha-partner"}
}

// SyncCompleteCommand is ha-sync-complete-notify, sent after the last page
// of a sync.
func SyncCompleteCommand(v Version, serverName string) Command {
	if v == Kea22 {
		return Command{Command: "ha-sync-complete-notify"}
	}
	return Command{Command: "ha-sync-complete-notify", Arguments: map[string]any{
		"server-name": serverName, "origin-id": partnerOrigin, "origin": partnerOrigin}}
}

// MaintenanceNotifyCommand is ha-maintenance-notify. state is the sender's
// current state on start and its next state on cancel; 2.2 sends neither
// it nor the server name.
func MaintenanceNotifyCommand(v Version, serverName string, cancel bool, state State) Command {
	if v == Kea22 {
		return Command{Command: "ha-maintenance-notify", Arguments: map[string]any{"cancel": cancel}}
	}
	return Command{Command: "ha-maintenance-notify", Arguments: map[string]any{
		"server-name": serverName, "cancel": cancel, "state": state.String()}}
}

// LeasePageCommand is lease4-get-page; from is the last address of the
// previous page, or the zero Addr for the first page.
func LeasePageCommand(from string, limit uint32) Command {
	if from == "" {
		from = "start"
	}
	return Command{Command: "lease4-get-page", Arguments: map[string]any{"from": from, "limit": limit}}
}

// Answer is one peer answer: Kea's result code, text and raw arguments.
type Answer struct {
	Result    int
	Text      string
	Arguments json.RawMessage
}

// Err is the answer as an error, nil for rc 0. The text is the peer's, so
// the log says what the partner objected to.
func (a Answer) Err() error {
	if a.Result == 0 {
		return nil
	}
	return &AnswerError{Result: a.Result, Text: a.Text}
}

// Done reports Kea's success for a command: rc 0, or 3 (empty: nothing to
// do, such as deleting a lease that is not there), as Kea's HA checks its
// partner's answers.
func (a Answer) Done() bool { return a.Result == 0 || a.Result == 3 }

// AnswerError is a non-zero answer from the partner.
type AnswerError struct {
	Result int
	Text   string
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("partner answered %q (error code %d)", e.Text, e.Result)
}

// errAnswer is the sentinel every answer parsing error wraps.
var errAnswer = errors.New("ha: bad answer")

// ParseAnswer reads a peer's HTTP answer body. Kea wraps answers in a
// one-element list; a bare map is an HTTP-layer rejection (401, 403 ...)
// and counts as rc 1 keeping its text, as Kea's HA client does.
func ParseAnswer(body []byte) (Answer, error) {
	t := bytes.TrimSpace(body)
	var raw json.RawMessage = t
	if len(t) > 0 && t[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(t, &list); err != nil {
			return Answer{}, fmt.Errorf("%w: %v: %.100q", errAnswer, err, t)
		}
		if len(list) == 0 {
			return Answer{}, fmt.Errorf("%w: empty answer list", errAnswer)
		}
		raw = list[0]
	} else if len(t) == 0 || t[0] != '{' {
		return Answer{}, fmt.Errorf("%w: not a JSON list: %.100q", errAnswer, t)
	}
	var m struct {
		Result    *json.Number    `json:"result"`
		Text      json.RawMessage `json:"text"`
		Arguments json.RawMessage `json:"arguments"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return Answer{}, fmt.Errorf("%w: %v: %.100q", errAnswer, err, raw)
	}
	if m.Result == nil {
		return Answer{}, fmt.Errorf("%w: no \"result\" in %.100q", errAnswer, raw)
	}
	rc, err := m.Result.Int64()
	if err != nil || rc < math.MinInt32 || rc > math.MaxInt32 {
		return Answer{}, fmt.Errorf("%w: \"result\" %s is not an integer", errAnswer, m.Result)
	}
	a := Answer{Result: int(rc)}
	if len(m.Text) > 0 && string(m.Text) != "null" {
		if err := json.Unmarshal(m.Text, &a.Text); err != nil {
			return Answer{}, fmt.Errorf("%w: \"text\" is not a string", errAnswer)
		}
	}
	if string(m.Arguments) != "null" {
		a.Arguments = m.Arguments
	}
	if t[0] == '{' {
		a.Result = 1
	}
	return a, nil
}

// Heartbeat is the partner's ha-heartbeat answer.
type Heartbeat struct {
	State       State
	Time        time.Time
	Scopes      []string
	UnsentCount uint64
	// ClockSynced is twinleaf's extra: false when the partner's clock is
	// not yet synchronised. Kea never sends it, so absent means true.
	ClockSynced bool
}

// heartbeatClockKey is twinleaf's extra heartbeat argument; Kea ignores
// arguments it does not know.
const heartbeatClockKey = "twinleaf-clock-synchronized"

// ParseHeartbeat reads an ha-heartbeat answer with Kea's checks: rc 0 (or
// 3), a known state, an RFC 1123 GMT date-time; scopes and
// unsent-update-count are optional.
func ParseHeartbeat(body []byte) (Heartbeat, error) {
	a, err := ParseAnswer(body)
	if err != nil {
		return Heartbeat{}, err
	}
	if !a.Done() {
		return Heartbeat{}, a.Err()
	}
	var args struct {
		State       *string         `json:"state"`
		DateTime    *string         `json:"date-time"`
		Scopes      json.RawMessage `json:"scopes"`
		Unsent      *json.Number    `json:"unsent-update-count"`
		ClockSynced *bool           `json:"twinleaf-clock-synchronized"`
	}
	if len(a.Arguments) == 0 || a.Arguments[0] != '{' {
		return Heartbeat{}, fmt.Errorf("%w: heartbeat answer has no arguments map", errAnswer)
	}
	d := json.NewDecoder(bytes.NewReader(a.Arguments))
	d.UseNumber()
	if err := d.Decode(&args); err != nil {
		return Heartbeat{}, fmt.Errorf("%w: heartbeat arguments: %v", errAnswer, err)
	}
	if args.State == nil {
		return Heartbeat{}, fmt.Errorf("%w: heartbeat answer has no state", errAnswer)
	}
	var hb Heartbeat
	if hb.State, err = ParseState(*args.State); err != nil {
		return Heartbeat{}, fmt.Errorf("%w: heartbeat: %v", errAnswer, err)
	}
	if args.DateTime == nil {
		return Heartbeat{}, fmt.Errorf("%w: heartbeat answer has no date-time", errAnswer)
	}
	if hb.Time, err = time.Parse(http.TimeFormat, *args.DateTime); err != nil {
		return Heartbeat{}, fmt.Errorf("%w: heartbeat date-time %q is not RFC 1123 GMT", errAnswer, *args.DateTime)
	}
	if len(args.Scopes) > 0 && string(args.Scopes) != "null" {
		if err := json.Unmarshal(args.Scopes, &hb.Scopes); err != nil {
			return Heartbeat{}, fmt.Errorf("%w: heartbeat scopes are not a list of strings", errAnswer)
		}
	}
	if args.Unsent != nil {
		n, err := parseUint(*args.Unsent)
		if err != nil {
			return Heartbeat{}, fmt.Errorf("%w: heartbeat unsent-update-count: %v", errAnswer, err)
		}
		hb.UnsentCount = n
	}
	hb.ClockSynced = args.ClockSynced == nil || *args.ClockSynced
	return hb, nil
}

// Arguments is hb as the receiver answers a heartbeat, ready for
// ctrl.Success("HA peer status returned.", ...).
func (hb Heartbeat) Arguments() map[string]any {
	scopes := hb.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	m := map[string]any{
		"state":               hb.State.String(),
		"date-time":           hb.Time.UTC().Format(http.TimeFormat),
		"scopes":              scopes,
		"unsent-update-count": hb.UnsentCount,
	}
	if !hb.ClockSynced {
		m[heartbeatClockKey] = false
	}
	return m
}

func parseUint(n json.Number) (uint64, error) {
	var u uint64
	if _, err := fmt.Sscan(n.String(), &u); err != nil || n.String() != fmt.Sprint(u) {
		return 0, fmt.Errorf("%s is not an unsigned integer", n)
	}
	return u, nil
}

// ParseMaintenanceCancel reads the answer to a cancelling
// ha-maintenance-notify: 3.x names the partner's new state, 2.2 names
// none (ok false).
func ParseMaintenanceCancel(body []byte) (st State, ok bool, err error) {
	a, err := ParseAnswer(body)
	if err != nil {
		return 0, false, err
	}
	if err := a.Err(); err != nil {
		return 0, false, err
	}
	if len(a.Arguments) == 0 || a.Arguments[0] != '{' {
		return 0, false, nil
	}
	var args struct {
		State json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(a.Arguments, &args); err != nil {
		return 0, false, fmt.Errorf("%w: maintenance cancel arguments: %v", errAnswer, err)
	}
	if len(args.State) == 0 {
		return 0, false, nil
	}
	var name string
	if err := json.Unmarshal(args.State, &name); err != nil {
		return 0, false, fmt.Errorf("%w: server state not returned in response or it is not a string", errAnswer)
	}
	if st, err = ParseState(name); err != nil {
		return 0, false, fmt.Errorf("%w: %v", errAnswer, err)
	}
	return st, true, nil
}
