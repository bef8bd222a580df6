package server

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/twinleaf/twinleaf/pkg/dhcp4"
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/netio"
)

var srvAddr = netip.MustParseAddr("192.0.2.2")

// fakeConn feeds queries to the server and records what it sends, in one
// event log shared with the journal so the test sees their order.
type fakeConn struct {
	in     chan []byte
	burst  chan [][]byte // queries that arrive together
	queued [][]byte      // the rest of the current burst, read without idle
	events *events
	closed chan struct{}
	once   sync.Once
}

type events struct {
	mu  sync.Mutex
	log []string
	got chan struct{}
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
	e.got <- struct{}{}
}

func (c *fakeConn) Read(p *netio.Packet) error { return c.ReadIdle(p, nil) }

// ReadIdle hands out the rest of a burst first; idle runs only when none
// is left, before it waits.
func (c *fakeConn) ReadIdle(p *netio.Packet, idle func()) error {
	if len(c.queued) > 0 {
		fill(p, c.queued[0])
		c.queued = c.queued[1:]
		return nil
	}
	if idle != nil {
		idle()
	}
	select {
	case b := <-c.in:
		fill(p, b)
		return nil
	case bs := <-c.burst:
		fill(p, bs[0])
		c.queued = bs[1:]
		return nil
	case <-c.closed:
		return net.ErrClosed
	}
}

func fill(p *netio.Packet, b []byte) {
	{
		p.N = copy(p.Buf, b)
		p.Iface, p.IfaceAddrs = "eth0", []netip.Prefix{netip.PrefixFrom(srvAddr, 24)}
		p.Src = netip.AddrPortFrom(netip.IPv4Unspecified(), 68)
		p.Dst = netip.AddrFrom4([4]byte{255, 255, 255, 255})
		p.SrcMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	}
}

func (c *fakeConn) Iface() string { return "eth0" }
func (c *fakeConn) Close() error  { return nil }

func (c *fakeConn) Send(r *netio.Reply) error {
	m, err := dhcpv4.FromBytes(r.Payload)
	if err != nil {
		return err
	}
	c.events.add("send " + m.MessageType().String() + " " + m.YourIPAddr.String())
	return nil
}

type fakeJournal struct {
	events *events
	fail   bool
}

func (j *fakeJournal) Commit(changes ...lease.Change) error {
	if j.fail {
		j.events.add("commit failed")
		return errors.New("disk full")
	}
	addrs := make([]string, len(changes))
	for i, c := range changes {
		addrs[i] = c.New.Addr.String()
	}
	j.events.add("commit " + strings.Join(addrs, " "))
	return nil
}

// bothModes runs f with worker goroutines and in Direct mode.
func bothModes(t *testing.T, f func(t *testing.T, direct bool)) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) { f(t, direct) })
	}
}

func setup(t *testing.T, failJournal, direct bool) (*Server, *fakeConn, *events, *lease.Store) {
	t.Helper()
	return setupWith(t, failJournal, direct, nil)
}

// setupWith is setup with a chance to adjust the server's Config.
func setupWith(t *testing.T, failJournal, direct bool, adjust func(*Config, *events)) (*Server, *fakeConn, *events, *lease.Store) {
	t.Helper()
	store := lease.NewStore()
	n := &dhcp4.Network{Subnets: []*dhcp4.Subnet{{
		ID: 1, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Interface: "eth0",
		Pools:         []*dhcp4.Pool{{First: netip.MustParseAddr("192.0.2.100"), Last: netip.MustParseAddr("192.0.2.110")}},
		Valid:         dhcp4.Lifetime{Default: 3600, Min: 3600, Max: 3600},
		MatchClientID: true,
	}}, EchoClientID: true, DirectResponse: true}
	e, err := dhcp4.NewEngine(n, dhcp4.Deps{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{got: make(chan struct{}, 16)}
	j := &fakeJournal{events: ev, fail: failJournal}
	cfg := Config{Engine: e, Journal: j, Workers: 2, QueueSize: 8, Direct: direct}
	if adjust != nil {
		adjust(&cfg, ev)
	}
	s := New(cfg)
	c := &fakeConn{in: make(chan []byte, 4), burst: make(chan [][]byte, 1), events: ev, closed: make(chan struct{})}
	s.Serve(c)
	t.Cleanup(func() { c.shut(); s.Close() })
	return s, c, ev, store
}

// shut closes c once, ending the server's reader.
func (c *fakeConn) shut() { c.once.Do(func() { close(c.closed) }) }

func query(t *testing.T, mt dhcpv4.MessageType, mods ...dhcpv4.Modifier) []byte {
	t.Helper()
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(mt),
		dhcpv4.WithBroadcast(true)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m.ToBytes()
}

// wait waits for n more events (the deadline only guards against a hang).
func (e *events) wait(t *testing.T, n int) []string {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-e.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("waited for %d events, got %v", n, e.log)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

func TestDORAJournalsBeforeACK(t *testing.T) {
	bothModes(t, func(t *testing.T, direct bool) {
		_, c, ev, store := setup(t, false, direct)
		c.in <- query(t, dhcpv4.MessageTypeDiscover)
		got := ev.wait(t, 1)
		if got[0] != "send OFFER 192.0.2.100" {
			t.Fatalf("after DISCOVER: %v", got)
		}
		c.in <- query(t, dhcpv4.MessageTypeRequest,
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(srvAddr.AsSlice())),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 0, 2, 100))))
		got = ev.wait(t, 2)
		if got[1] != "commit 192.0.2.100" || got[2] != "send ACK 192.0.2.100" {
			t.Fatalf("events %v: want the lease committed, then the ACK sent", got)
		}
		if _, ok := store.Get(netip.MustParseAddr("192.0.2.100")); !ok {
			t.Error("ACKed lease not in the store")
		}
	})
}

