// Package server runs the DHCPv4 service: readers hand received queries to
// per-client workers (or, single-threaded, handle them themselves), each
// worker asks the engine for a reply, makes the lease changes durable, and
// only then sends the reply.
//
// A worker handles every query it has at hand, then hands that batch to
// the flusher and goes on: the flusher writes the lease changes of every
// batch waiting in one commit (one fdatasync), then their replies leave.
// Under load batches grow by themselves; a commit window (group commit)
// gathers them under a steady stream too.
//
// It owns the packet path but no protocol (pkg/dhcp4), no socket details
// (pkg/netio) and no file format (pkg/memfile): those come in through the
// Conn, Journal and engine it is given, so the path is tested without root.
package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/twinleaf/twinleaf/pkg/dhcp4"
	"github.com/twinleaf/twinleaf/pkg/dispatch"
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/logging"
	"github.com/twinleaf/twinleaf/pkg/netio"
)

// MaxPacket is the size of a read buffer: a whole Ethernet frame's IP
// packet, from which the reader keeps the DHCP payload.
const MaxPacket = 1600

// Packet is one received query and the conn it came from. Buffers are
// recycled: a Packet belongs to the server from Read until it is handled.
type Packet struct {
	netio.Packet
	conn netio.Conn
}

// Journal makes lease changes durable; Commit returns only once they are
// on stable storage.
type Journal interface {
	Commit(changes ...lease.Change) error
}

// Config is what a Server needs.
type Config struct {
	Engine  *dhcp4.Engine
	Journal Journal
	Stats   dhcp4.Stats
	Log     hclog.Logger
	// Workers is the number of worker goroutines (thread-pool-size when
	// multi-threading is on) and QueueSize each ring's capacity.
	Workers, QueueSize int
	// Direct handles queries on the reader goroutines, one batch at a
	// time across all conns, with no rings and no worker goroutines:
	// Kea's single-threaded mode. Handing a query from one thread to
	// another costs more CPU than answering it, so without
	// multi-threading there is no hand-off. Workers and QueueSize are
	// then unused.
	//
	// A Direct reader hands each batch to the flusher goroutine, as
	// workers do, and goes on answering (OFFERs need no flush) while the
	// disk works; batches that queue up meanwhile share one flush.
	Direct bool
	// CommitWindow is the shortest time between the starts of two
	// flushes (group commit): each flush is a write and an fdatasync,
	// whose CPU cost barely depends on its size. A commit that comes
	// sooner waits for the window to end and shares its flush with those
	// that arrive meanwhile, so its ACK waits at most this long more; one
	// after a quiet spell is flushed at once. Zero flushes as soon as the
	// disk is free.
	CommitWindow time.Duration
	// ServerAddrs returns the addresses of every socket in use, for the
	// engine's server-identifier check.
	ServerAddrs func() []netip.Addr
	// Ports are the server and client ports (-p, -P).
	Ports netio.Ports
	// AfterCommit, when set, runs for each reply whose lease changes are
	// durable, before the reply goes out (HA's lease updates to the
	// partner). A nil error sends the reply; an error drops it and the
	// client retries, the lease staying committed. Calls run concurrently,
	// one goroutine per parked reply.
	AfterCommit func(changes []lease.Change) error
	// ParkLimit bounds the replies waiting on AfterCommit (Kea's
	// parked-packet-limit); past it replies are dropped. Zero means 256,
	// NoParkLimit (Kea's 0) none.
	ParkLimit int
	// Leases, if set, gets Kea's lease log lines (DHCP4_LEASE_OFFER,
	// DHCP4_LEASE_ALLOC) for every reply sent, so log greps written for
	// kea-dhcp4 keep working; it is Kea's kea-dhcp4.leases logger.
	Leases *logging.Logger
}

// DefaultParkLimit is Kea's parked-packet-limit default.
const DefaultParkLimit = 256

