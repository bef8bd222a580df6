package netio

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/vishvananda/netlink"
)

// Spec is one entry of interfaces-config.interfaces: "eth0", "eth0/192.0.2.2"
// (serve eth0 using only that address) or "*" (every interface but
// loopback).
type Spec struct {
	Name string
	Addr netip.Addr // valid only for the name/address form
}

// ParseSpec reads one interfaces entry.
func ParseSpec(s string) (Spec, error) {
	name, addr, ok := strings.Cut(s, "/")
	if name == "" {
		return Spec{}, fmt.Errorf("interface %q: empty name; use a name such as \"eth0\", \"eth0/192.0.2.2\" or \"*\"", s)
	}
	if name == "*" && ok {
		return Spec{}, fmt.Errorf("interface %q: \"*\" takes no address", s)
	}
	sp := Spec{Name: name}
	if ok {
		a, err := netip.ParseAddr(addr)
		if err != nil || !a.Is4() {
			return Spec{}, fmt.Errorf("interface %q: %q is not an IPv4 address", s, addr)
		}
		sp.Addr = a
	}
	return sp, nil
}

// Opener opens the conn for an interface and its addresses; ListenRaw and
// ListenUDP, given ports, fit.
type Opener func(iface *net.Interface, addrs []netip.Prefix) (Conn, error)

// Events are the watcher's calls to the daemon, made from Run's goroutine
// one at a time and without the watcher's lock held; they must not block.
type Events struct {
	// Open hands over a newly opened conn: serve it (read it until it
	// returns net.ErrClosed). An interface whose index changed (deleted
	// and re-created) gets a new conn.
	Open func(c Conn)
	// Change says a served interface's addresses changed; its conn
	// already reports the new ones.
	Change func(iface string, addrs []netip.Prefix)
	// Close says the interface is no longer served; its conn is closed.
	Close func(iface string)
}

// WatchConfig says what the watcher serves and how it treats failures to
// open sockets, after Kea's interfaces-config.
type WatchConfig struct {
	Specs  []Spec
	Open   Opener
	Events Events
	Log    hclog.Logger
	// MaxRetries is service-sockets-max-retries: how many more times a
	// socket that failed to open is tried, RetryWait apart
	// (service-sockets-retry-wait-time, 5s if zero).
	MaxRetries int
	RetryWait  time.Duration
	// RequireAll is service-sockets-require-all: Run fails once an
	// interface's socket still cannot be opened after the retries.
	RequireAll bool
}

// addrSetter is implemented by conns that can take new addresses in place.
type addrSetter interface{ SetAddrs([]netip.Prefix) }

// Watcher keeps one conn open per configured interface that exists, is up
// and has an IPv4 address, reacting to netlink link and address events:
// an interface that appears late, comes up or changes address is served
// without a restart; one that goes down or away is closed.
//
// Unlike Kea, a configured interface that does not exist is not an error:
// it is waited for. Only failing to open sockets counts against
// MaxRetries and RequireAll; a failed interface gets a fresh set of
// retries when netlink reports it changed.
type Watcher struct {
	cfg     WatchConfig
	mu      sync.Mutex
	conns   map[string]*entry
	missing map[string]string   // interface -> why it is not served
	failed  map[string]*failure // interfaces whose sockets failed to open
	// addrs is every served address, rebuilt on each scan and read on
	// the packet path without a lock.
	addrs atomic.Pointer[[]netip.Addr]
}

type entry struct {
	conn  Conn
	index int
	addrs []netip.Prefix
}

// failure is an interface whose sockets did not open, in the state it
// was in then: a change of that state earns it a fresh try.
type failure struct {
	index    int
	addrs    []netip.Prefix
	attempts int
	err      error
}

// NewWatcher returns a watcher; Run starts it.
func NewWatcher(cfg WatchConfig) *Watcher {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 5 * time.Second
	}
	w := &Watcher{cfg: cfg, conns: map[string]*entry{}, missing: map[string]string{}, failed: map[string]*failure{}}
	w.addrs.Store(&[]netip.Addr{})
	return w
}

// Run subscribes to link and address changes, opens what can be served
// now, then follows the changes until ctx ends, when it closes every conn
// and returns nil. With RequireAll it returns an error once a socket
// cannot be opened after MaxRetries retries, having closed every conn.
// Netlink sockets and interface sockets are opened in the network
// namespace of the thread calling Run.
func (w *Watcher) Run(ctx context.Context) error {
	sub, err := subscribe()
	if err != nil {
		return err
	}
	defer func() { sub.close() }()
	retry := time.NewTimer(w.cfg.RetryWait)
	retry.Stop()
	defer retry.Stop()
	retrying := false
	scan := func(isRetry bool) error {
		pending, err := w.scan(isRetry)
		if err != nil {
			w.closeAll()
			return err
		}
		if pending && !retrying {
			retry.Reset(w.cfg.RetryWait)
			retrying = true
		}
		return nil
	}
	if err := scan(false); err != nil {
		return err
	}
	for {
		isRetry := false
		lost := false
		select {
		case <-ctx.Done():
			w.closeAll()
			return nil
		case _, ok := <-sub.links:
			lost = !ok
		case _, ok := <-sub.addrs:
			lost = !ok
		case <-retry.C:
			retrying, isRetry = false, true
		}
		if lost || !sub.drain() {
			// The kernel dropped events (a full socket buffer ends the
			// subscription): subscribe again and rescan, as the
			// interfaces may have changed unseen.
			w.cfg.Log.Warn("DHCPSRV_IFACE_WATCH netlink subscription lost, resubscribing")
			next, err := subscribe()
			if err != nil {
				w.closeAll()
				return err
			}
			sub.close()
			sub = next
		}
		if err := scan(isRetry); err != nil {
			return err
		}
	}
}

