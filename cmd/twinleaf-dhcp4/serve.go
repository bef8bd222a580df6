package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/dhcp4"
	"github.com/twinleaf/twinleaf/pkg/ha"
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/leasecmds"
	"github.com/twinleaf/twinleaf/pkg/logging"
	"github.com/twinleaf/twinleaf/pkg/memfile"
	"github.com/twinleaf/twinleaf/pkg/netio"
	"github.com/twinleaf/twinleaf/pkg/pidfile"
	"github.com/twinleaf/twinleaf/pkg/server"
	"github.com/twinleaf/twinleaf/pkg/stats"
)

// checkConfig is -t and -T: parse and check the file, print every problem
// with its position, and exit 0 only when the file is valid. -T also
// builds the engine's model and reads the TLS files, as a start would.
func checkConfig(path string, deep bool, stdout, stderr io.Writer) int {
	c, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range c.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if deep {
		if _, err := dhcp4.NewNetwork(&c.Dhcp4); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			return 1
		}
		for _, h := range c.Dhcp4.HA {
			// Reads the peers' credential and certificate files, as a
			// start would.
			t, err := ha.NewHTTPTransport(h)
			if err != nil {
				fmt.Fprintf(stderr, "%s: high-availability: %v\n", h.Pos, err)
				return 1
			}
			t.Close()
		}
		for _, cs := range c.Dhcp4.ControlSockets {
			if cs.CertFile != "" {
				tf := ctrl.TLSFiles{TrustAnchor: cs.TrustAnchor, CertFile: cs.CertFile, KeyFile: cs.KeyFile, CertRequired: cs.CertRequired}
				if _, err := tf.ServerConfig(); err != nil {
					fmt.Fprintf(stderr, "%s: control socket %s: %v\n", cs.Pos, cs.Type, err)
					return 1
				}
			}
		}
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n", path)
	return 0
}

// service is the running daemon and what it is made of.
type service struct {
	o        options
	cfgp     atomic.Pointer[config.Config]
	running  running
	log      hclog.Logger
	logs     *logging.Manager
	store    *lease.Store
	journal  *memfile.Journal
	srv      *server.Server
	watcher  *netio.Watcher
	reg      *ctrl.Registry
	stats    *stats.Registry
	netstate *server.NetworkState
	reclaim  *lease.Reclaimer
	// ha is libdhcp_ha.so's relationship, nil without one.
	ha *haService
	// haClock is the lab's HA clock (TWINLEAF_TEST_CLOCK); nil on a real
	// board, where HA uses the system clock and adjtimex.
	haClock *labClock
	// subnets are the running configuration's subnets as lease commands
	// see them; swapped on reload.
	subnets atomic.Pointer[[]leasecmds.SubnetInfo]
	start   time.Time
	stop    context.CancelFunc
}