// NoParkLimit is a ParkLimit that never drops a reply for want of a slot:
// Kea's parked-packet-limit 0.
const NoParkLimit = -1

// Server is the running packet path.
type Server struct {
	engine   atomic.Pointer[dhcp4.Engine]
	journal  Journal
	stats    dhcp4.Stats
	log      hclog.Logger
	addrs    func() []netip.Addr
	pool     *dispatch.Pool[Packet]
	ports    netio.Ports
	free     sync.Pool
	outs     sync.Pool // *out
	disabled atomic.Bool
	// direct serialises the readers in Direct mode: one worker at a time.
	direct sync.Mutex
	// batches is each worker's batch; in Direct mode each reader has its own.
	batches []*batch
	// mu guards next, the replies handed off for the next flush, and
	// the flusher's state; work wakes the flusher, taken a reader waiting
	// for room (see handoff).
	mu       sync.Mutex
	work     sync.Cond
	taken    sync.Cond
	next     *batch
	flushing bool // the flusher is awake: it looks at next before it sleeps
	closing  bool
	// closed is closed by Close, ending a commit window at once; flushed
	// is closed when the flusher has finished; spare recycles batches.
	closed  chan struct{}
	flushed chan struct{}
	spare   chan *batch
	window  time.Duration
	leases  *logging.Logger
	readers sync.WaitGroup
	// progress counts handled packets per worker, for Healthy.
	progress []atomic.Uint64
	// after and parked are Config.AfterCommit and its slots; parkedWG
	// lets Close wait for the parked replies.
	after     func([]lease.Change) error
	parked    chan struct{}
	parkedWG  sync.WaitGroup
	closeOnce sync.Once
}

