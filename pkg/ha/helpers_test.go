package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/twinleaf/twinleaf/pkg/config"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeTransport answers each command with a scripted function and records
// what was sent.
type fakeTransport struct {
	mu     sync.Mutex
	answer map[string]func(args map[string]any) ([]byte, error)
	sent   []map[string]any
}

func (f *fakeTransport) Call(_ context.Context, peer string, body []byte) ([]byte, error) {
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.sent = append(f.sent, req)
	h := f.answer[req["command"].(string)]
	f.mu.Unlock()
	if h == nil {
		return nil, errors.New("connection refused")
	}
	args, _ := req["arguments"].(map[string]any)
	return h(args)
}

func (f *fakeTransport) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.sent {
		out = append(out, r["command"].(string))
	}
	return out
}

// heartbeatBody is a list-wrapped heartbeat answer as Kea sends it.
func heartbeatBody(s State, t time.Time, unsent uint64) []byte {
	return []byte(fmt.Sprintf(`[ { "result": 0, "text": "HA peer status returned.", "arguments": { "state": %q, "date-time": %q, "scopes": [ "server1" ], "unsent-update-count": %d } } ]`,
		s, t.UTC().Format(http.TimeFormat), unsent))
}

// haConfig is a relationship of server1 (primary), server2 (standby or
// secondary) and server3 (backup) with Kea's defaults.
func haConfig(mode, self string) config.HA {
	second := "standby"
	if mode == "load-balancing" {
		second = "secondary"
	}
	h := config.HA{ThisServerName: self, Mode: mode, HeartbeatDelay: 10000, MaxResponseDelay: 60000,
		MaxAckDelay: 10000, MaxUnackedClients: 10, MaxRejectedLeaseUpdates: 10, SendLeaseUpdates: true,
		SyncLeases: true, SyncTimeout: 60000, SyncPageLimit: 10000,
		Peers: []config.Peer{
			{Name: "server3", Role: "backup", AutoFailover: true},
			{Name: "server2", Role: second, AutoFailover: true},
			{Name: "server1", Role: "primary", AutoFailover: true},
		}}
	if mode == "load-balancing" {
		h.DelayedUpdatesLimit = 100
	}
	if mode == "passive-backup" {
		h.Peers[1].Role = "backup"
	}
	return h
}

type syncFunc func(context.Context) error

func (f syncFunc) Sync(ctx context.Context) error { return f(ctx) }

type fakeBacklog struct {
	overflowed bool
	replayErr  error
	replayed   int
	cleared    int
}

func (b *fakeBacklog) Overflowed() bool { return b.overflowed }
func (b *fakeBacklog) Replay(context.Context) error {
	b.replayed++
	return b.replayErr
}
func (b *fakeBacklog) Clear() { b.cleared++ }

// rig is a machine with its fakes.
type rig struct {
	m   *Machine
	clk *clock
	tr  *fakeTransport
	bl  *fakeBacklog
	log *bytes.Buffer
}

func newRig(t *testing.T, h config.HA, opts ...func(*Config)) *rig {
	t.Helper()
	r := &rig{clk: newClock(), tr: &fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){}},
		bl: &fakeBacklog{}, log: &bytes.Buffer{}}
	cfg := Config{HA: h, Now: r.clk.Now, Transport: r.tr, Backlog: r.bl,
		Syncer: syncFunc(func(context.Context) error { return nil }),
		Log:    hclog.New(&hclog.LoggerOptions{Output: r.log, Level: hclog.Info})}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.m = m
	return r
}

// force puts the machine in state s (entry actions pending) with the
// partner last seen in state p.
func (r *rig) force(s, p State) {
	r.m.mu.Lock()
	r.m.prev, r.m.state, r.m.entry = s, s, true
	r.m.cur.Store(uint32(s))
	r.m.mu.Unlock()
	r.m.cmu.Lock()
	if p == Unavailable {
		r.m.comm.unavailable(r.clk.Now())
	} else {
		r.m.comm.heartbeatOK(Heartbeat{State: p, Time: r.clk.Now(), ClockSynced: true}, r.clk.Now())
	}
	r.m.cmu.Unlock()
}

// step runs one handler pass, without the cascade Run does.
func (r *rig) step() State {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	r.m.handle(context.Background())
	return r.m.state
}

// answerBody wraps arguments in a list-wrapped rc 0 answer.
func answerBody(args map[string]any) []byte {
	b, err := json.Marshal([]any{map[string]any{"result": 0, "text": "HA peer status returned.", "arguments": args}})
	if err != nil {
		panic(err)
	}
	return b
}

// checkSent checks what sending lease updates did: whether it failed,
// whether that made the partner unavailable (only a failure does), and
// the commands that went on the wire, comma-separated.
func (r *rig) checkSent(t *testing.T, err error, failed bool, sent string) {
	t.Helper()
	if (err != nil) != failed {
		t.Errorf("error %v, want one: %v", err, failed)
	}
	if got := r.m.PartnerState() == Unavailable; got != failed {
		t.Errorf("partner unavailable %v, want %v", got, failed)
	}
	if got := strings.Join(r.tr.commands(), ","); got != sent {
		t.Errorf("sent %s, want %s", got, sent)
	}
}
