package netio

import (
	"context"
	"fmt"
	"net"
	"net/netip"
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
		return Spec{}, fmt.Errorf("interface %q: empty name", s)
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

// Opener opens the conn for an interface; ListenRaw and ListenUDP fit.
type Opener func(iface *net.Interface, addrs []netip.Prefix) (Conn, error)

// addrSetter is implemented by conns that can take new addresses in place.
type addrSetter interface{ SetAddrs([]netip.Prefix) }

// Watcher keeps one conn open per configured interface that exists, is up
// and has an IPv4 address, reacting to netlink link and address events:
// an interface that appears late, comes up or changes address is served
// without a restart; one that goes away is closed.
type Watcher struct {
	specs   []Spec
	open    Opener
	onOpen  func(Conn)
	log     hclog.Logger
	retry   time.Duration
	mu      sync.Mutex
	conns   map[string]*entry
	missing map[string]string // interface -> why it is not served
	// addrs is every served address, rebuilt on each scan and read on
	// the packet path without a lock.
	addrs atomic.Pointer[[]netip.Addr]
}

type entry struct {
	conn  Conn
	index int
	addrs []netip.Prefix
}

// NewWatcher returns a watcher for specs. onOpen is called with every conn
// it opens (the server starts reading it); conns it closes end their
// reader with net.ErrClosed. retry is how often an interface whose socket
// failed to open is tried again (service-sockets-retry-wait-time).
func NewWatcher(specs []Spec, open Opener, onOpen func(Conn), log hclog.Logger, retry time.Duration) *Watcher {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if retry <= 0 {
		retry = 5 * time.Second
	}
	w := &Watcher{specs: specs, open: open, onOpen: onOpen, log: log, retry: retry,
		conns: map[string]*entry{}, missing: map[string]string{}}
	w.addrs.Store(&[]netip.Addr{})
	return w
}

// Run scans now, then on every link or address change until ctx ends,
// when it closes every conn.
func (w *Watcher) Run(ctx context.Context) error {
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{}); err != nil {
		return fmt.Errorf("netio: watching links: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{}); err != nil {
		return fmt.Errorf("netio: watching addresses: %w", err)
	}
	w.Scan()
	tick := time.NewTicker(w.retry)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			w.closeAll()
			return nil
		case <-links:
		case <-addrs:
		case <-tick.C:
			if !w.needsRetry() {
				continue
			}
		}
		drain(links, addrs)
		w.Scan()
	}
}

// drain swallows queued events: one scan covers them all.
func drain(links chan netlink.LinkUpdate, addrs chan netlink.AddrUpdate) {
	for {
		select {
		case <-links:
		case <-addrs:
		default:
			return
		}
	}
}

func (w *Watcher) needsRetry() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.missing) > 0
}

// Scan brings the open conns in line with the interfaces as they are now.
func (w *Watcher) Scan() {
	ifaces, err := net.Interfaces()
	if err != nil {
		w.log.Error("DHCP4_IFACE_DETECT_FAIL failed to list interfaces", "error", err)
		return
	}
	want := map[string]Spec{}
	for _, sp := range w.specs {
		if sp.Name == "*" {
			for _, ifc := range ifaces {
				if ifc.Flags&net.FlagLoopback == 0 {
					want[ifc.Name] = Spec{Name: ifc.Name}
				}
			}
			continue
		}
		want[sp.Name] = sp
	}
	byName := map[string]net.Interface{}
	for _, ifc := range ifaces {
		byName[ifc.Name] = ifc
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.snapshot()
	for name, e := range w.conns {
		if _, ok := want[name]; !ok {
			w.close(name, e, "no longer configured")
		}
	}
	w.missing = map[string]string{}
	for name, sp := range want {
		ifc, ok := byName[name]
		var addrs []netip.Prefix
		why := ""
		switch {
		case !ok:
			why = "does not exist"
		case ifc.Flags&net.FlagUp == 0:
			why = "is down"
		default:
			addrs = v4Addrs(&ifc, sp.Addr)
			if len(addrs) == 0 {
				why = "has no usable IPv4 address"
			}
		}
		e := w.conns[name]
		if why != "" {
			if e != nil {
				w.close(name, e, why)
			}
			w.missing[name] = why
			continue
		}
		if e != nil && e.index == ifc.Index {
			if !samePrefixes(e.addrs, addrs) {
				if s, ok := e.conn.(addrSetter); ok {
					s.SetAddrs(addrs)
					e.addrs = addrs
					w.log.Info("DHCPSRV_IFACE_ADDRESS_CHANGED serving interface with new addresses", "iface", name, "addrs", addrs)
				}
			}
			continue
		}
		if e != nil {
			w.close(name, e, "was replaced")
		}
		c, err := w.open(&ifc, addrs)
		if err != nil {
			w.missing[name] = err.Error()
			w.log.Warn("DHCPSRV_OPEN_SOCKET_FAIL failed to open socket", "iface", name, "error", err)
			continue
		}
		w.conns[name] = &entry{conn: c, index: ifc.Index, addrs: addrs}
		w.log.Info("DHCPSRV_IFACE_OPENED serving interface", "iface", name, "addrs", addrs)
		w.onOpen(c)
	}
}

func (w *Watcher) close(name string, e *entry, why string) {
	e.conn.Close()
	delete(w.conns, name)
	w.log.Info("DHCPSRV_IFACE_CLOSED stopped serving interface", "iface", name, "reason", why)
}

func (w *Watcher) closeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, e := range w.conns {
		w.close(name, e, "shutting down")
	}
	w.snapshot()
}

// Close closes every conn; the watcher must not be running.
func (w *Watcher) Close() { w.closeAll() }

// v4Addrs lists an interface's IPv4 addresses, or only want if given.
func v4Addrs(ifc *net.Interface, want netip.Addr) []netip.Prefix {
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
		if want.IsValid() && ip != want {
			continue
		}
		ones, _ := ipn.Mask.Size()
		out = append(out, netip.PrefixFrom(ip, ones))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr().Less(out[j].Addr()) })
	return out
}

func samePrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// snapshot publishes the served addresses; w.mu is held.
func (w *Watcher) snapshot() {
	var out []netip.Addr
	for _, e := range w.conns {
		for _, p := range e.addrs {
			out = append(out, p.Addr())
		}
	}
	w.addrs.Store(&out)
}

// Addrs is every address the open conns serve, for the server-identifier
// check. It is a shared snapshot: callers must not modify it.
func (w *Watcher) Addrs() []netip.Addr { return *w.addrs.Load() }

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