// New starts the workers; add sockets with Serve.
func New(c Config) *Server {
	s := &Server{journal: c.Journal, stats: c.Stats, log: c.Log, addrs: c.ServerAddrs, ports: c.Ports,
		after: c.AfterCommit, leases: c.Leases, window: c.CommitWindow}
	if s.after != nil {
		switch limit := c.ParkLimit; {
		case limit < 0:
			// No limit: park never waits for a slot (nil channel).
		case limit == 0:
			s.parked = make(chan struct{}, DefaultParkLimit)
		default:
			s.parked = make(chan struct{}, limit)
		}
	}
	if s.ports == (netio.Ports{}) {
		s.ports = netio.DefaultPorts
	}
	if s.stats == nil {
		s.stats = dhcp4.StatsFunc(func(string, int64) {})
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.addrs == nil {
		s.addrs = func() []netip.Addr { return nil }
	}
	s.engine.Store(c.Engine)
	s.free.New = func() any { return &Packet{Packet: netio.Packet{Buf: make([]byte, MaxPacket)}} }
	s.outs.New = func() any { return &out{buf: make([]byte, 0, 576)} }
	s.work.L, s.taken.L = &s.mu, &s.mu
	s.closed = make(chan struct{})
	s.flushed = make(chan struct{})
	s.spare = make(chan *batch, 8)
	go s.flusher()
	if c.Direct {
		s.progress = make([]atomic.Uint64, 1)
		return s
	}
	workers := max(c.Workers, 1)
	s.progress = make([]atomic.Uint64, workers)
	s.batches = make([]*batch, workers)
	for w := range s.batches {
		s.batches[w] = &batch{}
	}
	s.pool = dispatch.New(workers, c.QueueSize,
		func(w int, p *Packet) { s.handle(w, p, s.batches[w]) },
		func(w int) { s.batches[w] = s.handoff(s.batches[w]) })
	// A reader answers a query itself when its worker sleeps: handle
	// never blocks (replies waiting on the partner are parked), and
	// waking the worker would cost more than the answer.
	s.pool.SetInline(true)
	return s
}

// SetEngine swaps in a new engine (a reconfiguration); queries already
// queued are answered by whichever engine a worker picks up next.
func (s *Server) SetEngine(e *dhcp4.Engine) { s.engine.Store(e) }

// Engine is the engine in use.
func (s *Server) Engine() *dhcp4.Engine { return s.engine.Load() }

// SetEnabled turns answering on or off (dhcp-disable, HA states); queries
// received while disabled are dropped on receipt, as Kea does.
func (s *Server) SetEnabled(on bool) { s.disabled.Store(!on) }

// Enabled reports whether queries are answered.
func (s *Server) Enabled() bool { return !s.disabled.Load() }

// Serve reads queries from c until it is closed. Each conn gets its own
// reader goroutine and, with workers, its own rings into them.
func (s *Server) Serve(c netio.Conn) {
	s.readers.Add(1)
	if s.pool == nil {
		go s.serveDirect(c)
		return
	}
	pr := s.pool.NewProducer()
	go func() {
		defer s.readers.Done()
		for {
			p, err := s.read(c)
			if err != nil {
				return
			}
			if p == nil || s.dropDisabled(p) {
				continue
			}
			if old := pr.Submit(dispatch.ClientKey(p.Buf[:p.N]), p); old != nil {
				// The worker is behind: the oldest query gives way.
				s.stats.Add("pkt4-queue-full", 1)
				s.stats.Add("pkt4-receive-drop", 1)
				s.free.Put(old)
			}
		}
	}()
}

// serveDirect is Serve without workers: the reader answers each query
// itself and, when the conn has no more waiting (or maxBatch replies wait
// for a flush), hands the batch to the flusher and goes on answering
// (OFFERs need no flush) while the disk works.
func (s *Server) serveDirect(c netio.Conn) {
	defer s.readers.Done()
	b := s.newBatch()
	idle := func() {
		s.direct.Lock()
		b = s.handoff(b)
		s.direct.Unlock()
	}
	ir, _ := c.(netio.IdleReader)
	for {
		p, err := s.readIdle(c, ir, idle)
		if err != nil {
			idle()
			return
		}
		if p == nil {
			continue
		}
		s.direct.Lock()
		if !s.dropDisabled(p) {
			s.handle(0, p, b)
		}
		if ir == nil || len(b.items) >= maxBatch {
			b = s.handoff(b)
		}
		s.direct.Unlock()
	}
}

// handoff adds b's replies to those waiting for the next flush, if it
// holds any, and returns the batch to fill next. It wakes the flusher
// only when the flusher is asleep: one waiting out a commit window, or
// flushing, looks again before it sleeps. When maxPending replies are
// already waiting it blocks until the flusher takes them, so a disk that
// cannot keep up slows the readers instead of filling memory.
func (s *Server) handoff(b *batch) *batch {
	if len(b.items) == 0 {
		return b
	}
	s.mu.Lock()
	for s.next != nil && len(s.next.items) >= maxPending && !s.closing {
		s.taken.Wait()
	}
	if s.next == nil {
		s.next, b = b, nil
	} else {
		s.next.items = append(s.next.items, b.items...)
		clear(b.items)
		b.items = b.items[:0]
	}
	wake := !s.flushing
	s.mu.Unlock()
	if wake {
		s.work.Signal()
	}
	if b == nil {
		return s.newBatch()
	}
	return b
}

// flusher flushes the waiting replies' lease changes, in the order they
// were handed off. With a commit window it starts at most one flush per
// window: replies handed off sooner wait for the window to end and share
// its flush, while one after a quiet spell is flushed at once.
func (s *Server) flusher() {
	defer close(s.flushed)
	var window *time.Timer
	if s.window > 0 {
		window = time.NewTimer(s.window)
		window.Stop()
	}
	var last time.Time // when the previous flush started
	s.mu.Lock()
	for {
		for s.next == nil && !s.closing {
			s.flushing = false
			s.work.Wait()
		}
		if s.next == nil {
			s.mu.Unlock()
			return
		}
		s.flushing = true
		if wait := s.window - time.Since(last); window != nil && wait > 0 && !s.closing {
			s.mu.Unlock()
			window.Reset(wait)
			select {
			case <-window.C:
			case <-s.closed:
				window.Stop()
			}
			s.mu.Lock()
		}
		b := s.next
		s.next = nil
		s.taken.Broadcast()
		s.mu.Unlock()
		last = time.Now()
		s.flush(b)
		s.recycle(b)
		s.mu.Lock()
	}
}

func (s *Server) newBatch() *batch {
	select {
	case b := <-s.spare:
		return b
	default:
		return &batch{}
	}
}

func (s *Server) recycle(b *batch) {
	select {
	case s.spare <- b:
	default:
	}
}

func (s *Server) packet(c netio.Conn) *Packet {
	p := s.free.Get().(*Packet)
	p.conn = c
	return p
}

// read waits for the next query on c. A nil packet with a nil error is a
// failed read, already logged; an error means c is closed.
func (s *Server) read(c netio.Conn) (*Packet, error) {
	return s.readIdle(c, nil, nil)
}

// readIdle is read through ir, when not nil, calling idle whenever c has
// no query waiting.
func (s *Server) readIdle(c netio.Conn, ir netio.IdleReader, idle func()) (*Packet, error) {
	p := s.packet(c)
	var err error
	if ir != nil {
		err = ir.ReadIdle(&p.Packet, idle)
	} else {
		err = c.Read(&p.Packet)
	}
	if err == nil {
		return p, nil
	}
	s.free.Put(p)
	if errors.Is(err, net.ErrClosed) {
		return nil, err
	}
	s.log.Warn("DHCP4_BUFFER_RECEIVE_FAIL error on attempt to receive packet", "error", err)
	time.Sleep(10 * time.Millisecond) // a failing socket must not spin
	return nil, nil
}

// dropDisabled drops p, counting it, while the service is disabled: Kea
// drops such queries on receipt.
func (s *Server) dropDisabled(p *Packet) bool {
	if !s.disabled.Load() {
		return false
	}
	// Counted under Kea 3.1's name; 2.2 did not count these.
	s.stats.Add("pkt4-service-disabled", 1)
	s.stats.Add("pkt4-receive-drop", 1)
	s.free.Put(p)
	return true
}

// Close waits for the readers (their conns must be closed first) and
// then for the workers to finish what is queued. Later calls do nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.readers.Wait()
		if s.pool != nil {
			s.pool.Close()
		}
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		close(s.closed)
		s.work.Signal()
		s.taken.Broadcast()
		<-s.flushed
		s.parkedWG.Wait()
	})
}

