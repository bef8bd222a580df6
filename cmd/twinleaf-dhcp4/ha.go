package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/ha"
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/server"
)

// haService is libdhcp_ha.so's relationship running in the daemon: the
// state machine and what it sends to the partner with.
type haService struct {
	m         *ha.Machine
	transport *ha.HTTPTransport
	sync      *ha.LeaseSync
	backlog   *ha.LeaseBacklog
	// batcher sends the partner's lease updates: in batches to a
	// twinleaf that offered them, else one command at a time.
	batcher *ha.Batcher
	partner string
	// backups are the backup peers; their updates are waited for only
	// with wait-backup-ack, else sent in the background, at most
	// backupLimit transactions at a time.
	backups       []*ha.BackupPeer
	waitBackupAck bool
	backupSlots   chan struct{}
	log           hclog.Logger
	// life is the daemon's lifetime: updates still in flight at shutdown
	// give up rather than hold the exit for their 10 s timeout.
	life context.Context
}

// backupLimit bounds the background updates to backups, so a dead backup
// cannot pile up goroutines; past it a transaction's backup updates are
// dropped (and logged), as a failed update to a backup would be.
const backupLimit = 256

// newHA builds the relationship of h. Its local DHCP switch goes through
// the network state under Kea's local-HA origin; synced leases are
// committed through the server's queue like every other change.
func (d *service) newHA(ctx context.Context, h config.HA) (*haService, error) {
	var partner *config.Peer
	s := &haService{life: ctx, waitBackupAck: h.WaitBackupAck, backupSlots: make(chan struct{}, backupLimit),
		log: d.log.Named("ha-hooks")}
	for i := range h.Peers {
		p := &h.Peers[i]
		switch {
		case p.Name == h.ThisServerName || isBackup(h):
			// A backup sends nothing and has no partner.
		case p.Role == "backup":
			if h.SendLeaseUpdates {
				s.backups = append(s.backups, &ha.BackupPeer{Name: p.Name, Log: s.log, Conns: ha.BatchConns(h)})
			}
		default:
			partner = p
		}
	}
	// HA needs libdhcp_lease_cmds.so (config checks it), whose commands
	// apply the partner's batches (registerCommands).
	cfg := ha.Config{HA: h, Version: ha.Kea3, ClockSynced: clockSynced, Log: s.log, AcceptBatches: true,
		SetDHCP: func(on bool) {
			if on {
				d.netstate.Enable(server.OriginHALocal)
			} else {
				d.netstate.Disable(server.OriginHALocal, 0)
			}
		}}
	if d.haClock != nil {
		cfg.Now, cfg.ClockSynced = d.haClock.Now, d.haClock.Synced
	}
	cfg.Adopt = func(kept, lost *lease.Lease) { go s.adopt(ctx, syncStore{d}, kept, lost) }
	if len(s.backups) > 0 || partner != nil {
		t, err := ha.NewHTTPTransport(h)
		if err != nil {
			return nil, fmt.Errorf("%s: high-availability: %w", h.Pos, err)
		}
		s.transport = t
		cfg.Transport = t
		for _, b := range s.backups {
			b.Transport = t
		}
	}
	if partner != nil {
		t := s.transport
		s.partner = partner.Name
		s.sync = &ha.LeaseSync{Transport: t, Partner: partner.Name, Label: fmt.Sprintf("%s (%s)", partner.Name, partner.URL),
			Version: ha.Kea3, ServerName: h.ThisServerName, PageLimit: h.SyncPageLimit,
			Timeout: time.Duration(h.SyncTimeout) * time.Millisecond, Store: syncStore{d}, Log: cfg.Log}
		s.backlog = ha.NewLeaseBacklog(h.DelayedUpdatesLimit, t, partner.Name)
		cfg.Identify = s.identify
		cfg.Backlog = s.backlog
		if h.SyncLeases {
			cfg.Syncer = s.sync
		}
	}
	m, err := ha.New(cfg)
	if err != nil {
		if s.transport != nil {
			s.transport.Close()
		}
		return nil, fmt.Errorf("%s: high-availability: %w", h.Pos, err)
	}
	s.m = m
	if s.backlog != nil {
		s.backlog.Conflict = m.UpdateConflict
		s.backlog.Lost = m.BacklogConflictLost
		s.batcher = ha.NewBatcher(m, s.transport, partner.Name, ha.BatchConns(h))
	}
	return s, nil
}