// subscription is a pair of netlink feeds, links and addresses. Their
// contents do not matter: any event means "scan again".
type subscription struct {
	links chan netlink.LinkUpdate
	addrs chan netlink.AddrUpdate
	done  chan struct{}
}

func subscribe() (*subscription, error) {
	s := &subscription{links: make(chan netlink.LinkUpdate, 64), addrs: make(chan netlink.AddrUpdate, 64), done: make(chan struct{})}
	if err := netlink.LinkSubscribeWithOptions(s.links, s.done, netlink.LinkSubscribeOptions{}); err != nil {
		close(s.done)
		return nil, fmt.Errorf("netio: watching links: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(s.addrs, s.done, netlink.AddrSubscribeOptions{}); err != nil {
		close(s.done)
		go func() {
			for range s.links {
			}
		}()
		return nil, fmt.Errorf("netio: watching addresses: %w", err)
	}
	return s, nil
}

// drain swallows queued events, since one scan covers them all; false
// means a feed has ended.
func (s *subscription) drain() bool {
	for {
		select {
		case _, ok := <-s.links:
			if !ok {
				return false
			}
		case _, ok := <-s.addrs:
			if !ok {
				return false
			}
		default:
			return true
		}
	}
}

// close ends the subscription, reading the feeds until netlink's
// goroutines close them so that none stays blocked on a send.
func (s *subscription) close() {
	close(s.done)
	go func() {
		for range s.links {
		}
	}()
	go func() {
		for range s.addrs {
		}
	}()
}

// wanted maps each configured interface present in ifaces (or named
// explicitly) to the addresses it is limited to, nil meaning all.
// Explicit entries override "*".
func (w *Watcher) wanted(ifaces []net.Interface) map[string][]netip.Addr {
	want := map[string][]netip.Addr{}
	for _, sp := range w.cfg.Specs {
		if sp.Name != "*" {
			continue
		}
		for _, ifc := range ifaces {
			if ifc.Flags&net.FlagLoopback == 0 {
				want[ifc.Name] = nil
			}
		}
	}
	explicit := map[string]bool{}
	for _, sp := range w.cfg.Specs {
		if sp.Name == "*" {
			continue
		}
		if !explicit[sp.Name] {
			want[sp.Name] = nil
			explicit[sp.Name] = true
		}
		if sp.Addr.IsValid() {
			want[sp.Name] = append(want[sp.Name], sp.Addr)
		}
	}
	return want
}

// event is a call to Events, made once the lock is released.
type event struct {
	open   Conn
	change string
	close  string
	addrs  []netip.Prefix
}

// scan brings the open conns in line with the interfaces as they are now
// and reports whether a failed socket is due another try. isRetry allows
// retrying failed sockets whose interface has not changed.
func (w *Watcher) scan(isRetry bool) (pending bool, err error) {
	ifaces, lerr := net.Interfaces()
	if lerr != nil {
		w.cfg.Log.Error("DHCP4_IFACE_DETECT_FAIL failed to list interfaces", "error", lerr)
		return false, nil
	}
	var events []event
	defer func() { w.emit(events) }()
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.snapshot()

	want := w.wanted(ifaces)
	byName := map[string]net.Interface{}
	for _, ifc := range ifaces {
		byName[ifc.Name] = ifc
	}
	for name, e := range w.conns {
		if _, ok := want[name]; !ok {
			events = append(events, w.close(name, e, "no longer configured"))
		}
	}
	w.missing = map[string]string{}
	for name, only := range want {
		ifc, ok := byName[name]
		var addrs []netip.Prefix
		why := ""
		switch {
		case !ok:
			why = "does not exist"
		case ifc.Flags&net.FlagUp == 0:
			why = "is down"
		default:
			addrs = v4Addrs(&ifc, only)
			if len(addrs) == 0 {
				why = "has no usable IPv4 address"
			}
		}
		e := w.conns[name]
		if why != "" {
			if e != nil {
				events = append(events, w.close(name, e, why))
			}
			delete(w.failed, name)
			w.missing[name] = why
			continue
		}
		if e != nil && e.index == ifc.Index {
			if !slices.Equal(e.addrs, addrs) {
				if s, ok := e.conn.(addrSetter); ok {
					s.SetAddrs(addrs)
					e.addrs = addrs
					w.cfg.Log.Info("DHCPSRV_IFACE_ADDRESS_CHANGED serving interface with new addresses", "iface", name, "addrs", addrs)
					events = append(events, event{change: name, addrs: addrs})
				} else {
					events = append(events, w.close(name, e, "changed address"))
					e = nil
				}
			}
			if e != nil {
				continue
			}
		}
		if e != nil {
			events = append(events, w.close(name, e, "was replaced"))
		}
		f := w.failed[name]
		if f != nil && f.index == ifc.Index && slices.Equal(f.addrs, addrs) {
			if !isRetry || f.attempts > w.cfg.MaxRetries {
				w.missing[name] = f.err.Error()
				continue
			}
		} else {
			f = &failure{index: ifc.Index, addrs: addrs}
		}
		c, oerr := w.cfg.Open(&ifc, addrs)
		if oerr != nil {
			f.attempts++
			f.err = oerr
			w.failed[name] = f
			w.missing[name] = oerr.Error()
			if f.attempts > w.cfg.MaxRetries {
				w.cfg.Log.Error("DHCPSRV_OPEN_SOCKET_FAIL failed to open socket, giving up", "iface", name, "attempts", f.attempts, "error", oerr)
				if w.cfg.RequireAll {
					err = fmt.Errorf("netio: opening sockets on %s failed %d times, last: %w (service-sockets-require-all is true)", name, f.attempts, oerr)
				}
			} else {
				w.cfg.Log.Warn("DHCPSRV_OPEN_SOCKET_FAIL failed to open socket, will retry", "iface", name, "attempts", f.attempts, "retry-wait", w.cfg.RetryWait, "error", oerr)
				pending = true
			}
			continue
		}
		delete(w.failed, name)
		w.conns[name] = &entry{conn: c, index: ifc.Index, addrs: addrs}
		w.cfg.Log.Info("DHCPSRV_IFACE_OPENED serving interface", "iface", name, "addrs", addrs)
		events = append(events, event{open: c})
	}
	for name := range w.failed {
		if _, ok := want[name]; !ok {
			delete(w.failed, name)
		}
	}
	return pending, err
}

// emit makes the Events calls a scan decided on.
func (w *Watcher) emit(events []event) {
	ev := w.cfg.Events
	for _, e := range events {
		switch {
		case e.open != nil && ev.Open != nil:
			ev.Open(e.open)
		case e.change != "" && ev.Change != nil:
			ev.Change(e.change, e.addrs)
		case e.close != "" && ev.Close != nil:
			ev.Close(e.close)
		}
	}
}

// close closes a served interface's conn; w.mu is held.
func (w *Watcher) close(name string, e *entry, why string) event {
	if err := e.conn.Close(); err != nil {
		w.cfg.Log.Warn("DHCPSRV_IFACE_CLOSE_FAIL closing sockets", "iface", name, "error", err)
	}
	delete(w.conns, name)
	w.cfg.Log.Info("DHCPSRV_IFACE_CLOSED stopped serving interface", "iface", name, "reason", why)
	return event{close: name}
}

func (w *Watcher) closeAll() {
	var events []event
	w.mu.Lock()
	for name, e := range w.conns {
		events = append(events, w.close(name, e, "shutting down"))
	}
	w.snapshot()
	w.mu.Unlock()
	w.emit(events)
}

// v4Addrs lists an interface's IPv4 addresses, sorted, limited to only
// if it is not empty.
func v4Addrs(ifc *net.Interface, only []netip.Addr) []netip.Prefix {
	as, err := ifc.Addrs()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, a := range as {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || !ip.Unmap().Is4() {
			continue
		}
		ip = ip.Unmap()
		if len(only) > 0 && !slices.Contains(only, ip) {
			continue
		}
		ones, _ := ipn.Mask.Size()
		out = append(out, netip.PrefixFrom(ip, ones))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr().Less(out[j].Addr()) })
	return out
}

// snapshot publishes the served addresses; w.mu is held.
func (w *Watcher) snapshot() {
	var out []netip.Addr
	for _, e := range w.conns {
		for _, p := range e.addrs {
			out = append(out, p.Addr())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	w.addrs.Store(&out)
}

// Addrs is every address the open conns serve, for the server-identifier
// check. It is a shared snapshot: callers must not modify it.
func (w *Watcher) Addrs() []netip.Addr { return *w.addrs.Load() }

// IfaceAddrs is the addresses a served interface is served with, or nil
// if it is not served.
func (w *Watcher) IfaceAddrs(name string) []netip.Prefix {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.conns[name]; e != nil {
		return slices.Clone(e.addrs)
	}
	return nil
}

// Status lists the interfaces served and those configured but not served,
// with why, for status-get and sd_notify STATUS=.
func (w *Watcher) Status() (serving []string, missing map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for name := range w.conns {
		serving = append(serving, name)
	}
	sort.Strings(serving)
	missing = map[string]string{}
	for k, v := range w.missing {
		missing[k] = v
	}
	return serving, missing
}
