// Package server runs the DHCPv4 service: readers hand received queries to
// per-client workers, each worker asks the engine for a reply, makes the
// lease changes durable, and only then sends the reply.
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
	// multi-threading is on, else 1) and QueueSize each ring's capacity.
	Workers, QueueSize int
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
	// parked-packet-limit); past it replies are dropped. Zero means 256.
	ParkLimit int
	// Leases, if set, gets Kea's lease log lines (DHCP4_LEASE_OFFER,
	// DHCP4_LEASE_ALLOC) for every reply sent, so log greps written for
	// kea-dhcp4 keep working; it is Kea's kea-dhcp4.leases logger.
	Leases *logging.Logger
}

// DefaultParkLimit is Kea's parked-packet-limit default.
const DefaultParkLimit = 256

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
	disabled atomic.Bool
	// commits carries replies to the committer goroutine; committed is
	// closed when it has finished.
	commits   chan pending
	committed chan struct{}
	leases    *logging.Logger
	readers   sync.WaitGroup
	// progress counts handled packets per worker, for Healthy.
	progress []atomic.Uint64
	// after and parked are Config.AfterCommit and its slots; parkedWG
	// lets Close wait for the parked replies.
	after    func([]lease.Change) error
	parked   chan struct{}
	parkedWG sync.WaitGroup
}