func serve(o options, stdout, stderr io.Writer) int {
	cfg, err := config.Load(o.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logs, err := logging.New(loggingConfig(cfg, o.debug), logging.Options{Stdout: stdout, Stderr: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "%s: loggers: %v\n", o.config, err)
		return 1
	}
	log := logs.Logger(logging.RootName).HCLog()
	for _, w := range cfg.Warnings {
		log.Warn("DHCP4_CONFIG_SYNTAX_WARNING configuration syntax warning: " + w.String())
	}
	pf, err := pidfile.Acquire(pidfile.Path(o.config, os.Getenv("KEA_PIDFILE_DIR")))
	if err != nil {
		log.Error("DHCP4_ALREADY_RUNNING", "error", err)
		return 1
	}
	defer pf.Release()

	// TWINLEAF_CPUPROFILE=file writes a Go CPU profile until shutdown, for
	// finding what a benchmark spends its time on.
	if path := os.Getenv("TWINLEAF_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	// TWINLEAF_MEMPROFILE=file writes a heap profile at shutdown.
	if path := os.Getenv("TWINLEAF_MEMPROFILE"); path != "" {
		defer func() {
			if f, err := os.Create(path); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &service{o: o, log: log, logs: logs, store: lease.NewStore(), start: time.Now(), stop: cancel, stats: stats.New(time.Now)}
	if path := os.Getenv(labClockEnv); path != "" {
		c, err := newLabClock(path, time.Now, log)
		if err != nil {
			log.Error("DHCP4_INIT_FAIL failed to initialize Kea server", "error", err)
			return 1
		}
		d.haClock = c
	}
	d.stats.Start()
	d.cfgp.Store(cfg)
	d.configureStats(cfg)
	if err := d.run(ctx); err != nil {
		log.Error("DHCP4_INIT_FAIL failed to initialize Kea server", "error", err)
		return 1
	}
	return 0
}

// rowDiscarded logs an unusable lease row that loading or a cleanup
// skipped, with Kea's message; Kea numbers the rows after the header,
// from 1.
func (d *service) rowDiscarded(e memfile.RowError) {
	d.log.Error(fmt.Sprintf("DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR discarding row %d, error: %v", e.Line-1, e.Err),
		"file", e.File, "line", e.Line)
}

func (d *service) run(ctx context.Context) error {
	c := &d.current().Dhcp4
	ld := c.LeaseDatabase
	// The bbolt mirror beside the CSV makes restarts as fast as the live
	// lease set is small, whatever the file's history; the CSV stays the
	// source of truth.
	j, err := memfile.Open(memfile.Options{Path: ld.Name, Persist: ld.Persist, MaxRowErrors: int(ld.MaxRowErrors),
		Mirror: ld.Name + ".mirror", Discarded: d.rowDiscarded})
	if err != nil {
		return err
	}
	defer j.Close()
	d.journal = j
	rep, err := j.Load(d.store)
	if err != nil {
		return err
	}
	// Kea's messages for the files read and the rows discarded (Kea
	// logs each file as it starts on it; they are listed here once read),
	// then twinleaf's summary.
	for _, f := range rep.Files {
		d.log.Info("DHCPSRV_MEMFILE_LEASE_FILE_LOAD loading leases from file " + f)
	}
	for _, s := range rep.Skipped {
		d.rowDiscarded(s)
	}
	d.log.Info("DHCPSRV_MEMFILE_LEASES_RELOAD_END leases loaded", "file", ld.Name, "leases", rep.Leases,
		"rows", rep.Rows, "skipped", len(rep.Skipped))

	if len(c.HA) > 1 {
		// Running one and ignoring the rest would leave two servers
		// answering the same clients.
		return fmt.Errorf("%s: high-availability: twinleaf runs one relationship and this configuration has %d; keep one (several need Kea 3.x)",
			c.HA[1].Pos, len(c.HA))
	}
	if len(c.HA) > 0 {
		// Built before the engine, which filters queries by its scopes.
		h, err := d.newHA(ctx, c.HA[0])
		if err != nil {
			return err
		}
		defer h.close()
		d.ha = h
	}
	n, err := dhcp4.NewNetwork(c)
	if err != nil {
		return err
	}
	sn := leasecmds.SubnetsOf(n)
	d.subnets.Store(&sn)
	eng, err := dhcp4.NewEngine(n, d.engineDeps())
	if err != nil {
		return err
	}
	d.log.Info("DHCP4_CONFIG_COMPLETE DHCPv4 server has completed configuration: " + configSummary(n))
	workers := 1
	if c.MultiThreading.Enable {
		workers = int(c.MultiThreading.ThreadPoolSize)
		if workers == 0 {
			workers = runtime.NumCPU()
		}
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(procs(c))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent(c))
	}
	ports := netio.Ports{Server: uint16(d.o.serverPort), Client: uint16(d.o.clientPort)}
	var watcher *netio.Watcher
	eng.InitStats(d.leases())
	sc := server.Config{Engine: eng, Journal: j, Log: d.log.Named("packets"), Stats: d.stats,
		Leases:  d.logs.Logger(logging.RootName + ".leases"),
		Workers: workers, QueueSize: int(c.MultiThreading.PacketQueueSize), Ports: ports,
		Direct:       !c.MultiThreading.Enable,
		CommitWindow: commitWindow,
		ServerAddrs:  func() []netip.Addr { return watcher.Addrs() }}
	if d.ha != nil {
		sc.AfterCommit = d.ha.afterCommit
		sc.ParkLimit = parkLimit(c.ParkedPacketLimit)
	}
	d.srv = server.New(sc)
	defer d.srv.Close()

	var specs []netio.Spec
	for _, s := range c.InterfacesConfig.Interfaces {
		sp, err := netio.ParseSpec(s)
		if err != nil {
			return err
		}
		specs = append(specs, sp)
	}
	open := func(ifc *net.Interface, addrs []netip.Prefix) (netio.Conn, error) {
		if c.InterfacesConfig.DHCPSocketType == "udp" {
			return netio.ListenUDP(ifc, addrs, ports)
		}
		return netio.ListenRaw(ifc, addrs, ports)
	}
	watcher = netio.NewWatcher(netio.WatchConfig{Specs: specs, Open: open, Log: d.log.Named("dhcpsrv"),
		Events:     netio.Events{Open: d.srv.Serve},
		MaxRetries: int(c.InterfacesConfig.ServiceSocketsMaxRetries),
		RetryWait:  time.Duration(c.InterfacesConfig.ServiceSocketsRetryWaitTime) * time.Millisecond,
		RequireAll: c.InterfacesConfig.ServiceSocketsRequireAll})
	d.watcher = watcher

	d.netstate = server.NewNetworkState(d.srv.SetEnabled)
	if d.ha != nil && !d.ha.m.DHCPEnabled() {
		// The machine starts waiting, a state that does not serve; it
		// switches the service only on a change of state.
		d.netstate.Disable(server.OriginHALocal, 0)
	}
	d.reg = ctrl.NewRegistry()

	e := c.ExpiredLeasesProcessing
	rc := &lease.Reclaimer{Store: d.store, Config: lease.ReclaimConfig{
		ReclaimTimerWait: time.Duration(e.ReclaimTimerWaitTime) * time.Second,
		FlushTimerWait:   time.Duration(e.FlushReclaimedTimerWaitTime) * time.Second,
		HoldReclaimed:    time.Duration(e.HoldReclaimedTime) * time.Second,
		MaxLeases:        int(e.MaxReclaimLeases),
		MaxTime:          time.Duration(e.MaxReclaimTime) * time.Millisecond,
		UnwarnedCycles:   int(e.UnwarnedReclaimCycles),
	}, Commit: func(ch ...lease.Change) error {
		// Through the server's queue, so the file keeps the store's order.
		if err := d.srv.Commit(ch...); err != nil {
			return err
		}
		e := d.srv.Engine()
		for _, x := range ch {
			e.Observe(x)
		}
		return nil
	}, Report: func(p lease.Pass, err error) {
		d.applyDeltas(p.Deltas)
		if err != nil {
			d.log.Error("ALLOC_ENGINE_V4_LEASES_RECLAMATION_FAILED", "error", err)
		} else if p.Reclaimed+p.Flushed > 0 {
			d.log.Info("ALLOC_ENGINE_V4_LEASES_RECLAMATION_COMPLETE", "reclaimed", p.Reclaimed, "flushed", p.Flushed)
		}
	}}
	rc.Enabled = d.netstate.Enabled
	if d.ha != nil {
		m := d.ha.m
		rc.Skip = func(l *lease.Lease) bool { return !m.ShouldReclaim(l) }
	}
	d.reclaim = rc
	d.registerCommands(eng)
	closers, err := d.openControlSockets()
	defer func() {
		for _, cl := range closers {
			cl()
		}
	}()
	if err != nil {
		return err
	}
	if d.ha != nil {
		if err := d.ha.register(d); err != nil {
			return err
		}
		if h := c.HA[0]; dedicatedListener(c, h) {
			l, err := ha.Listen(h, d.reg, d.ha.m.Refused)
			if err != nil {
				return fmt.Errorf("%s: high-availability dedicated listener: %w", h.Pos, err)
			}
			defer l.Close(5 * time.Second)
		}
		go d.ha.m.Loop(ctx)
	}
	go rc.Run(ctx)
	go d.stats.Run(ctx, time.Second)
	if ld.Persist && ld.LFCInterval > 0 {
		t := time.NewTicker(time.Duration(ld.LFCInterval) * time.Second)
		defer t.Stop()
		// Kea's lines for setting up and starting the cleanup; the
		// failure is twinleaf's own (Kea's runs in kea-lfc, which logs it).
		d.log.Info(fmt.Sprintf("DHCPSRV_MEMFILE_LFC_SETUP setting up the Lease File Cleanup interval to %d sec", ld.LFCInterval))
		go j.RunCleanup(ctx, t.C, func() {
			d.log.Info("DHCPSRV_MEMFILE_LFC_START starting Lease File Cleanup")
		}, func(err error) {
			if err != nil {
				d.log.Error("DHCPSRV_MEMFILE_LFC_EXECUTE_FAIL lease file cleanup failed", "error", err)
			}
		})
	}

	if ld.Persist {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		go j.RunCheckpoint(ctx, t.C, func(err error) {
			if err != nil {
				d.log.Warn("DHCPSRV_MEMFILE_MIRROR_FAIL lease mirror checkpoint failed; the CSV is unaffected", "error", err)
			}
		})
	}

	watchErr := make(chan error, 1)
	go func() { watchErr <- watcher.Run(ctx) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sig)
	d.waitFirstScan()
	d.log.Info("DHCP4_STARTED Kea DHCPv4 server version " + version + " started")
	d.notifyReady()
	go d.watchdog(ctx)
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				d.reload()
				continue
			}
			d.log.Info("DHCP4_SHUTDOWN server shutdown", "signal", s.String())
			daemon.SdNotify(false, daemon.SdNotifyStopping)
			cancel := d.stop
			cancel()
			<-watchErr
			return nil
		case <-ctx.Done():
			<-watchErr
			return nil
		case err := <-watchErr:
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		}
	}
}

