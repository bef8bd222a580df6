package ha

import (
	"context"
	"fmt"
)

// Transport carries one command to a peer and returns the raw answer
// body. HTTPTransport implements it over HTTP with keep-alive, basic auth
// and mutual TLS; timeouts come from ctx (10 s per command, sync-timeout per
// lease page). An error means no answer arrived: the partner is then
// unavailable.
type Transport interface {
	Call(ctx context.Context, peer string, body []byte) ([]byte, error)
}

// call marshals c, sends it to peer and returns the body.
func call(ctx context.Context, t Transport, peer string, c Command) ([]byte, error) {
	body, err := c.AppendJSON(make([]byte, 0, c.sizeHint()))
	if err != nil {
		return nil, fmt.Errorf("ha: encoding %s: %w", c.Command, err)
	}
	ans, err := t.Call(ctx, peer, body)
	if err != nil {
		return nil, fmt.Errorf("ha: %s to %s: %w", c.Command, peer, err)
	}
	return ans, nil
}

// sizeHint guesses c's encoded size, so that a batch's body is
// allocated once rather than grown through every size on the way: a lease
// update encodes to about 330 bytes.
func (c Command) sizeHint() int {
	n := 512
	if cmds, ok := c.Arguments["commands"].([]Command); ok {
		n += 384 * len(cmds)
	}
	return n
}

// Syncer fetches the partner's leases into the local store (Kea's sync,
// section "syncing"): dhcp-disable, lease4-get-page until a short page,
// then ha-sync-complete-notify or dhcp-enable. LeaseSync implements it.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Backlog is the load-balancing communication-recovery queue of lease
// updates. LeaseBacklog implements it.
type Backlog interface {
	// Overflowed reports that updates were lost, so only a full resync
	// (ha-reset) restores the partner.
	Overflowed() bool
	// Replay sends the queued updates in order, one at a time.
	Replay(ctx context.Context) error
	// Clear empties the queue; the machine calls it on leaving
	// communication-recovery.
	Clear()
}