// adopt stores kept, a lease the partner kept in a load-balancing
// conflict this server lost, in place of lost's client's lease at the
// address, and tells the backups. Anything else at the address came after
// the conflict and stays. It runs on its own: the lost update's reply is
// still held while the machine asks for it.
func (s *haService) adopt(ctx context.Context, st syncStore, kept, lost *lease.Lease) {
	cur, _ := st.Get(kept.Addr)
	if cur == nil || !cur.BelongsTo(lost.HWAddr, lost.ClientID) {
		return
	}
	if err := st.Commit(ctx, cur, kept); err != nil {
		s.log.Error(fmt.Sprintf("HA_LEASE_UPDATE_CONFLICT_LOST taking the partner's lease %s failed: %v", kept.Addr, err))
		return
	}
	if err := s.toBackups([]lease.Change{{Old: cur, New: kept}}); err != nil {
		s.log.Warn("HA_LEASE_UPDATE_FAILED " + err.Error())
	}
}

// close drops the kept-alive connections to the partner.
func (s *haService) close() {
	if s.transport != nil {
		s.transport.Close()
	}
}

// isBackup reports whether this server is a backup, which never sends.
func isBackup(h config.HA) bool {
	for _, p := range h.Peers {
		if p.Name == h.ThisServerName {
			return p.Role == "backup"
		}
	}
	return false
}

// afterCommit is the server's AfterCommit: a reply whose leases are
// durable goes out only once the partner has them too (hot-standby,
// load-balancing, partner-in-maintenance), as Kea parks it. In
// communication-recovery the updates wait in the backlog instead.
// Backups get every transaction's updates; the reply waits for them only
// with wait-backup-ack.
func (s *haService) afterCommit(changes []lease.Change) error {
	plan := s.m.Committed()
	if plan == ha.UpdateSkip && len(s.backups) == 0 {
		return nil
	}
	v, known := s.m.PartnerVersion()
	if !known && plan != ha.UpdateSkip {
		// The machine sends only once it knows; this guards that promise.
		return fmt.Errorf("ha: lease updates for %s before its Kea release is known", s.partner)
	}
	if err := s.toBackups(changes); err != nil {
		return err
	}
	cmds := ha.UpdateCommands(v, changes)
	switch plan {
	case ha.UpdateSkip:
		return nil
	case ha.UpdateQueue:
		for _, c := range cmds {
			s.backlog.Push(c)
		}
		return nil
	}
	// A conflict answer is no error: this server serves the client, so
	// the reply goes out with its lease (ha.SendUpdate's rules, per
	// update also inside a batch).
	hw, cid := clientOf(changes)
	s.m.UpdatesSending(changes)
	err := s.batcher.SendUpdates(s.life, cmds, hw, cid)
	s.m.UpdatesDone(changes, err)
	if err != nil {
		return fmt.Errorf("ha: lease updates to %s: %w", s.partner, err)
	}
	return nil
}

// toBackups sends the updates for changes to every backup: in the
// background, or with wait-backup-ack before the reply may go out. A
// backup's failure never touches the partner's state.
func (s *haService) toBackups(changes []lease.Change) error {
	if len(s.backups) == 0 {
		return nil
	}
	if s.waitBackupAck {
		return s.sendBackups(changes)
	}
	select {
	case s.backupSlots <- struct{}{}:
	default:
		s.log.Warn("HA_LEASE_UPDATES_BACKUP_DROPPED too many lease updates to backups in flight; this transaction's are not sent",
			"limit", backupLimit)
		return nil
	}
	changes = slices.Clone(changes) // the caller's slice is reused; stored leases are not changed in place
	go func() {
		defer func() { <-s.backupSlots }()
		if err := s.sendBackups(changes); err != nil {
			s.log.Warn("HA_LEASE_UPDATE_FAILED " + err.Error())
		}
	}()
	return nil
}

