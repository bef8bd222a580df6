package ha

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"

	"github.com/twinleaf/twinleaf/pkg/config"
)

// Batcher sends the lease updates of concurrent transactions to a
// twinleaf partner that agreed to batches (Machine.BatchAgreed). It keeps
// up to conns requests in flight (BatchConns) over the transport's
// kept-alive connections; a request takes every transaction queued when
// it starts, up to MaxBatch updates. Under light load a request carries one
// transaction, so nothing waits longer than it would alone; under load
// the queue grows while the requests are in flight and the next ones
// carry it together.
type Batcher struct {
	m *Machine
	q *batchQueue
}

// batchQueue groups the updates of concurrent transactions to one peer
// into twinleaf-lease4-batch requests, up to conns in flight: the partner's
// (Batcher) and each twinleaf backup's (BackupPeer).
type batchQueue struct {
	t     Transport
	peer  string
	conns int
	// sent counts a batch the peer answered, with its updates.
	sent func(updates int)

	mu      sync.Mutex
	queue   []*batchTx
	running int
	// starting counts runners that have not taken their first request
	// yet: a transaction queued meanwhile joins it (see run).
	starting int
}

func newBatchQueue(t Transport, peer string, conns int, sent func(int)) *batchQueue {
	return &batchQueue{t: t, peer: peer, conns: max(conns, 1), sent: sent}
}

// BatchConns is how many batches a Batcher keeps in flight:
// http-client-threads, or the number of CPUs when it is 0 (Kea's meaning
// of 0). The transport keeps more connections than that by default
// (ClientConns), but a batch only forms while requests are in flight, so
// with 64 of them the updates would go one by one until the box is
// saturated, and cost as much CPU as unbatched ones.
func BatchConns(h config.HA) int {
	if n := h.MultiThreading.ClientThreads; n > 0 {
		return int(n)
	}
	return runtime.NumCPU()
}

// batchTx is one transaction's updates, waiting for their answers.
type batchTx struct {
	cmds    []Command
	answers []Answer
	err     error
	done    chan struct{}
}

// NewBatcher sends m's updates to peer over t with up to conns requests
// in flight (at least one).
func NewBatcher(m *Machine, t Transport, peer string, conns int) *Batcher {
	return &Batcher{m: m, q: newBatchQueue(t, peer, conns, func(n int) {
		m.batchesSent.Add(1)
		m.batchItemsSent.Add(uint64(n))
	})}
}

// SendUpdates sends one transaction's updates, kept in order in one
// request, and applies SendUpdate's rules to each answer in turn: rc 0
// and 3 succeed, a conflict is retried once, counted and logged and lets
// the reply go, anything else or no answer marks the partner unavailable
// and is returned (the reply is held back). hw and clientID name the
// client for the log.
//
// A partner that did not agree to batches (Kea, or a twinleaf not
// identified as offering them) gets each command alone, through
// SendUpdate, exactly as before.
//
// ctx bounds the requests this call starts, which may carry other
// transactions' updates too: every caller passes the daemon's lifetime.
func (b *Batcher) SendUpdates(ctx context.Context, cmds []Command, hw net.HardwareAddr, clientID []byte) error {
	if !b.m.BatchAgreed() {
		for _, c := range cmds {
			if err := SendUpdate(ctx, b.m, b.q.t, b.q.peer, c, hw, clientID); err != nil {
				return err
			}
		}
		return nil
	}
	answers, err := b.q.submit(ctx, cmds)
	if ctx.Err() != nil && err == ctx.Err() {
		return fmt.Errorf("ha: lease updates to %s: %w", b.q.peer, err)
	}
	for i, c := range cmds {
		var a Answer
		if err == nil {
			a = answers[i]
		}
		if err := b.m.updateOutcome(ctx, b.q.t, b.q.peer, c, a, err, hw, clientID); err != nil {
			return err
		}
	}
	return nil
}

// submit queues one transaction's updates and waits for their answers,
// one per command, or the error that came instead of the batch's answer;
// ctx ending first returns ctx.Err().
func (b *batchQueue) submit(ctx context.Context, cmds []Command) ([]Answer, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	tx := &batchTx{cmds: cmds, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, tx)
	b.spawn(ctx)
	b.mu.Unlock()
	select {
	case <-tx.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return tx.answers, tx.err
}

// spawn starts a runner for the queue, unless one is still gathering
// or conns are in flight; the caller holds mu.
func (b *batchQueue) spawn(ctx context.Context) {
	if b.starting == 0 && b.running < b.conns && len(b.queue) > 0 {
		b.running++
		b.starting++
		go b.run(ctx)
	}
}

// run sends requests while transactions are queued.
func (b *batchQueue) run(ctx context.Context) {
	b.gather()
	for first := true; ; first = false {
		txs := b.take(ctx, first)
		if txs == nil {
			return
		}
		b.send(ctx, txs)
	}
}

// gather lets the transactions that became ready together with the one
// that started this runner queue up behind it, so they share its request:
// it yields while the queue keeps growing, a few times at most.
func (b *batchQueue) gather() {
	n := -1
	for range 8 {
		b.mu.Lock()
		m := len(b.queue)
		b.mu.Unlock()
		if m == n {
			return
		}
		n = m
		runtime.Gosched()
	}
}

// take removes the transactions of the next request from the queue:
// whole transactions, up to MaxBatch updates, at least one. With the
// queue empty it ends this runner; with more queued than one request
// carries, it starts another runner if a connection is free.
func (b *batchQueue) take(ctx context.Context, first bool) []*batchTx {
	b.mu.Lock()
	defer b.mu.Unlock()
	if first {
		b.starting--
	}
	if len(b.queue) == 0 {
		b.running--
		return nil
	}
	n, items := 0, 0
	for n < len(b.queue) && (n == 0 || items+len(b.queue[n].cmds) <= MaxBatch) {
		items += len(b.queue[n].cmds)
		n++
	}
	txs := make([]*batchTx, n)
	copy(txs, b.queue)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	b.spawn(ctx)
	return txs
}

// send sends one batch and hands each transaction its answers, or the
// error that came instead.
func (b *batchQueue) send(ctx context.Context, txs []*batchTx) {
	var cmds []Command
	for _, tx := range txs {
		cmds = append(cmds, tx.cmds...)
	}
	answers, err := b.call(ctx, cmds)
	if err == nil && b.sent != nil {
		b.sent(len(cmds))
	}
	for _, tx := range txs {
		if err != nil {
			tx.err = err
		} else {
			tx.answers, answers = answers[:len(tx.cmds)], answers[len(tx.cmds):]
		}
		close(tx.done)
	}
}

// call sends cmds in one twinleaf-lease4-batch and reads one answer per
// command.
func (b *batchQueue) call(ctx context.Context, cmds []Command) ([]Answer, error) {
	raw, err := call(ctx, b.t, b.peer, BatchRequest(cmds))
	if err != nil {
		return nil, fmt.Errorf("%w (%d update(s))", err, len(cmds))
	}
	answers, err := ParseBatchAnswer(raw, len(cmds))
	if err != nil {
		return nil, fmt.Errorf("ha: %s of %d update(s) to %s: %w", BatchCommand, len(cmds), b.peer, err)
	}
	return answers, nil
}
