package main

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// watchdog pings systemd's watchdog only while the packet path is healthy:
// every worker has either handled something since the last look or has
// nothing waiting. A worker stuck with queued packets stops the pings, and
// systemd restarts the service. It also keeps STATUS= current.
func (d *service) watchdog(ctx context.Context) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		interval = 0
	}
	tick := 30 * time.Second
	if interval > 0 {
		tick = interval / 2
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	last := d.srv.Progress()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := d.srv.Progress()
		backlog := d.srv.Backlog()
		healthy := true
		for i := range now {
			if now[i] == last[i] && backlog[i] > 0 {
				healthy = false
				d.log.Error(fmt.Sprintf("DHCP4_WORKER_STUCK worker %d handled nothing with %d packets waiting", i, backlog[i]))
			}
		}
		last = now
		if interval > 0 && healthy {
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		}
		daemon.SdNotify(false, "STATUS="+d.status())
	}
}

// status is the one-line summary for systemd's STATUS=.
func (d *service) status() string {
	serving, missing := d.watcher.Status()
	s := fmt.Sprintf("serving %v, %d leases", serving, d.store.Len())
	if len(missing) > 0 {
		s += fmt.Sprintf("; waiting for %v", missing)
	}
	return s
}
