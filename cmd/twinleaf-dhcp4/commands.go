package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/dhcp4"
	"github.com/twinleaf/twinleaf/pkg/ha"
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/leasecmds"
	"github.com/twinleaf/twinleaf/pkg/server"
)

// registerCommands adds the core commands and, when libdhcp_lease_cmds.so
// is configured, the lease commands the tests and HA need.
func (d *service) registerCommands(eng *dhcp4.Engine) {
	reg := func(name string, h ctrl.Handler) {
		if err := d.reg.Register(name, h); err != nil {
			d.log.Error("COMMAND_REGISTRATION_FAILED", "error", err)
		}
	}
	reg("version-get", func(context.Context, json.RawMessage) ctrl.Answer {
		args := map[string]any{"extended": extendedVersion()}
		if d.ha != nil {
			// The HA partner learns here that we take batches.
			args["twinleaf"] = ha.Capabilities()
		}
		return ctrl.Success(version, args)
	})
	reg("build-report", func(context.Context, json.RawMessage) ctrl.Answer {
		return ctrl.Success(buildReport(), nil)
	})
	reg("config-get", func(context.Context, json.RawMessage) ctrl.Answer {
		return ctrl.Success("", d.current().Effective())
	})
	reg("status-get", func(context.Context, json.RawMessage) ctrl.Answer {
		_, missing := d.watcher.Status()
		sockets := map[string]any{"status": "ready"}
		if len(missing) > 0 {
			var errs []string
			for k, v := range missing {
				errs = append(errs, fmt.Sprintf("%s: %s", k, v))
			}
			sockets = map[string]any{"status": "retrying", "errors": errs}
		}
		mt := d.current().Dhcp4.MultiThreading
		st := map[string]any{
			"pid": os.Getpid(), "uptime": int(time.Since(d.start).Seconds()), "reload": int(time.Since(d.start).Seconds()),
			"multi-threading-enabled": mt.Enable, "sockets": sockets, "dhcp-state": d.netstate.Status(),
		}
		if d.ha != nil {
			st["high-availability"] = []any{d.ha.m.Status()}
		}
		if mt.Enable {
			st["thread-pool-size"] = len(d.srv.Backlog())
			st["packet-queue-size"] = mt.PacketQueueSize
		}
		return ctrl.Success("", st)
	})
	reg("server-tag-get", func(context.Context, json.RawMessage) ctrl.Answer {
		return ctrl.Success("", map[string]any{"server-tag": d.current().Dhcp4.ServerTag})
	})
	reg("config-hash-get", func(context.Context, json.RawMessage) ctrl.Answer {
		b, _ := json.Marshal(d.current().Effective())
		sum := sha256.Sum256(b)
		return ctrl.Success("", map[string]any{"hash": strings.ToUpper(hex.EncodeToString(sum[:]))})
	})
	reg("dhcp-disable", func(_ context.Context, args json.RawMessage) ctrl.Answer {
		o, period, err := originArgs(args, true)
		if err != nil {
			return ctrl.Error("%v", err)
		}
		d.netstate.Disable(o, period)
		if period > 0 {
			return ctrl.Success(fmt.Sprintf("DHCPv4 service disabled for %d seconds", int(period.Seconds())), nil)
		}
		return ctrl.Success("DHCPv4 service disabled", nil)
	})
	reg("dhcp-enable", func(_ context.Context, args json.RawMessage) ctrl.Answer {
		o, _, err := originArgs(args, false)
		if err != nil {
			return ctrl.Error("%v", err)
		}
		d.netstate.Enable(o)
		return ctrl.Success("DHCP service successfully enabled", nil)
	})
	// kea-lfc-start is Kea 3.3's command to run lease file cleanup now.
	reg("kea-lfc-start", func(context.Context, json.RawMessage) ctrl.Answer {
		ld := d.current().Dhcp4.LeaseDatabase
		if !ld.Persist {
			return ctrl.Error("lease file cleanup needs a lease file; lease-database persist is false")
		}
		if err := d.journal.Cleanup(); err != nil {
			return ctrl.Error("lease file cleanup failed: %v", err)
		}
		return ctrl.Success("Lease file cleanup complete.", nil)
	})
	reg("leases-reclaim", func(_ context.Context, args json.RawMessage) ctrl.Answer {
		var a struct {
			Remove *bool `json:"remove"`
		}
		if len(args) == 0 || json.Unmarshal(args, &a) != nil || a.Remove == nil {
			return ctrl.Error("'remove' parameter not specified")
		}
		p, err := d.reclaim.ReclaimAll(*a.Remove)
		d.applyDeltas(p.Deltas)
		if err != nil {
			return ctrl.Error("Reclamation of expired leases failed: %v", err)
		}
		return ctrl.Success("Reclamation of expired leases is complete.", nil)
	})
	reg("shutdown", func(context.Context, json.RawMessage) ctrl.Answer {
		go d.stop()
		return ctrl.Success("Shutting down.", nil)
	})
	d.registerConfigCommands(reg)
	for name, h := range d.stats.Handlers() {
		reg(name, h)
	}
	if !d.current().Dhcp4.LeaseCmds {
		return
	}
	deps := leasecmds.Deps{Store: d.store, Commit: d.srv.Commit,
		Observe: func(c lease.Change) { d.srv.Engine().Observe(c) },
		Subnets: func() []leasecmds.SubnetInfo { return *d.subnets.Load() }, Stats: d.stats}
	if d.ha != nil {
		// The partner's updates win over a disagreeing local lease; HA
		// counts and logs each (status-get's lease-update-conflicts-resolved).
		deps.Conflict = d.ha.m.ConflictResolved
		// Except, in load-balancing between two twinleaf servers, an
		// address this server gave its own client first (KeepLocal).
		deps.Keep = d.ha.m.KeepLocal
	}
	cmds, err := leasecmds.New(deps)
	if err == nil {
		err = cmds.Register(d.reg)
	}
	if err == nil && d.ha != nil {
		err = ha.RegisterBatch(d.reg, d.ha.m, batchApplier(cmds))
	}
	if err != nil {
		d.log.Error("COMMAND_REGISTRATION_FAILED", "error", err)
	}
}