func TestJournalFailureDropsACKAndUndoes(t *testing.T) {
	bothModes(t, func(t *testing.T, direct bool) {
		_, c, ev, store := setup(t, true, direct)
		c.in <- query(t, dhcpv4.MessageTypeRequest,
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(srvAddr.AsSlice())),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 0, 2, 101))))
		got := ev.wait(t, 1)
		if got[0] != "commit failed" {
			t.Fatalf("events %v", got)
		}
		// Nothing else follows: no ACK. A DISCOVER afterwards proves the
		// worker moved on.
		c.in <- query(t, dhcpv4.MessageTypeDiscover)
		got = ev.wait(t, 1)
		if len(got) != 2 || got[1][:10] != "send OFFER" {
			t.Fatalf("events %v: want no ACK, then an OFFER", got)
		}
		if store.Len() != 0 {
			t.Errorf("store holds %d leases after a failed commit", store.Len())
		}
	})
}

func TestDisabledDropsOnReceipt(t *testing.T) {
	bothModes(t, func(t *testing.T, direct bool) {
		s, c, ev, _ := setup(t, false, direct)
		dropped := make(chan string, 4)
		s.stats = dhcp4.StatsFunc(func(name string, _ int64) {
			if name == "pkt4-service-disabled" {
				dropped <- name
			}
		})
		s.SetEnabled(false)
		c.in <- query(t, dhcpv4.MessageTypeDiscover)
		select {
		case <-dropped:
		case <-time.After(10 * time.Second):
			t.Fatal("a query received while disabled was not dropped")
		}
		s.SetEnabled(true)
		c.in <- query(t, dhcpv4.MessageTypeDiscover)
		got := ev.wait(t, 1)
		if len(got) != 1 || got[0] != "send OFFER 192.0.2.100" {
			t.Errorf("events %v, want exactly one OFFER", got)
		}
	})
}

func request(t *testing.T, mac net.HardwareAddr, ip net.IP) []byte {
	t.Helper()
	return query(t, dhcpv4.MessageTypeRequest, dhcpv4.WithHwAddr(mac),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(srvAddr.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip)))
}

func TestAfterCommit(t *testing.T) {
	bothModes(t, func(t *testing.T, direct bool) {
		for _, tc := range []struct {
			name string
			err  error
			want []string
		}{
			{"acknowledged", nil, []string{"commit 192.0.2.100", "after 192.0.2.100", "send ACK 192.0.2.100"}},
			{"refused", errors.New("partner unavailable"), []string{"commit 192.0.2.100", "after 192.0.2.100"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, c, ev, store := setupWith(t, false, direct, func(cfg *Config, ev *events) {
					cfg.AfterCommit = func(ch []lease.Change) error {
						ev.add("after " + ch[len(ch)-1].New.Addr.String())
						return tc.err
					}
				})
				c.in <- request(t, net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.IPv4(192, 0, 2, 100))
				ev.wait(t, len(tc.want))
				// A DISCOVER from another client shows what followed (an
				// OFFER needs no commit, so it skips AfterCommit).
				c.in <- query(t, dhcpv4.MessageTypeDiscover, dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 9}))
				got := ev.wait(t, 1)
				if want := append(tc.want, "send OFFER 192.0.2.101"); !slices.Equal(got, want) {
					t.Fatalf("events %v, want %v", got, want)
				}
				if _, ok := store.Get(netip.MustParseAddr("192.0.2.100")); !ok {
					t.Error("the lease is not kept locally")
				}
			})
		}
	})
}

