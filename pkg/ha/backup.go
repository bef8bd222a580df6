package ha

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// BackupPeer sends lease updates to one backup server, in the wire form its
// release takes, as the partner's updates are (a Kea 2.x backup refuses
// 3.x's released-lease update). Its release is learnt with Identify
// before the first update, and again after one failed: the board may come
// back as another release. A twinleaf backup that offers batches gets
// concurrent transactions' updates together in twinleaf-lease4-batch
// requests, as the partner does (Batcher); Kea gets one command at a
// time. A backup's failures never touch the partner's state.
type BackupPeer struct {
	Name      string
	Transport Transport
	Log       hclog.Logger
	// Conns is how many batches may be in flight to the backup
	// (BatchConns); at least one.
	Conns int

	mu      sync.Mutex
	ver     Version
	known   bool
	batches *batchQueue // set while the backup, as identified, takes batches
}

// Send sends the updates for changes; rc 0 and 3 count as done, as for
// the partner (SendUpdate).
func (b *BackupPeer) Send(ctx context.Context, changes []lease.Change) error {
	v, q, err := b.version(ctx)
	if err != nil {
		return fmt.Errorf("ha: lease updates to backup %s: cannot tell which Kea release it runs: %w", b.Name, err)
	}
	cmds := UpdateCommands(v, changes)
	if q != nil {
		return b.sendBatched(ctx, q, cmds)
	}
	for _, c := range cmds {
		a, err := send(ctx, b.Transport, b.Name, c)
		if err == nil && !a.Done() {
			err = a.Err()
		}
		if err != nil {
			b.forget()
			return fmt.Errorf("ha: %s to backup %s: %w", c.Command, b.Name, err)
		}
	}
	return nil
}

// sendBatched sends one transaction's commands through the backup's
// batch queue; each must succeed (rc 0 or 3).
func (b *BackupPeer) sendBatched(ctx context.Context, q *batchQueue, cmds []Command) error {
	answers, err := q.submit(ctx, cmds)
	if err != nil {
		b.forget()
		return fmt.Errorf("ha: lease updates to backup %s: %w", b.Name, err)
	}
	for i, a := range answers {
		if !a.Done() {
			b.forget()
			return fmt.Errorf("ha: %s to backup %s: %w", cmds[i].Command, b.Name, a.Err())
		}
	}
	return nil
}

// version is b's wire form and, for a backup that takes batches, its
// batch queue, identifying b first if needed.
func (b *BackupPeer) version(ctx context.Context) (Version, *batchQueue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known {
		return b.ver, b.batches, nil
	}
	p, err := Identify(ctx, b.Transport, b.Name)
	if err != nil {
		return 0, nil, err
	}
	b.ver, b.known, b.batches = p.Version, true, nil
	how := "one command per update"
	if p.Batch >= BatchProtocol {
		b.batches = newBatchQueue(b.Transport, b.Name, b.Conns, nil)
		how = fmt.Sprintf("in %s requests", BatchCommand)
	}
	if b.Log != nil {
		b.Log.Info(fmt.Sprintf("HA_BACKUP_VERSION backup %s runs %s: lease updates use %s form, %s", b.Name, p.Text, p.Version.Form(), how))
	}
	return b.ver, b.batches, nil
}

// forget makes b's release unknown, after a failed update.
func (b *BackupPeer) forget() {
	b.mu.Lock()
	b.known = false
	b.mu.Unlock()
}