// sendBackups sends the updates for changes to every backup, each in the
// form its release takes; one backup failing does not keep the others
// from theirs.
func (s *haService) sendBackups(changes []lease.Change) error {
	var errs []error
	for _, b := range s.backups {
		if err := b.Send(s.life, changes); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// identify is the machine's Identify: the partner's release decides the
// form of our lease updates. A Kea 2.x partner (a board not yet moved to
// twinleaf) refuses 3.x's released-lease update, so it gets lease4-del.
// A twinleaf that offers twinleaf-lease4-batch gets the updates in
// batches; Kea never does.
func (s *haService) identify(ctx context.Context) (ha.Partner, error) {
	p, err := ha.Identify(ctx, s.transport, s.partner)
	if err != nil {
		return p, err
	}
	form := p.Version.Form()
	how := "one command per update, as Kea sends them"
	if p.Batch >= ha.BatchProtocol {
		how = fmt.Sprintf("in %s requests (batch protocol %d offered, %d used)", ha.BatchCommand, p.Batch, ha.BatchProtocol)
	}
	s.log.Info(fmt.Sprintf("HA_PARTNER_VERSION partner %s runs %s: lease updates use %s form, %s", s.partner, p.Text, form, how))
	return p, nil
}

// clientOf names the client of one transaction's changes, for the log
// line of a lease update the partner answers with a conflict.
func clientOf(changes []lease.Change) (net.HardwareAddr, []byte) {
	for i := len(changes) - 1; i >= 0; i-- {
		l := changes[i].New
		if l == nil {
			l = changes[i].Old
		}
		if l != nil {
			return l.HWAddr, l.ClientID
		}
	}
	return nil, nil
}

// register puts the HA commands on the daemon's registry. A completed
// sync ends every hold the partner put on our service, as the fact sheet
// recommends, on top of the machine's answer.
func (s *haService) register(d *service) error {
	var syncer ha.Syncer
	if s.sync != nil {
		syncer = s.sync
	}
	if err := ha.Register(d.reg, s.m, syncer); err != nil {
		return err
	}
	d.reg.Unregister("ha-sync-complete-notify")
	return d.reg.Register("ha-sync-complete-notify", func(_ context.Context, args json.RawMessage) ctrl.Answer {
		if err := s.m.CheckServerName(args); err != nil {
			return ctrl.Error("%v", err)
		}
		a := s.m.SyncComplete()
		if a.Result == ctrl.ResultSuccess {
			d.enableRemoteOrigins()
		}
		return a
	})
}

// enableRemoteOrigins drops every hold the HA partner has on the service.
func (d *service) enableRemoteOrigins() {
	ids, _ := d.netstate.Status()["disabled-by-remote-command"].([]int)
	for _, id := range ids {
		d.netstate.Enable(server.Origin(id))
	}
}

// dedicatedListener reports whether HA's own listener is in effect: Kea
// opens it only with multi-threading on both globally and in the
// relationship.
func dedicatedListener(c *config.Dhcp4, h config.HA) bool {
	return c.MultiThreading.Enable && h.MultiThreading.Enable && h.MultiThreading.DedicatedListener
}

// clockSynced reports whether the kernel considers the clock synchronised
// (adjtimex without STA_UNSYNC). A board without an RTC boots unsynced;
// the HA machine then holds back clock-skew termination.
func clockSynced() bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return true // cannot tell: behave as Kea does
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}

// syncStore is the lease store as the HA sync writes to it: each synced
// lease is made durable through the server's queue, then swapped in.
type syncStore struct{ d *service }

func (s syncStore) Get(a netip.Addr) (*lease.Lease, bool) { return s.d.store.Get(a) }

// Commit writes old → nl, then stores it. If the store changed meanwhile,
// the store's lease is written again so the file ends with what it holds.
func (s syncStore) Commit(_ context.Context, old, nl *lease.Lease) error {
	c := lease.Change{Old: old, New: nl}
	if err := s.d.srv.Commit(c); err != nil {
		return fmt.Errorf("ha: writing synced lease %s: %w", nl.Addr, err)
	}
	if !s.d.store.CompareAndPut(old, nl) {
		cur, _ := s.d.store.Get(nl.Addr)
		if err := s.d.srv.Commit(lease.Change{Old: nl, New: cur}); err != nil {
			return fmt.Errorf("ha: rewriting %s after a concurrent change: %w", nl.Addr, err)
		}
		return nil
	}
	s.d.srv.Engine().Observe(c)
	return nil
}