// configureStats applies the configuration's statistic sample limits.
func (d *service) configureStats(cfg *config.Config) {
	var age *time.Duration
	if a := cfg.Dhcp4.StatisticDefaultSampleAge; a != nil {
		v := time.Duration(*a) * time.Second
		age = &v
	}
	d.stats.Configure(cfg.Dhcp4.StatisticDefaultSampleCount, age)
}

// loggingConfig maps the configuration's loggers onto pkg/logging's.
func loggingConfig(cfg *config.Config, debug bool) logging.Config {
	lc := logging.Config{Debug: debug}
	for _, l := range cfg.Dhcp4.Loggers {
		e := logging.LoggerConfig{Name: l.Name, Severity: l.Severity, DebugLevel: l.DebugLevel}
		for _, o := range l.Outputs {
			e.Outputs = append(e.Outputs, logging.OutputConfig{Output: o.Output, MaxSize: o.MaxSize,
				MaxVer: o.MaxVer, Flush: o.Flush, Pattern: o.Pattern})
		}
		lc.Loggers = append(lc.Loggers, e)
	}
	return lc
}

// current is the configuration in force.
func (d *service) current() *config.Config { return d.cfgp.Load() }

// engineDeps are what every engine the daemon builds shares.
func (d *service) engineDeps() dhcp4.Deps {
	deps := dhcp4.Deps{Store: d.store, Stats: d.stats}
	if d.ha != nil {
		deps.InScope = d.ha.m.InScope
		deps.Unconfirmed = d.ha.m.LeaseUnconfirmed
	}
	return deps
}

