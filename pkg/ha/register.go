package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// PeerCommands are the HA commands a dedicated listener with
// restrict-commands accepts: Kea's list (the same in 2.2 and 3.x) and
// twinleaf's batch of lease updates, which only a twinleaf partner sends.
var PeerCommands = []string{"list-commands", "status-get", "dhcp-disable", "dhcp-enable", "ha-reset",
	"ha-heartbeat", "lease4-update", "lease4-del", "lease4-get-all", "lease4-get-page",
	"ha-maintenance-notify", "ha-sync-complete-notify", BatchCommand}

// Register adds the HA hook's commands to reg: the peer-to-peer ones
// (ha-heartbeat, ha-reset, ha-maintenance-notify, ha-sync-complete-notify)
// and the admin ones (ha-continue, ha-maintenance-start,
// ha-maintenance-cancel, ha-scopes, ha-sync). sync runs ha-sync; nil
// leaves that command out. status-get's HA entry is Machine.Status.
func Register(reg *ctrl.Registry, m *Machine, sync Syncer) error {
	named := func(h func(context.Context, json.RawMessage) ctrl.Answer) ctrl.Handler {
		return func(ctx context.Context, args json.RawMessage) ctrl.Answer {
			if err := m.CheckServerName(args); err != nil {
				return ctrl.Error("%v", err)
			}
			return h(ctx, args)
		}
	}
	cmds := map[string]ctrl.Handler{
		"ha-heartbeat": named(func(context.Context, json.RawMessage) ctrl.Answer { return m.HeartbeatAnswer() }),
		"ha-reset":     named(func(ctx context.Context, _ json.RawMessage) ctrl.Answer { return m.Reset(ctx) }),
		"ha-maintenance-notify": named(func(ctx context.Context, args json.RawMessage) ctrl.Answer {
			n, err := ParseMaintenanceNotify(args)
			if err != nil {
				return ctrl.Error("%v", err)
			}
			return m.HandleMaintenanceNotify(ctx, n)
		}),
		"ha-sync-complete-notify": named(func(context.Context, json.RawMessage) ctrl.Answer { return m.SyncComplete() }),
		"ha-continue":             named(func(context.Context, json.RawMessage) ctrl.Answer { return m.Continue() }),
		"ha-maintenance-start":    named(func(ctx context.Context, _ json.RawMessage) ctrl.Answer { return m.MaintenanceStart(ctx) }),
		"ha-maintenance-cancel":   named(func(ctx context.Context, _ json.RawMessage) ctrl.Answer { return m.MaintenanceCancel(ctx) }),
		"ha-scopes": named(func(_ context.Context, args json.RawMessage) ctrl.Answer {
			scopes, err := ParseScopes(args)
			if err != nil {
				return ctrl.Error("%v", err)
			}
			if err := m.SetScopes(scopes); err != nil {
				return ctrl.Error("%v", err)
			}
			return ctrl.Success("New HA scopes configured.", nil)
		}),
	}
	if sync != nil {
		cmds["ha-sync"] = named(func(ctx context.Context, _ json.RawMessage) ctrl.Answer {
			start := time.Now()
			if err := sync.Sync(ctx); err != nil {
				return ctrl.Error("%v", err)
			}
			return ctrl.Success(fmt.Sprintf("Lease database synchronization complete in %s.", time.Since(start).Round(time.Millisecond)), nil)
		})
	}
	for name, h := range cmds {
		if err := reg.Register(name, h); err != nil {
			return err
		}
	}
	return nil
}

// ParseScopes reads ha-scopes' arguments: a mandatory list of scope names.
func ParseScopes(args json.RawMessage) ([]string, error) {
	var a struct {
		Scopes json.RawMessage `json:"scopes"`
	}
	if len(bytes.TrimSpace(args)) == 0 {
		return nil, fmt.Errorf("'scopes' is mandatory for the 'ha-scopes' command")
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("arguments in the 'ha-scopes' command are not a map: %v", err)
	}
	if len(a.Scopes) == 0 || string(a.Scopes) == "null" {
		return nil, fmt.Errorf("'scopes' is mandatory for the 'ha-scopes' command")
	}
	var scopes []string
	if err := json.Unmarshal(a.Scopes, &scopes); err != nil {
		return nil, fmt.Errorf("'scopes' must be a list of strings in the 'ha-scopes' command")
	}
	if scopes == nil {
		scopes = []string{}
	}
	return scopes, nil
}

// Loop runs the heartbeat loop until ctx ends: a pass at start, then a
// heartbeat every HeartbeatDelay after the previous exchange finished.
// Servers without heartbeats (backups, passive-backup, terminated) idle.
func (m *Machine) Loop(ctx context.Context) {
	m.Run(ctx)
	delay := m.HeartbeatDelay()
	if delay == 0 {
		delay = time.Second
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.Heartbeat(ctx)
		t.Reset(delay)
	}
}