// handle answers one query on worker w. A reply that grants or changes a
// lease joins the worker's batch, to be sent once the batch is durable;
// any other reply leaves at once.
func (s *Server) handle(w int, p *Packet, b *batch) {
	s.progress[w].Add(1)
	e := s.engine.Load()
	res := e.HandleBytes(p.Buf[:p.N], dhcp4.Request{
		Iface:       p.Iface,
		IfaceAddrs:  p.IfaceAddrs,
		ServerAddrs: s.addrs(),
		Src:         p.Src,
		SrcMAC:      p.SrcMAC,
		Dst:         p.Dst,
	})
	if len(res.Changes) == 0 {
		s.send(e, p, &res)
		s.release(p)
		return
	}
	b.items = append(b.items, pending{p: p, e: e, res: res})
	// A worker bounds its batch here; a Direct reader's batch is bounded
	// by the queries it reads.
	if s.pool != nil && len(b.items) >= maxBatch {
		s.batches[w] = s.handoff(b)
	}
}

// batch is the replies one worker holds until their lease changes are
// durable.
type batch struct {
	items   []pending
	changes []lease.Change
}

// pending is a reply waiting for its lease changes to be durable.
type pending struct {
	p   *Packet
	e   *dhcp4.Engine
	res dhcp4.Result
}

