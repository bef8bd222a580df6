package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// TestBatchRequest: the request carries the protocol version and the
// commands in order, each in its ordinary envelope, and reads back.
func TestBatchRequest(t *testing.T) {
	cmds := []Command{LeaseDeleteCommand(Kea3, testLease(1, 1)), LeaseUpdateCommand(Kea3, testLease(2, 2))}
	body, err := json.Marshal(BatchRequest(cmds))
	if err != nil {
		t.Fatal(err)
	}
	req, err := ctrl.ParseRequest(body)
	if err != nil || req.Command != BatchCommand {
		t.Fatalf("request %+v, %v", req, err)
	}
	items, err := ParseBatch(req.Arguments)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(cmds) {
		t.Fatalf("%d items, want %d", len(items), len(cmds))
	}
	for i, c := range cmds {
		if items[i].Command != c.Command || items[i].Err != "" {
			t.Errorf("item %d: %+v, want %s", i, items[i], c.Command)
		}
		want, _ := json.Marshal(argsOf(c))
		jsonEqual(t, items[i].Arguments, string(want))
	}
}

func TestParseBatch(t *testing.T) {
	tests := []struct {
		name, args string
		want       []BatchItem
		err        string
	}{
		{name: "two commands", args: `{"version":1,"commands":[{"command":"lease4-del","arguments":{"ip-address":"192.0.2.1"}},{"command":"lease4-update"}]}`,
			want: []BatchItem{{Command: "lease4-del", Arguments: json.RawMessage(`{"ip-address":"192.0.2.1"}`)}, {Command: "lease4-update"}}},
		{name: "empty list", args: `{"version":1,"commands":[]}`, want: []BatchItem{}},
		{name: "items that are not commands", args: `{"version":1,"commands":[7,{"arguments":{}},{"command":3}]}`,
			want: []BatchItem{{Err: "item 0 of the batch is not a command"}, {Err: "item 1 of the batch has no 'command'"}, {Err: "item 2 of the batch is not a command"}}},
		{name: "no arguments", err: "no arguments"},
		{name: "not a map", args: `[1]`, err: "not a map"},
		{name: "no version", args: `{"commands":[]}`, err: "version must be 1"},
		{name: "a later version", args: `{"version":2,"commands":[]}`, err: "version must be 1"},
		{name: "no commands", args: `{"version":1}`, err: "'commands' is mandatory"},
		{name: "commands not a list", args: `{"version":1,"commands":{}}`, err: "not a map with a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBatch(json.RawMessage(tt.args))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseBatch: %+v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("ParseBatch: %+v, %v; want %+v", got, err, tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Command != w.Command || string(g.Arguments) != string(w.Arguments) || !strings.HasPrefix(g.Err, w.Err) || (w.Err == "") != (g.Err == "") {
					t.Errorf("item %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestParseBatchAnswer(t *testing.T) {
	tests := []struct {
		name, body string
		n          int
		want       []Answer
		err        string
	}{
		{name: "two results", n: 2, body: `[{"result":0,"text":"2 lease update(s) processed.","arguments":{"results":[{"result":0,"text":"IPv4 lease updated."},{"result":4,"text":"busy"}]}}]`,
			want: []Answer{{Result: 0, Text: "IPv4 lease updated."}, {Result: 4, Text: "busy"}}},
		{name: "Kea or an old twinleaf does not know it", n: 1, body: `[{"result":2,"text":"'twinleaf-lease4-batch' command not supported."}]`, err: "error code 2"},
		{name: "refused as a whole", n: 1, body: `[{"result":1,"text":"'twinleaf-lease4-batch' version must be 1"}]`, err: "version must be 1"},
		{name: "too few results", n: 2, body: `[{"result":0,"arguments":{"results":[{"result":0}]}}]`, err: "1 results for 2 commands"},
		{name: "no results", n: 1, body: `[{"result":0}]`, err: "twinleaf-lease4-batch results"},
		{name: "a result without a code", n: 1, body: `[{"result":0,"arguments":{"results":[{"text":"?"}]}}]`, err: "no result code"},
		{name: "results of the wrong shape", n: 1, body: `[{"result":0,"arguments":{"results":"all fine"}}]`, err: "bad answer"},
		{name: "garbage", n: 1, body: `<html>`, err: "bad answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBatchAnswer([]byte(tt.body), tt.n)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseBatchAnswer: %+v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseBatchAnswer: %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestRegisterBatch: the command answers one result per item, in order;
// unreadable items answer their error and never reach the applier; the
// batches are counted in status-get next to the offer.
func TestRegisterBatch(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server2"), func(c *Config) { c.AcceptBatches = true })
	reg := ctrl.NewRegistry()
	var applied []BatchItem
	apply := func(_ context.Context, items []BatchItem) []ctrl.Answer {
		applied = append(applied, items...)
		out := make([]ctrl.Answer, len(items))
		for i, it := range items {
			out[i] = ctrl.Success("applied "+it.Command, nil)
		}
		return out
	}
	if err := RegisterBatch(reg, r.m, apply); err != nil {
		t.Fatal(err)
	}
	a := reg.Serve(context.Background(), []byte(`{"command":"twinleaf-lease4-batch","arguments":{"version":1,"commands":[{"command":"lease4-del","arguments":{}},"junk",{"command":"lease4-update","arguments":{}}]}}`))
	body, _ := json.Marshal([]ctrl.Answer{a})
	got, err := ParseBatchAnswer(body, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []Answer{{Result: 0, Text: "applied lease4-del"}, {Result: 1, Text: "item 1 of the batch is not a command"}, {Result: 0, Text: "applied lease4-update"}}
	if !reflect.DeepEqual(got[0], want[0]) || !reflect.DeepEqual(got[2], want[2]) || got[1].Result != 1 || !strings.HasPrefix(got[1].Text, want[1].Text) {
		t.Errorf("answers %+v, want %+v", got, want)
	}
	if len(applied) != 2 || applied[0].Command != "lease4-del" || applied[1].Command != "lease4-update" {
		t.Errorf("applied %+v, want the two commands in order", applied)
	}
	if a := reg.Serve(context.Background(), []byte(`{"command":"twinleaf-lease4-batch","arguments":{"version":9,"commands":[]}}`)); a.Result != 1 {
		t.Errorf("a batch of another version answered %+v", a)
	}
	local := r.m.Status()["ha-servers"].(map[string]any)["local"].(map[string]any)
	tl, _ := local["twinleaf"].(map[string]any)
	if tl["lease4-batch"] != BatchProtocol || tl["lease4-batches-received"] != uint64(1) || tl["lease4-batch-updates-received"] != uint64(3) {
		t.Errorf("status-get's local twinleaf entry %v", tl)
	}
}

// batchPeer answers twinleaf-lease4-batch with results per command from
// result (given the command and its position among all commands sent).
func batchPeer(result func(n int, cmd string) string) func(map[string]any) ([]byte, error) {
	var mu sync.Mutex
	n := 0
	return func(args map[string]any) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		cmds, _ := args["commands"].([]any)
		var rs []string
		for _, c := range cmds {
			name, _ := c.(map[string]any)["command"].(string)
			rs = append(rs, result(n, name))
			n++
		}
		return []byte(fmt.Sprintf(`[{"result":0,"text":"","arguments":{"results":[%s]}}]`, strings.Join(rs, ","))), nil
	}
}

// agreed makes the rig's partner a twinleaf that offers batches.
func agreed(c *Config) {
	c.Identify = func(context.Context) (Partner, error) { return Partner{Version: Kea3, Batch: BatchProtocol}, nil }
}

// TestBatcherOutcomes: each answer inside a batch gets SendUpdate's rule,
// conflict retries included; a batch that fails fails its transaction.
func TestBatcherOutcomes(t *testing.T) {
	hw := net.HardwareAddr{0, 0, 0, 0, 0, 1}
	update, del := LeaseUpdateCommand(Kea3, testLease(1, 1)), LeaseDeleteCommand(Kea3, testLease(1, 1))
	item := func(body string) string {
		a, _ := ParseAnswer([]byte(body))
		b, _ := json.Marshal(ctrl.Answer{Result: a.Result, Text: a.Text})
		return string(b)
	}
	tests := []struct {
		name     string
		cmds     []Command
		batch    func(map[string]any) ([]byte, error)
		update   func(map[string]any) ([]byte, error)
		del      func(map[string]any) ([]byte, error)
		sent     string
		failed   bool
		conflict bool
	}{
		{name: "applied", cmds: []Command{del, update}, batch: batchPeer(func(int, string) string { return item(rc0) }), sent: BatchCommand},
		{name: "empty answer", cmds: []Command{del}, batch: batchPeer(func(int, string) string { return item(rc3) }), sent: BatchCommand},
		{name: "conflict retried alone", cmds: []Command{update}, batch: batchPeer(func(int, string) string { return item(rc4) }),
			update: answers(rc0), del: answers(rc0), sent: BatchCommand + ",lease4-del,lease4-update", conflict: true},
		{name: "an item refused", cmds: []Command{del, update}, batch: batchPeer(func(n int, _ string) string {
			return item(map[bool]string{true: rc1, false: rc0}[n == 1])
		}), sent: BatchCommand, failed: true},
		{name: "the batch refused", cmds: []Command{update}, batch: answers(`[{"result":2,"text":"'twinleaf-lease4-batch' command not supported."}]`),
			sent: BatchCommand, failed: true},
		{name: "no answer", cmds: []Command{update}, sent: BatchCommand, failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, haConfig("hot-standby", "server1"), agreed)
			r.m.identify(context.Background(), HotStandby)
			r.force(HotStandby, HotStandby)
			for name, f := range map[string]func(map[string]any) ([]byte, error){BatchCommand: tt.batch, "lease4-update": tt.update, "lease4-del": tt.del} {
				if f != nil {
					r.tr.answer[name] = f
				}
			}
			b := NewBatcher(r.m, r.tr, "server2", 4)
			err := b.SendUpdates(context.Background(), tt.cmds, hw, nil)
			r.checkSent(t, err, tt.failed, tt.sent)
			remote := r.m.Status()["ha-servers"].(map[string]any)["remote"].(map[string]any)
			if got := remote["lease-update-conflicts"] == uint64(1); got != tt.conflict {
				t.Errorf("status-get shows conflicts %v, want one: %v", remote["lease-update-conflicts"], tt.conflict)
			}
			if got := strings.Contains(r.log.String(), "HA_LEASE_UPDATE_CONFLICT"); got != tt.conflict {
				t.Errorf("conflict logged %v, want %v:\n%s", got, tt.conflict, r.log)
			}
		})
	}
}

// gatedTransport holds every request until the test opens the gate, and
// records how many commands each batch carried.
type gatedTransport struct {
	fakeTransport
	gate  chan struct{}
	sizes []int
}

func (g *gatedTransport) Call(ctx context.Context, peer string, body []byte) ([]byte, error) {
	var req struct {
		Arguments struct {
			Commands []json.RawMessage `json:"commands"`
		} `json:"arguments"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.sizes = append(g.sizes, len(req.Arguments.Commands))
	g.mu.Unlock()
	<-g.gate
	return g.fakeTransport.Call(ctx, peer, body)
}

// TestBatcherGroups: with its one connection busy, the transactions that
// arrive meanwhile go together in the next request, whole and in order,
// and each gets its own outcome: the one whose update the partner
// refuses fails, the others' replies go out.
func TestBatcherGroups(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server1"), agreed)
	r.m.identify(context.Background(), HotStandby)
	r.force(HotStandby, HotStandby)
	g := &gatedTransport{fakeTransport: fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){}}, gate: make(chan struct{})}
	g.answer[BatchCommand] = func(args map[string]any) ([]byte, error) {
		var rs []string
		for _, c := range args["commands"].([]any) {
			ip, _ := c.(map[string]any)["arguments"].(map[string]any)["ip-address"].(string)
			if ip == "192.0.2.7" {
				rs = append(rs, `{"result":1,"text":"refused"}`)
			} else {
				rs = append(rs, `{"result":0,"text":"ok"}`)
			}
		}
		return []byte(`[{"result":0,"arguments":{"results":[` + strings.Join(rs, ",") + `]}}]`), nil
	}
	b := NewBatcher(r.m, g, "server2", 1)
	ctx := context.Background()
	errs := make([]error, 11)
	var wg sync.WaitGroup
	send := func(i int) {
		defer wg.Done()
		l := testLease(byte(i), 1)
		cmds := []Command{LeaseUpdateCommand(Kea3, l)}
		if i%2 == 0 {
			cmds = append([]Command{LeaseDeleteCommand(Kea3, testLease(byte(100+i), 1))}, cmds...)
		}
		errs[i] = b.SendUpdates(ctx, cmds, l.HWAddr, nil)
	}
	wg.Add(1)
	go send(0)
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.sizes) == 1 })
	for i := 1; i < len(errs); i++ {
		wg.Add(1)
		go send(i)
	}
	waitFor(t, func() bool { b.q.mu.Lock(); defer b.q.mu.Unlock(); return len(b.q.queue) == len(errs)-1 })
	close(g.gate)
	wg.Wait()
	if want := []int{2, 15}; !reflect.DeepEqual(g.sizes, want) {
		t.Errorf("batches of %v commands, want %v", g.sizes, want)
	}
	for i, err := range errs {
		if (err != nil) != (i == 7) {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	remote := r.m.Status()["ha-servers"].(map[string]any)["remote"].(map[string]any)
	tl, _ := remote["twinleaf"].(map[string]any)
	if tl["lease4-batches-sent"] != uint64(2) || tl["lease4-batch-updates-sent"] != uint64(17) {
		t.Errorf("status-get's remote twinleaf entry %v", tl)
	}
}

// waitFor waits, under a generous deadline, until ok holds.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBatcherNeverToKea: a partner identified from Kea's answers (2.2
// behind its agent or on a restricted listener, 3.x) gets each update
// alone as Kea's command; only a twinleaf that offered batches gets
// twinleaf-lease4-batch.
func TestBatcherNeverToKea(t *testing.T) {
	tests := []struct {
		name, version, status string
		batch                 bool
	}{
		{name: "Kea 2.2 behind its control agent", version: `[{"result":0,"text":"2.2.0","arguments":{"extended":"2.2.0\ntarball"}}]`},
		{name: "Kea 2.2 on a restricted listener", version: forbidden, status: kea22Status},
		{name: "Kea 3.0", version: `[{"result":0,"text":"3.0.1","arguments":{"extended":"3.0.1\ntarball"}}]`},
		{name: "Kea 3.x on a restricted listener", version: forbidden, status: kea3Status},
		{name: "twinleaf without the offer", version: `[{"result":0,"text":"cac7686","arguments":{"extended":"cac7686"}}]`},
		{name: "twinleaf", version: `[{"result":0,"text":"cac7686","arguments":{"extended":"cac7686","twinleaf":{"lease4-batch":1}}}]`, batch: true},
		{name: "twinleaf on a restricted listener", version: forbidden, status: twinleafStatus, batch: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, haConfig("hot-standby", "server1"), func(c *Config) {
				c.Identify = func(ctx context.Context) (Partner, error) { return Identify(ctx, c.Transport, "server2") }
			})
			r.tr.answer["version-get"] = answers(tt.version)
			if tt.status != "" {
				r.tr.answer["status-get"] = answers(tt.status)
			}
			r.tr.answer["lease4-update"] = answers(rc0)
			r.tr.answer["lease4-del"] = answers(rc0)
			r.tr.answer[BatchCommand] = batchPeer(func(int, string) string { return `{"result":0}` })
			r.m.identify(context.Background(), HotStandby)
			r.force(HotStandby, HotStandby)
			if r.m.BatchAgreed() != tt.batch {
				t.Fatalf("BatchAgreed %v, want %v", r.m.BatchAgreed(), tt.batch)
			}
			b := NewBatcher(r.m, r.tr, "server2", 4)
			l := testLease(1, 1)
			if err := b.SendUpdates(context.Background(), []Command{LeaseDeleteCommand(Kea3, testLease(2, 1)), LeaseUpdateCommand(Kea3, l)}, l.HWAddr, nil); err != nil {
				t.Fatal(err)
			}
			var updates []string
			for _, c := range r.tr.commands() {
				if c != "version-get" && c != "status-get" {
					updates = append(updates, c)
				}
			}
			want := "lease4-del,lease4-update"
			if tt.batch {
				want = BatchCommand
			}
			if got := strings.Join(updates, ","); got != want {
				t.Errorf("sent %s, want %s", got, want)
			}
		})
	}
}

// TestBatcherContext: a transaction whose context ends stops waiting and
// holds its reply back.
func TestBatcherContext(t *testing.T) {
	r := newRig(t, haConfig("hot-standby", "server1"), agreed)
	r.m.identify(context.Background(), HotStandby)
	g := &gatedTransport{fakeTransport: fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){}}, gate: make(chan struct{})}
	defer close(g.gate)
	b := NewBatcher(r.m, g, "server2", 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.SendUpdates(ctx, []Command{LeaseUpdateCommand(Kea3, testLease(1, 1))}, nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// BenchmarkParseBatch reads a batch of 16 lease updates as the standby
// does, envelope and all.
func BenchmarkParseBatch(b *testing.B) {
	var cmds []Command
	for i := range 16 {
		cmds = append(cmds, LeaseUpdateCommand(Kea3, testLease(byte(i+1), 1780000000)))
	}
	body, err := BatchRequest(cmds).AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req, err := ctrl.ParseRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		if items, err := ParseBatch(req.Arguments); err != nil || len(items) != 16 {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseBatchAnswer reads the standby's answer to a batch of 16,
// as the primary does.
func BenchmarkParseBatchAnswer(b *testing.B) {
	results := make([]ctrl.Answer, 16)
	for i := range results {
		results[i] = ctrl.Success("IPv4 lease updated.", nil)
	}
	body, err := json.Marshal([]ctrl.Answer{BatchAnswer(results)})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseBatchAnswer(body, 16); err != nil {
			b.Fatal(err)
		}
	}
}

// The size hint covers a batch's body, so encoding it allocates once.
func TestBatchSizeHint(t *testing.T) {
	var cmds []Command
	for i := range 100 {
		l := testLease(byte(i+1), 1780000000)
		l.ClientID, l.Hostname = []byte{1, 2, 0, 0, 0, 0, byte(i)}, "host-with-a-rather-long-name.example.org."
		cmds = append(cmds, LeaseUpdateCommand(Kea3, l))
	}
	c := BatchRequest(cmds)
	body, err := c.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > c.sizeHint() {
		t.Errorf("a batch of %d updates encodes to %d bytes, past its hint of %d", len(cmds), len(body), c.sizeHint())
	}
}

// TestBatcherGathers: transactions that become ready together, as the
// replies of one lease-file flush do, share one request even when a
// connection is free for each: the runner the first one starts waits for
// the others to queue. One P makes the order of the goroutines fixed.
func TestBatcherGathers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := newRig(t, haConfig("hot-standby", "server1"), agreed)
	r.m.identify(context.Background(), HotStandby)
	r.force(HotStandby, HotStandby)
	g := &gatedTransport{fakeTransport: fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){BatchCommand: batchAnswers(-1)}}, gate: make(chan struct{})}
	close(g.gate)
	b := NewBatcher(r.m, g, "server2", 4)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := testLease(byte(i+1), 1)
			errs[i] = b.SendUpdates(context.Background(), []Command{LeaseUpdateCommand(Kea3, l)}, l.HWAddr, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if want := []int{n}; !reflect.DeepEqual(g.sizes, want) {
		t.Errorf("batches of %v commands, want %v", g.sizes, want)
	}
}