func TestAfterCommitParkLimit(t *testing.T) {
	bothModes(t, func(t *testing.T, direct bool) {
		release := make(chan struct{})
		dropped := make(chan struct{}, 4)
		var logged lockedBuffer
		_, c, ev, _ := setupWith(t, false, direct, func(cfg *Config, ev *events) {
			cfg.Log = hclog.New(&hclog.LoggerOptions{Output: &logged})
			cfg.ParkLimit = 1
			cfg.Stats = dhcp4.StatsFunc(func(name string, _ int64) {
				if name == "pkt4-receive-drop" {
					dropped <- struct{}{}
				}
			})
			cfg.AfterCommit = func(ch []lease.Change) error {
				ev.add("after " + ch[len(ch)-1].New.Addr.String())
				<-release
				return nil
			}
		})
		c.in <- request(t, net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.IPv4(192, 0, 2, 100))
		ev.wait(t, 2) // committed, parked
		c.in <- request(t, net.HardwareAddr{2, 0, 0, 0, 0, 2}, net.IPv4(192, 0, 2, 101))
		ev.wait(t, 1) // committed; the only slot is taken
		select {
		case <-dropped:
		case <-time.After(10 * time.Second):
			t.Fatal("the reply past the park limit was not dropped")
		}
		// Kea 2.2's message ID and text, naming the client.
		const line = "DHCP4_HOOK_LEASES4_PARKING_LOT_FULL The parked-packet-limit 1, has been reached, dropping query: [hwtype=1 02:00:00:00:00:02]"
		if got := logged.String(); !strings.Contains(got, line) {
			t.Errorf("log %q lacks %q", got, line)
		}
		close(release)
		got := ev.wait(t, 1)
		want := []string{"commit 192.0.2.100", "after 192.0.2.100", "commit 192.0.2.101", "send ACK 192.0.2.100"}
		if !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
	})
}

// TestBurstIsOneCommit checks that queries that arrive together are
// answered as one batch: their leases go to the journal in one commit,
// and the ACKs leave only after it.
func TestBurstIsOneCommit(t *testing.T) {
	_, c, ev, _ := setup(t, false, true)
	c.burst <- [][]byte{
		request(t, net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.IPv4(192, 0, 2, 100)),
		query(t, dhcpv4.MessageTypeDiscover, dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 3})),
		request(t, net.HardwareAddr{2, 0, 0, 0, 0, 2}, net.IPv4(192, 0, 2, 105)),
	}
	got := ev.wait(t, 4)
	want := []string{"send OFFER 192.0.2.101", "commit 192.0.2.100 192.0.2.105", "send ACK 192.0.2.100", "send ACK 192.0.2.105"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// TestAfterCommitNoParkLimit: with Kea's parked-packet-limit 0 no reply
// is dropped for want of a slot, however many wait at once.
func TestAfterCommitNoParkLimit(t *testing.T) {
	bothModes(t, func(t *testing.T, direct bool) {
		release := make(chan struct{})
		_, c, ev, _ := setupWith(t, false, direct, func(cfg *Config, ev *events) {
			cfg.ParkLimit = NoParkLimit
			cfg.AfterCommit = func(ch []lease.Change) error {
				ev.add("after " + ch[len(ch)-1].New.Addr.String())
				<-release
				return nil
			}
		})
		const n = 3
		for i := range n {
			c.in <- request(t, net.HardwareAddr{2, 0, 0, 0, 0, byte(i + 1)}, net.IPv4(192, 0, 2, byte(100+i)))
			ev.wait(t, 2) // committed, parked: every slot is free
		}
		close(release)
		got := ev.wait(t, n)
		slices.Sort(got)
		var want []string
		for _, what := range []string{"after", "commit", "send ACK"} {
			for i := range n {
				want = append(want, fmt.Sprintf("%s 192.0.2.%d", what, 100+i))
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
	})
}

// TestCommitWindow checks group commit in Direct mode. A REQUEST after a
// quiet spell is flushed at once; two within the window of that flush
// wait for it to end and share one flush, and neither ACK leaves before
// it. The DISCOVER read after them is answered at once, so its OFFER
// shows that the reader has handed both REQUESTs to the flusher. The
// window is an hour, so only the shutdown (which flushes what is queued)
// ends it.
func TestCommitWindow(t *testing.T) {
	s, c, ev, _ := setupWith(t, false, true, func(cfg *Config, _ *events) { cfg.CommitWindow = time.Hour })
	c.in <- request(t, net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.IPv4(192, 0, 2, 100))
	got := ev.wait(t, 2)
	if want := []string{"commit 192.0.2.100", "send ACK 192.0.2.100"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	c.in <- request(t, net.HardwareAddr{2, 0, 0, 0, 0, 2}, net.IPv4(192, 0, 2, 101))
	c.in <- request(t, net.HardwareAddr{2, 0, 0, 0, 0, 3}, net.IPv4(192, 0, 2, 102))
	c.in <- query(t, dhcpv4.MessageTypeDiscover, dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 4}))
	got = ev.wait(t, 1)[2:]
	if want := []string{"send OFFER 192.0.2.103"}; !slices.Equal(got, want) {
		t.Fatalf("events inside the commit window %v, want only %v", got, want)
	}
	c.shut()
	s.Close()
	got = ev.wait(t, 3)[3:]
	want := []string{"commit 192.0.2.101 192.0.2.102", "send ACK 192.0.2.101", "send ACK 192.0.2.102"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// lockedBuffer is a log output the server's goroutines write while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