// Commit makes changes made outside the packet path (lease commands, HA)
// durable through the same journal as the workers' changes, which keeps
// rows in the order they were handed to it.
func (s *Server) Commit(changes ...lease.Change) error {
	return s.journal.Commit(changes...)
}

// flush makes a batch's lease changes durable in one Journal.Commit (one
// fdatasync), and only then sends its replies. If the flush fails, every
// change of the batch is undone, newest first, and the replies are
// dropped: the clients retry.
func (s *Server) flush(b *batch) {
	if len(b.items) == 0 {
		return
	}
	b.changes = b.changes[:0]
	for _, it := range b.items {
		b.changes = append(b.changes, it.res.Changes...)
	}
	err := s.journal.Commit(b.changes...)
	if err != nil {
		s.log.Error("DHCPSRV_MEMFILE_WRITE_FAIL failed to write lease changes; replies dropped", "error", err, "replies", len(b.items))
		for i := len(b.items) - 1; i >= 0; i-- {
			b.items[i].e.Undo(b.items[i].res.Changes)
			s.stats.Add("pkt4-receive-drop", 1)
		}
	}
	for i, it := range b.items {
		switch {
		case err != nil:
			s.release(it.p)
		case s.after != nil:
			s.park(it.e, it.p, it.res)
		default:
			s.send(it.e, it.p, &it.res)
			s.release(it.p)
		}
		b.items[i] = pending{}
	}
	b.items = b.items[:0]
	clear(b.changes)
}

// park holds a durable reply until AfterCommit approves it, on its own
// goroutine so many partner updates are in flight at once. With every
// slot taken the reply is dropped, as Kea drops a packet it cannot park.
func (s *Server) park(e *dhcp4.Engine, p *Packet, res dhcp4.Result) {
	select {
	case s.parked <- struct{}{}:
	default:
		if s.parked == nil {
			break // no limit
		}
		// Kea 2.2's message ID and text, so that greps written for
		// kea-dhcp4 find it; Kea logs it at debug level, twinleaf warns,
		// since each one is a client left without its ACK.
		s.log.Warn(fmt.Sprintf("DHCP4_HOOK_LEASES4_PARKING_LOT_FULL The parked-packet-limit %d, has been reached, dropping query: %s",
			cap(s.parked), queryLabel(res.Reply)))
		s.stats.Add("pkt4-receive-drop", 1)
		s.release(p)
		return
	}
	s.parkedWG.Add(1)
	go func() {
		defer s.parkedWG.Done()
		if s.parked != nil {
			defer func() { <-s.parked }()
		}
		if err := s.after(res.Changes); err != nil {
			if s.log.IsDebug() {
				s.log.Debug("DHCP4_PACKET_DROP reply held back", "reason", err.Error(), "iface", p.Iface, "src", p.Src)
			}
			s.stats.Add("pkt4-receive-drop", 1)
		} else {
			s.send(e, p, &res)
		}
		s.release(p)
	}()
}

// maxBatch bounds the queries a reader or worker answers before it hands
// them off, so their replies are not held back by a long burst.
const maxBatch = 128

// maxPending bounds the replies waiting for one flush (see handoff).
const maxPending = 4 * maxBatch

// send transmits res's reply, if any, on the conn p came in on, and gives
// the reply back to e for reuse.
func (s *Server) send(e *dhcp4.Engine, p *Packet, res *dhcp4.Result) {
	if res.Reply == nil {
		if s.log.IsDebug() {
			s.log.Debug("DHCP4_PACKET_DROP", "reason", res.Reason, "iface", p.Iface, "src", p.Src)
		}
		return
	}
	o := s.outs.Get().(*out)
	defer s.outs.Put(o)
	s.reply(o, p, res)
	if err := p.conn.Send(&o.r); err != nil {
		s.log.Warn("DHCP4_PACKET_SEND_FAIL failed to send DHCPv4 packet", "error", err, "dst", res.Dst)
		return
	}
	s.logLease(res.Reply)
	e.Recycle(res.Reply)
	res.Reply = nil
}

