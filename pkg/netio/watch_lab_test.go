package netio

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
)

// change is an Events.Change call.
type change struct {
	iface string
	addrs []netip.Prefix
}

// watchLab runs a watcher of specs in the lab's server namespace, opening
// raw conns, and returns channels of its events.
func watchLab(t *testing.T, l *lab, specs ...string) (*Watcher, chan Conn, chan change, chan string) {
	var sp []Spec
	for _, s := range specs {
		x, err := ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		sp = append(sp, x)
	}
	opened, changed, closed := make(chan Conn, 16), make(chan change, 16), make(chan string, 16)
	w := NewWatcher(WatchConfig{
		Specs: sp,
		Open: func(ifc *net.Interface, addrs []netip.Prefix) (Conn, error) {
			return ListenRaw(ifc, addrs, DefaultPorts)
		},
		Events: Events{
			Open:   func(c Conn) { opened <- c },
			Change: func(iface string, addrs []netip.Prefix) { changed <- change{iface, addrs} },
			Close:  func(iface string) { closed <- iface },
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	goIn(l.sns, func() { errc <- w.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		if err := recvWithin(t, errc, "return from Run"); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w, opened, changed, closed
}

// TestWatcherLifecycle follows one interface through the watcher: created
// after start-up, served, given a second address, taken down and up,
// deleted.
func TestWatcherLifecycle(t *testing.T) {
	l := newLab(t)
	w, opened, changed, closed := watchLab(t, l, "*")

	l.link("tl1", "10.200.2.1/24")
	c := recvWithin(t, opened, "conn for an interface created after start-up")
	if c.Iface() != "tl1" {
		t.Fatalf("opened %s, want tl1", c.Iface())
	}
	// The new conn hears a client on the new link.
	st := l.station("tl1c")
	st.send(broadcastMAC, udpPacket("0.0.0.0:68", "255.255.255.255:67", []byte("discover")))
	p := Packet{Buf: make([]byte, 1500)}
	if err := c.Read(&p); err != nil {
		t.Fatal(err)
	}
	if string(p.Buf[:p.N]) != "discover" || !slices.Equal(p.IfaceAddrs, []netip.Prefix{netip.MustParsePrefix("10.200.2.1/24")}) {
		t.Errorf("read %q with addresses %v", p.Buf[:p.N], p.IfaceAddrs)
	}

	l.ip("-n", l.server, "addr", "add", "10.200.2.9/24", "dev", "tl1")
	want := []netip.Prefix{netip.MustParsePrefix("10.200.2.1/24"), netip.MustParsePrefix("10.200.2.9/24")}
	if ch := recvWithin(t, changed, "address change"); ch.iface != "tl1" || !slices.Equal(ch.addrs, want) {
		t.Errorf("change %s %v, want tl1 %v", ch.iface, ch.addrs, want)
	}
	if got := w.IfaceAddrs("tl1"); !slices.Equal(got, want) {
		t.Errorf("IfaceAddrs(tl1) = %v, want %v", got, want)
	}
	if got := c.(*RawConn).Addrs(); !slices.Equal(got, want) {
		t.Errorf("conn addresses %v, want %v", got, want)
	}
	if got := w.Addrs(); !slices.Equal(got, []netip.Addr{want[0].Addr(), want[1].Addr()}) {
		t.Errorf("Addrs() = %v", got)
	}

	l.ip("-n", l.server, "link", "set", "tl1", "down")
	if name := recvWithin(t, closed, "close when the link goes down"); name != "tl1" {
		t.Errorf("closed %s, want tl1", name)
	}
	if _, missing := w.Status(); missing["tl1"] != "is down" {
		t.Errorf("status of tl1: %q", missing["tl1"])
	}
	l.ip("-n", l.server, "link", "set", "tl1", "up")
	c = recvWithin(t, opened, "conn when the link comes back up")

	readErr := make(chan error, 1)
	go func() {
		p := Packet{Buf: make([]byte, 1500)}
		for {
			// A vanishing interface may report an error before the
			// watcher closes the conn; only the close ends the loop.
			if err := c.Read(&p); errors.Is(err, net.ErrClosed) {
				readErr <- err
				return
			}
		}
	}()
	l.ip("-n", l.server, "link", "del", "tl1")
	if name := recvWithin(t, closed, "close on deletion"); name != "tl1" {
		t.Errorf("closed %s, want tl1", name)
	}
	recvWithin(t, readErr, "Read returning net.ErrClosed after deletion")
	// The conn may close on the addresses' removal, which the kernel
	// announces before the link's: the watcher forgets tl1 at the scan
	// that follows the link's event.
	forgotten := func() bool {
		serving, missing := w.Status()
		return len(serving) == 0 && len(missing) == 0 && w.IfaceAddrs("tl1") == nil && len(w.Addrs()) == 0
	}
	if !eventually(forgotten) {
		serving, missing := w.Status()
		t.Errorf("after deletion: serving %v, missing %v, addrs %v", serving, missing, w.Addrs())
	}
}

// TestWatcherAddressSpec: "tl1/10.200.2.9" is served only once that
// address appears, and only with it.
func TestWatcherAddressSpec(t *testing.T) {
	l := newLab(t)
	l.link("tl1", "10.200.2.1/24")
	w, opened, _, _ := watchLab(t, l, "tl1/10.200.2.9")
	l.ip("-n", l.server, "addr", "add", "10.200.2.9/24", "dev", "tl1")
	c := recvWithin(t, opened, "conn once the configured address appears")
	want := []netip.Prefix{netip.MustParsePrefix("10.200.2.9/24")}
	if c.Iface() != "tl1" || !slices.Equal(c.(*RawConn).Addrs(), want) || !slices.Equal(w.IfaceAddrs("tl1"), want) {
		t.Errorf("opened %s with %v, want tl1 with %v", c.Iface(), c.(*RawConn).Addrs(), want)
	}
}

// TestWatcherTwoInterfaces: "*" serves every link, each with its own
// sockets on the same port, each hearing only its own clients.
func TestWatcherTwoInterfaces(t *testing.T) {
	l := newLab(t)
	l.link("tl1", "10.200.2.1/24")
	l.link("tl2", "10.200.3.1/24")
	_, opened, _, _ := watchLab(t, l, "*")
	conns := map[string]Conn{}
	for range 2 {
		c := recvWithin(t, opened, "a conn per interface")
		conns[c.Iface()] = c
	}
	if conns["tl1"] == nil || conns["tl2"] == nil {
		t.Fatalf("opened %v, want tl1 and tl2", conns)
	}
	for _, name := range []string{"tl2", "tl1"} {
		l.station(name+"c").send(broadcastMAC, udpPacket("0.0.0.0:68", "255.255.255.255:67", []byte("from "+name)))
	}
	for _, name := range []string{"tl1", "tl2"} {
		p := Packet{Buf: make([]byte, 1500)}
		if err := conns[name].Read(&p); err != nil {
			t.Fatal(err)
		}
		if got := string(p.Buf[:p.N]); got != "from "+name || p.Iface != name {
			t.Errorf("%s read %q on %s", name, got, p.Iface)
		}
	}
}
