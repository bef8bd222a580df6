package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sync"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/dhcp4"
	"github.com/twinleaf/twinleaf/pkg/leasecmds"
)

// running serialises reloads; the configuration in force is service.cfgp.
type running struct {
	mu sync.Mutex
}

// apply makes cfg the running configuration: a new engine is built beside
// the old one and swapped in atomically, so a configuration that fails to
// build leaves the old one serving. Settings that need sockets or files
// reopened are reported, not applied, until the next restart.
func (d *service) apply(cfg *config.Config) error {
	d.running.mu.Lock()
	defer d.running.mu.Unlock()
	n, err := dhcp4.NewNetwork(&cfg.Dhcp4)
	if err != nil {
		return err
	}
	eng, err := dhcp4.NewEngine(n, d.engineDeps())
	if err != nil {
		return err
	}
	sn := leasecmds.SubnetsOf(n)
	old := d.current()
	for _, k := range restartOnly(&old.Dhcp4, &cfg.Dhcp4) {
		d.log.Warn("DHCP4_CONFIG_NEEDS_RESTART " + k + " changed; it takes effect at the next restart")
	}
	// Kea recounts the lease statistics on reconfiguration.
	d.stats.RemovePrefix("subnet[")
	eng.InitStats(d.leases())
	if err := d.logs.Configure(loggingConfig(cfg, d.o.debug)); err != nil {
		d.log.Warn("DHCP4_CONFIG_LOGGERS_FAIL the new loggers were refused; logging stays as it was", "error", err)
	}
	d.srv.SetEngine(eng)
	d.subnets.Store(&sn)
	d.cfgp.Store(cfg)
	d.configureStats(cfg)
	d.log.Info("DHCP4_CONFIG_COMPLETE DHCPv4 server has completed configuration: " + configSummary(n))
	return nil
}

// configSummary is Kea's summary of a configuration for
// DHCP4_CONFIG_COMPLETE: its IPv4 subnets (those of shared networks
// included), then DDNS, which an accepted configuration never enables
// (twinleaf refuses dhcp-ddns updates).
func configSummary(n *dhcp4.Network) string {
	s := "no IPv4 subnets!"
	if k := len(n.Subnets); k > 0 {
		s = fmt.Sprintf("added IPv4 subnets: %d", k)
	}
	return s + "; DDNS: disabled"
}

// restartOnly names the sections that differ and are opened only at start.
func restartOnly(a, b *config.Dhcp4) []string {
	var out []string
	for _, s := range []struct {
		name string
		x, y any
	}{
		{"interfaces-config", a.InterfacesConfig, b.InterfacesConfig},
		{"control-socket(s)", a.ControlSockets, b.ControlSockets},
		{"lease-database", a.LeaseDatabase, b.LeaseDatabase},
		{"multi-threading", a.MultiThreading, b.MultiThreading},
		{"expired-leases-processing", a.ExpiredLeasesProcessing, b.ExpiredLeasesProcessing},
		{"high-availability", a.HA, b.HA},
		{"parked-packet-limit", a.ParkedPacketLimit, b.ParkedPacketLimit},
		{"loggers", a.Loggers, b.Loggers},
	} {
		if !reflect.DeepEqual(s.x, s.y) {
			out = append(out, s.name)
		}
	}
	return out
}

// reload re-reads the -c file (SIGHUP and config-reload), telling systemd.
// Its log lines are Kea's: DHCP4_DYNAMIC_RECONFIGURATION, then _SUCCESS
// or _FAIL (which Kea logs as fatal, though its server, like this one,
// keeps serving with the old configuration).
func (d *service) reload() error {
	daemon.SdNotify(false, daemon.SdNotifyReloading)
	defer d.notifyReady()
	f := d.o.config
	d.log.Info("DHCP4_DYNAMIC_RECONFIGURATION initiate server reconfiguration using file: " + f + ", after receiving SIGHUP signal or config-reload command")
	cfg, err := config.Load(f)
	if err == nil {
		err = d.apply(cfg)
	}
	if err != nil {
		d.log.Error("DHCP4_DYNAMIC_RECONFIGURATION_FAIL dynamic server reconfiguration failed with file: "+f+"; the old configuration keeps serving", "error", err)
		return err
	}
	d.log.Info("DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS dynamic server reconfiguration succeeded with file: " + f)
	return nil
}

// parseArgsConfig reads config-set/config-test arguments: {"Dhcp4": {...}}.
func parseArgsConfig(args json.RawMessage) (*config.Config, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("missing mandatory 'arguments' parameter with the configuration")
	}
	return config.Parse("config-set", args)
}

// registerConfigCommands adds config-reload, config-test, config-set and
// config-write.
func (d *service) registerConfigCommands(reg func(string, ctrl.Handler)) {
	reg("config-reload", func(context.Context, json.RawMessage) ctrl.Answer {
		if err := d.reload(); err != nil {
			return ctrl.Error("Config reload failed: %v", err)
		}
		return ctrl.Success("Configuration successful.", nil)
	})
	reg("config-test", func(_ context.Context, args json.RawMessage) ctrl.Answer {
		cfg, err := parseArgsConfig(args)
		if err == nil {
			_, err = dhcp4.NewNetwork(&cfg.Dhcp4)
		}
		if err != nil {
			return ctrl.Error("%v", err)
		}
		return ctrl.Success("Configuration seems sane. Control-socket, hook-libraries, and D2 configuration were sanity checked, but not applied.", nil)
	})
	reg("config-set", func(_ context.Context, args json.RawMessage) ctrl.Answer {
		cfg, err := parseArgsConfig(args)
		if err == nil {
			err = d.apply(cfg)
		}
		if err != nil {
			return ctrl.Error("%v", err)
		}
		return ctrl.Success("Configuration successful.", nil)
	})
	reg("config-write", func(_ context.Context, args json.RawMessage) ctrl.Answer {
		var a struct {
			Filename string `json:"filename"`
		}
		if len(args) > 0 {
			if err := json.Unmarshal(args, &a); err != nil {
				return ctrl.Error("config-write: %v", err)
			}
		}
		if a.Filename == "" {
			a.Filename = d.o.config
		}
		b, err := json.MarshalIndent(d.current().Effective(), "", "    ")
		if err != nil {
			return ctrl.Error("config-write: %v", err)
		}
		if err := writeAtomic(a.Filename, append(b, '\n')); err != nil {
			return ctrl.Error("Unable to open file %s for writing: %v", a.Filename, err)
		}
		return ctrl.Success(fmt.Sprintf("Configuration written to %s successful", a.Filename),
			map[string]any{"filename": a.Filename, "size": len(b) + 1})
	})
}

// writeAtomic replaces path with data so a crash leaves the old file or the
// new one, never half of one.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
