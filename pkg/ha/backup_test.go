package ha

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// batchAnswers answers a twinleaf-lease4-batch with one result per
// command: rc, and rc 1 for the command at index bad (if any).
func batchAnswers(bad int) func(map[string]any) ([]byte, error) {
	return func(args map[string]any) ([]byte, error) {
		cmds, _ := args["commands"].([]any)
		results := make([]map[string]any, len(cmds))
		for i := range cmds {
			results[i] = map[string]any{"result": 0, "text": "IPv4 lease updated."}
			if i == bad {
				results[i] = map[string]any{"result": 1, "text": "no subnet"}
			}
		}
		b, err := json.Marshal([]any{map[string]any{"result": 0, "text": "ok", "arguments": map[string]any{"results": results}}})
		return b, err
	}
}

// A twinleaf backup that offers batches gets the updates of concurrent
// transactions together, and a failed item fails its transaction; a Kea
// backup gets one command per update.
func TestBackupBatches(t *testing.T) {
	const twinleafVersion = `[{"result":0,"text":"cac7686","arguments":{"extended":"cac7686","twinleaf":{"lease4-batch":1,"lb-conflicts":1}}}]`
	for _, tt := range []struct {
		name, version string
		batched       bool
	}{
		{"twinleaf backup", twinleafVersion, true},
		{"Kea 3.x backup", `[{"result":0,"text":"3.0.1"}]`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The first request is answered only once every other
			// transaction waits behind it, as under load.
			release := make(chan struct{})
			var first sync.Once
			var held atomic.Int64 // the updates in the first request
			hold := func(next func(map[string]any) ([]byte, error)) func(map[string]any) ([]byte, error) {
				return func(args map[string]any) ([]byte, error) {
					first.Do(func() {
						cmds, _ := args["commands"].([]any)
						held.Store(int64(len(cmds)))
						<-release
					})
					return next(args)
				}
			}
			tr := &fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){
				"version-get": answers(tt.version), BatchCommand: hold(batchAnswers(-1)), "lease4-update": hold(func(map[string]any) ([]byte, error) { return []byte(rc0), nil })}}
			b := &BackupPeer{Name: "server3", Transport: tr, Conns: 1}
			const n = 40
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- b.Send(context.Background(), []lease.Change{{New: testLease(byte(i+1), 100)}})
				}()
			}
			if tt.batched {
				waitFor(t, func() bool {
					b.mu.Lock()
					q := b.batches
					b.mu.Unlock()
					if q == nil {
						return false
					}
					q.mu.Lock()
					defer q.mu.Unlock()
					return int64(len(q.queue))+held.Load() == n
				})
			}
			close(release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			var batches, singles, items int
			for _, req := range tr.sent {
				switch req["command"] {
				case BatchCommand:
					batches++
					cmds, _ := req["arguments"].(map[string]any)["commands"].([]any)
					items += len(cmds)
				case "lease4-update":
					singles++
				}
			}
			if tt.batched && (singles != 0 || items != n || batches > 2) {
				t.Errorf("%d batches carrying %d updates and %d single updates; want the %d updates in at most 2 batches", batches, items, singles, n)
			}
			if !tt.batched && (batches != 0 || singles != n) {
				t.Errorf("%d batches and %d single updates; want %d single updates", batches, singles, n)
			}
		})
	}

	// An item the backup refuses fails its transaction and makes the
	// backup identified again before the next.
	tr := &fakeTransport{answer: map[string]func(map[string]any) ([]byte, error){
		"version-get": answers(twinleafVersion), BatchCommand: batchAnswers(0)}}
	b := &BackupPeer{Name: "server3", Transport: tr}
	err := b.Send(context.Background(), []lease.Change{{New: testLease(1, 100)}})
	if err == nil || !strings.Contains(err.Error(), "lease4-update to backup server3") || !strings.Contains(err.Error(), "no subnet") {
		t.Fatalf("refused item: %v", err)
	}
	tr.answer[BatchCommand] = batchAnswers(-1)
	if err := b.Send(context.Background(), []lease.Change{{New: testLease(2, 100)}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.commands(), ","); got != "version-get,"+BatchCommand+",version-get,"+BatchCommand {
		t.Errorf("sent %s", got)
	}
}