// New starts the workers; add sockets with Serve.
func New(c Config) *Server {
	s := &Server{journal: c.Journal, stats: c.Stats, log: c.Log, addrs: c.ServerAddrs, ports: c.Ports,
		after: c.AfterCommit, leases: c.Leases}
	if s.after != nil {
		limit := c.ParkLimit
		if limit <= 0 {
			limit = DefaultParkLimit
		}
		s.parked = make(chan struct{}, limit)
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
	workers := max(c.Workers, 1)
	s.progress = make([]atomic.Uint64, workers)
	s.commits = make(chan pending, 4*maxBatch)
	s.committed = make(chan struct{})
	go s.commit()
	s.pool = dispatch.New(workers, c.QueueSize, s.handle)
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
// reader goroutine and its own rings into the workers.
func (s *Server) Serve(c netio.Conn) {
	pr := s.pool.NewProducer()
	s.readers.Add(1)
	go func() {
		defer s.readers.Done()
		for {
			p := s.free.Get().(*Packet)
			p.conn = c
			if err := c.Read(&p.Packet); err != nil {
				s.free.Put(p)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				s.log.Warn("DHCP4_BUFFER_RECEIVE_FAIL error on attempt to receive packet", "error", err)
				time.Sleep(10 * time.Millisecond) // a failing socket must not spin
				continue
			}
			if s.disabled.Load() {
				// Counted under Kea 3.1's name; 2.2 did not count these.
				s.stats.Add("pkt4-service-disabled", 1)
				s.stats.Add("pkt4-receive-drop", 1)
				s.free.Put(p)
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

// Close waits for the readers (their conns must be closed first) and
// then for the workers to finish what is queued.
func (s *Server) Close() {
	s.readers.Wait()
	s.pool.Close()
	close(s.commits)
	<-s.committed
	s.parkedWG.Wait()
}

// handle answers one query on worker w. A reply that grants or changes a
// lease is handed to the committer, which sends it once the change is
// durable; the worker goes on with the next query meanwhile.
func (s *Server) handle(w int, p *Packet) {
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
	if len(res.Changes) > 0 {
		s.commits <- pending{p: p, e: e, res: res}
		return
	}
	s.send(p, &res)
	s.release(p)
}

// pending is a reply waiting for its lease changes to be durable, or (p
// nil) changes made elsewhere that want to know when they are.
type pending struct {
	p    *Packet
	e    *dhcp4.Engine
	res  dhcp4.Result
	done chan error
}

// Commit makes changes made outside the packet path (lease commands, HA)
// durable through the same queue as the workers' changes, so the lease
// file keeps the order in which the store changed.
func (s *Server) Commit(changes ...lease.Change) error {
	done := make(chan error, 1)
	s.commits <- pending{res: dhcp4.Result{Changes: changes}, done: done}
	return <-done
}

// commit makes lease changes durable in batches: everything that queued up
// while the previous flush ran goes into one Journal.Commit (one
// fdatasync), and only then are those replies sent. If the flush fails,
// every change of the batch is undone, newest first, and the replies are
// dropped: the clients retry.
func (s *Server) commit() {
	defer close(s.committed)
	var batch []pending
	var changes []lease.Change
	for first := range s.commits {
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxBatch {
			select {
			case next, ok := <-s.commits:
				if !ok {
					break more
				}
				batch = append(batch, next)
			default:
				break more
			}
		}
		changes = changes[:0]
		for _, b := range batch {
			changes = append(changes, b.res.Changes...)
		}
		err := s.journal.Commit(changes...)
		if err != nil {
			s.log.Error("DHCPSRV_MEMFILE_WRITE_FAIL failed to write lease changes; replies dropped", "error", err, "replies", len(batch))
		}
		for i := len(batch) - 1; err != nil && i >= 0; i-- {
			if batch[i].p != nil {
				batch[i].e.Undo(batch[i].res.Changes)
				s.stats.Add("pkt4-receive-drop", 1)
			}
		}
		for i := range batch {
			if b := batch[i]; b.p == nil {
				b.done <- err
			} else if err == nil && s.after != nil {
				s.park(b.p, b.res)
			} else {
				if err == nil {
					s.send(b.p, &b.res)
				}
				s.release(b.p)
			}
			batch[i] = pending{}
		}
	}
}

// park holds a durable reply until AfterCommit approves it, on its own
// goroutine so many partner updates are in flight at once. With every
// slot taken the reply is dropped, as Kea drops a packet it cannot park.
func (s *Server) park(p *Packet, res dhcp4.Result) {
	select {
	case s.parked <- struct{}{}:
	default:
		s.log.Warn("DHCP4_PARKING_LOT_FULL the parked-packet-limit was reached; reply dropped", "limit", cap(s.parked))
		s.stats.Add("pkt4-receive-drop", 1)
		s.release(p)
		return
	}
	s.parkedWG.Add(1)
	go func() {
		defer s.parkedWG.Done()
		defer func() { <-s.parked }()
		if err := s.after(res.Changes); err != nil {
			if s.log.IsDebug() {
				s.log.Debug("DHCP4_PACKET_DROP reply held back", "reason", err.Error(), "iface", p.Iface, "src", p.Src)
			}
			s.stats.Add("pkt4-receive-drop", 1)
		} else {
			s.send(p, &res)
		}
		s.release(p)
	}()
}

// maxBatch bounds one flush's batch so a burst cannot delay the first
// replies behind an unbounded write.
const maxBatch = 512

func (s *Server) send(p *Packet, res *dhcp4.Result) {
	if res.Reply == nil {
		if s.log.IsDebug() {
			s.log.Debug("DHCP4_PACKET_DROP", "reason", res.Reason, "iface", p.Iface, "src", p.Src)
		}
		return
	}
	if err := p.conn.Send(s.reply(p, res)); err != nil {
		s.log.Warn("DHCP4_PACKET_SEND_FAIL failed to send DHCPv4 packet", "error", err, "dst", res.Dst)
		return
	}
	s.logLease(res.Reply)
}

// logLease writes Kea's lease line for an OFFER or an ACK that grants an
// address: "[hwtype=1 aa:bb:cc:dd:ee:ff], cid=[01:aa:...], tid=0x1234:
// lease 192.0.2.100 has been allocated for 3600 seconds".
func (s *Server) logLease(m *dhcpv4.DHCPv4) {
	if s.leases == nil || !s.leases.InfoEnabled() || m.YourIPAddr == nil || m.YourIPAddr.IsUnspecified() {
		return
	}
	cid := "no info"
	if b := m.Options.Get(dhcpv4.OptionClientIdentifier); len(b) > 0 {
		cid = net.HardwareAddr(b).String()
	}
	client := fmt.Sprintf("[hwtype=%d %s], cid=[%s], tid=0x%x", m.HWType, m.ClientHWAddr, cid, m.TransactionID[:])
	yi, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
	switch m.MessageType() {
	case dhcpv4.MessageTypeOffer:
		s.leases.Info("DHCP4_LEASE_OFFER", client, yi)
	case dhcpv4.MessageTypeAck:
		s.leases.Info("DHCP4_LEASE_ALLOC", client, yi, int64(m.IPAddressLeaseTime(0).Seconds()))
	}
}

func (s *Server) release(p *Packet) {
	p.conn = nil
	s.free.Put(p)
}

// reply turns the engine's addressing into netio's. A reply goes out raw
// to the client's MAC when it is sent to the address being handed out to
// a client that does not have it yet (Kea's direct response).
func (s *Server) reply(q *Packet, r *dhcp4.Result) *netio.Reply {
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
	return &netio.Reply{Payload: m.ToBytes(), Dst: dst, DstMAC: r.DstMAC, Broadcast: r.Broadcast,
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

// Backlog is the number of queries waiting for each worker.
func (s *Server) Backlog() []int {
	out := make([]int, s.pool.Workers())
	for i := range out {
		out[i] = s.pool.QueueLen(i)
	}
	return out
}