// leases walks the store, for the engine's start-up statistics.
func (d *service) leases() func(func(*lease.Lease) bool) {
	return func(yield func(*lease.Lease) bool) {
		for _, l := range d.store.All() {
			if !yield(l) {
				return
			}
		}
	}
}

// applyDeltas adds a reclamation pass's statistic changes per subnet, per
// pool and, for the counters Kea keeps globally, in total.
func (d *service) applyDeltas(ds lease.Deltas) {
	for k, n := range ds {
		d.stats.Add(stats.Subnet(k.SubnetID, k.Name), n)
		if k.PoolID != 0 {
			d.stats.Add(stats.Pool(k.SubnetID, k.PoolID, k.Name), n)
		}
		if k.Name != lease.StatAssignedAddresses {
			d.stats.Add(k.Name, n)
		}
	}
}

// parkLimit is parked-packet-limit as the server takes it: Kea's 0 means
// no limit.
func parkLimit(v uint32) int {
	if v == 0 {
		return server.NoParkLimit
	}
	return int(min(v, math.MaxInt32))
}

// waitFirstScan waits, briefly, for the watcher's first look at the
// interfaces, so READY=1 means the sockets that can be bound are bound. An
// interface still missing does not hold readiness back: STATUS= says so.
func (d *service) waitFirstScan() {
	for i := 0; i < 100; i++ {
		serving, missing := d.watcher.Status()
		if len(serving)+len(missing) > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *service) notifyReady() {
	daemon.SdNotify(false, daemon.SdNotifyReady+"\nSTATUS="+d.status())
}

// openControlSockets opens every control socket of the configuration and
// returns how to close them.
func (d *service) openControlSockets() ([]func(), error) {
	var closers []func()
	for _, cs := range d.current().Dhcp4.ControlSockets {
		switch cs.Type {
		case "unix":
			u, err := ctrl.ListenUnix(cs.Name, d.reg)
			if err != nil {
				return closers, err
			}
			closers = append(closers, func() { u.Close() })
		case "http", "https":
			h := &ctrl.HTTPHandler{Registry: d.reg, Headers: cs.Headers}
			if d.ha != nil {
				// The HA partner's requests come here without a
				// dedicated listener: name its refused credentials.
				h.Refused = d.ha.m.Refused
			}
			if cs.Auth != nil {
				a, err := resolveAuth(cs.Auth)
				if err != nil {
					return closers, err
				}
				h.Auth = a
			}
			var tf *ctrl.TLSFiles
			if cs.CertFile != "" {
				tf = &ctrl.TLSFiles{TrustAnchor: cs.TrustAnchor, CertFile: cs.CertFile, KeyFile: cs.KeyFile, CertRequired: cs.CertRequired}
			}
			s, err := ctrl.ListenHTTP(net.JoinHostPort(cs.Address, fmt.Sprint(cs.Port)), h, tf)
			if err != nil {
				return closers, err
			}
			closers = append(closers, func() { s.Close(5 * time.Second) })
		}
	}
	return closers, nil
}

// resolveAuth opens user-file and password-file entries, relative to the
// authentication block's directory; they are read again when they change.
func resolveAuth(a *config.Authentication) (*ctrl.Auth, error) {
	out := &ctrl.Auth{Realm: a.Realm}
	open := func(name string) (*ctrl.FileSecret, error) {
		if !filepath.IsAbs(name) && a.Directory != "" {
			name = filepath.Join(a.Directory, name)
		}
		f, err := ctrl.NewFileSecret(name, false)
		if err != nil {
			return nil, fmt.Errorf("authentication: reading %s: %w", name, err)
		}
		return f, nil
	}
	for _, cl := range a.Clients {
		u := ctrl.User{Name: cl.User, Password: cl.Password}
		var err error
		if cl.UserFile != "" {
			if u.NameFile, err = open(cl.UserFile); err != nil {
				return nil, err
			}
		}
		if cl.PasswordFile != "" {
			if u.PasswordFile, err = open(cl.PasswordFile); err != nil {
				return nil, err
			}
		}
		out.Clients = append(out.Clients, u)
	}
	return out, nil
}

// procs is the number of threads running Go code. Without
// multi-threading Kea runs one thread, and so does a lone twinleaf: the
// socket reader answers and commits alone, and a second thread would
// only spin between packets looking for work (about a quarter less CPU
// per lease at 4,000 leases/s; see README "What durability costs"). With
// multi-threading, or in an HA relationship, whose lease updates are
// sent and applied by many goroutines at once while the packet path
// runs, every CPU. GOMAXPROCS in the environment still decides.
func procs(c *config.Dhcp4) int {
	if !c.MultiThreading.Enable && len(c.HA) == 0 {
		return 1
	}
	return runtime.NumCPU()
}

// gcPercent is the heap growth that starts a collection. A lone server
// collects at 50% (main's setting): most of its heap is the lease store,
// and peak RSS stays near the store's size. A server in an HA pair
// collects at Go's default, 100%: every reply waits for the partner's
// acknowledgement, and a collection running twice as often stretches
// those waits with its assists. A multi-threaded twinleaf pair at
// 6,000-7,000 leases/s dropped replies for a full parking lot in one of
// four runs at 50% and in none at 100%, with its REQUEST-to-ACK time
// down from 9-15 to 7-10 ms and 5% less CPU, for about 14% more peak
// RSS (48 against 42 MB at 6,000/s). GOGC in the environment still
// decides.
func gcPercent(c *config.Dhcp4) int {
	if len(c.HA) > 0 {
		return 100
	}
	return 50
}

// commitWindow is the shortest time between two lease-file flushes
// (server.Config.CommitWindow). Every ACK waits for its lease's
// fdatasync; under a steady stream of clients, gathering 5 ms of them
// into one flush cut the CPU per lease by 21–27% at 1,000–4,000
// leases/s on the test machine, for at most 5 ms more before the ACK. A
// client after a quiet spell is not delayed, and a disk whose flush takes
// longer than the window leaves nothing to wait for.
const commitWindow = 5 * time.Millisecond