// logLease writes Kea's lease line for an OFFER or an ACK that grants an
// address: "[hwtype=1 aa:bb:cc:dd:ee:ff], cid=[01:aa:...], tid=0x1234:
// lease 192.0.2.100 has been allocated for 3600 seconds".
func (s *Server) logLease(m *dhcpv4.DHCPv4) {
	if s.leases == nil || !s.leases.InfoEnabled() || m.YourIPAddr == nil || m.YourIPAddr.IsUnspecified() {
		return
	}
	client := queryLabel(m)
	yi, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
	switch dhcp4.MessageType(m) {
	case dhcpv4.MessageTypeOffer:
		s.leases.Info("DHCP4_LEASE_OFFER", client, yi)
	case dhcpv4.MessageTypeAck:
		s.leases.Info("DHCP4_LEASE_ALLOC", client, yi, int64(m.IPAddressLeaseTime(0).Seconds()))
	}
}

// queryLabel names the client of reply m as Kea's log lines do:
// "[hwtype=1 aa:bb:cc:dd:ee:ff], cid=[01:aa:...], tid=0x1234".
func queryLabel(m *dhcpv4.DHCPv4) string {
	cid := "no info"
	if b := m.Options.Get(dhcpv4.OptionClientIdentifier); len(b) > 0 {
		cid = net.HardwareAddr(b).String()
	}
	return fmt.Sprintf("[hwtype=%d %s], cid=[%s], tid=0x%x", m.HWType, m.ClientHWAddr, cid, m.TransactionID[:])
}

func (s *Server) release(p *Packet) {
	p.conn = nil
	s.free.Put(p)
}

// out is a reply on its way out, reused through Server.outs: Conn.Send
// keeps neither the Reply nor its payload.
type out struct {
	r   netio.Reply
	buf []byte
}

// reply fills o with r's reply to q, encoded into o's buffer: it turns
// the engine's addressing into netio's. A reply goes out raw to the
// client's MAC when it is sent to the address being handed out to a
// client that does not have it yet (Kea's direct response).
func (s *Server) reply(o *out, q *Packet, r *dhcp4.Result) {
	m := r.Reply
	yi, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
	ci, _ := netip.AddrFromSlice(m.ClientIPAddr.To4())
	toClient := !r.Broadcast && r.Dst.Addr() == yi && (!ci.IsValid() || ci.IsUnspecified()) &&
		(m.GatewayIPAddr == nil || m.GatewayIPAddr.IsUnspecified())
	dst := r.Dst
	// -p and -P move the well-known ports, for tests beside a real server.
	switch dst.Port() {
	case dhcp4.ClientPort:
		dst = netip.AddrPortFrom(dst.Addr(), s.ports.Client)
	case dhcp4.ServerPort:
		dst = netip.AddrPortFrom(dst.Addr(), s.ports.Server)
	}
	o.buf = dhcp4.AppendMarshal(o.buf, m)
	o.r = netio.Reply{Payload: o.buf, Dst: dst, DstMAC: r.DstMAC, Broadcast: r.Broadcast,
		Src: r.Src, ToClient: toClient}
}

// Progress is the number of queries each worker has handled; the watchdog
// compares two readings to tell a stuck worker from an idle one.
func (s *Server) Progress() []uint64 {
	out := make([]uint64, len(s.progress))
	for i := range s.progress {
		out[i] = s.progress[i].Load()
	}
	return out
}

// Backlog is the number of queries waiting for each worker; without
// workers, queries wait in the socket, where they are not counted.
func (s *Server) Backlog() []int {
	if s.pool == nil {
		return []int{0}
	}
	out := make([]int, s.pool.Workers())
	for i := range out {
		out[i] = s.pool.QueueLen(i)
	}
	return out
}