// batchApplier applies a partner's twinleaf-lease4-batch through the
// lease commands, one durable commit per batch.
func batchApplier(c *leasecmds.Commands) ha.BatchApplier {
	return func(ctx context.Context, items []ha.BatchItem) []ctrl.Answer {
		in := make([]leasecmds.Item, len(items))
		for i, it := range items {
			in[i] = leasecmds.Item{Command: it.Command, Arguments: it.Arguments}
		}
		return c.Batch(ctx, in)
	}
}

// originArgs reads dhcp-disable/dhcp-enable's origin as Kea 3.x does
// (origin-id wins; origin may be "user", "ha-partner" or a number) and,
// for a disable, max-period in seconds (positive).
func originArgs(args json.RawMessage, disable bool) (server.Origin, time.Duration, error) {
	var a struct {
		MaxPeriod *json.Number `json:"max-period"`
		Origin    any          `json:"origin"`
		OriginID  *json.Number `json:"origin-id"`
	}
	if len(args) > 0 {
		if err := json.Unmarshal(args, &a); err != nil {
			return 0, 0, fmt.Errorf("arguments: %v", err)
		}
	}
	o := server.OriginUser
	switch v := a.Origin.(type) {
	case nil:
	case string:
		switch v {
		case "user":
			o = server.OriginUser
		case "ha-partner":
			o = server.OriginHARemote
		default:
			return 0, 0, fmt.Errorf("invalid value used for 'origin' parameter: %s", v)
		}
	case float64:
		o = server.Origin(v)
	default:
		return 0, 0, fmt.Errorf("'origin' argument must be a string or a number")
	}
	if a.OriginID != nil {
		n, err := a.OriginID.Int64()
		if err != nil {
			return 0, 0, fmt.Errorf("'origin-id' argument must be a number")
		}
		o = server.Origin(n)
	}
	var period time.Duration
	if disable && a.MaxPeriod != nil {
		n, err := a.MaxPeriod.Int64()
		if err != nil || n <= 0 {
			return 0, 0, fmt.Errorf("'max-period' must be positive integer")
		}
		period = time.Duration(n) * time.Second
	}
	return o, period, nil
}
