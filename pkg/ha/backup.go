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
// back as another release. A backup's failures never touch the partner's
// state.
type BackupPeer struct {
	Name      string
	Transport Transport
	Log       hclog.Logger

	mu    sync.Mutex
	ver   Version
	known bool
}

// Send sends the updates for changes; rc 0 and 3 count as done, as for
// the partner (SendUpdate).
func (b *BackupPeer) Send(ctx context.Context, changes []lease.Change) error {
	v, err := b.version(ctx)
	if err != nil {
		return fmt.Errorf("ha: lease updates to backup %s: cannot tell which Kea release it runs: %w", b.Name, err)
	}
	for _, c := range UpdateCommands(v, changes) {
		a, err := send(ctx, b.Transport, b.Name, c)
		if err == nil && a.Result != 3 {
			err = a.Err()
		}
		if err != nil {
			b.forget()
			return fmt.Errorf("ha: %s to backup %s: %w", c.Command, b.Name, err)
		}
	}
	return nil
}

// version is b's wire form, identifying b first if needed.
func (b *BackupPeer) version(ctx context.Context) (Version, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known {
		return b.ver, nil
	}
	p, err := Identify(ctx, b.Transport, b.Name)
	if err != nil {
		return 0, err
	}
	b.ver, b.known = p.Version, true
	if b.Log != nil {
		b.Log.Info(fmt.Sprintf("HA_BACKUP_VERSION backup %s runs %s: lease updates use %s form", b.Name, p.Text, p.Version.Form()))
	}
	return b.ver, nil
}

// forget makes b's release unknown, after a failed update.
func (b *BackupPeer) forget() {
	b.mu.Lock()
	b.known = false
	b.mu.Unlock()
}
