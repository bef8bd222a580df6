package netio

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
		err  string
	}{
		{"eth0", Spec{Name: "eth0"}, ""},
		{"*", Spec{Name: "*"}, ""},
		{"eth0/192.0.2.2", Spec{Name: "eth0", Addr: netip.MustParseAddr("192.0.2.2")}, ""},
		{"", Spec{}, "empty name"},
		{"/192.0.2.2", Spec{}, "empty name"},
		{"eth0/2001:db8::1", Spec{}, "not an IPv4 address"},
		{"eth0/", Spec{}, "not an IPv4 address"},
		{"*/192.0.2.2", Spec{}, "takes no address"},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseSpec(%q): error %v, want one naming the entry and saying %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"eth0", "*", "eth0/192.0.2.2", "/", "eth0/::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err == nil && (sp.Name == "" || sp.Addr.IsValid() && !sp.Addr.Is4()) {
			t.Fatalf("ParseSpec(%q) accepted %+v", s, sp)
		}
	})
}

// TestWanted checks how "*" and explicit entries combine: explicit ones
// win, and several addresses on one interface add up.
func TestWanted(t *testing.T) {
	ifaces := []net.Interface{{Name: "lo", Flags: net.FlagLoopback}, {Name: "eth0"}, {Name: "eth1"}}
	spec := func(s string) Spec { sp, _ := ParseSpec(s); return sp }
	a := netip.MustParseAddr
	tests := []struct {
		specs []Spec
		want  map[string][]netip.Addr
	}{
		{[]Spec{spec("*")}, map[string][]netip.Addr{"eth0": nil, "eth1": nil}},
		{[]Spec{spec("eth1/192.0.2.2"), spec("*")}, map[string][]netip.Addr{"eth0": nil, "eth1": {a("192.0.2.2")}}},
		{[]Spec{spec("eth0/192.0.2.2"), spec("eth0/192.0.2.3"), spec("lo")},
			map[string][]netip.Addr{"eth0": {a("192.0.2.2"), a("192.0.2.3")}, "lo": nil}},
		{[]Spec{spec("eth9")}, map[string][]netip.Addr{"eth9": nil}},
	}
	for _, tt := range tests {
		w := NewWatcher(WatchConfig{Specs: tt.specs})
		if got := w.wanted(ifaces); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v: %v, want %v", tt.specs, got, tt.want)
		}
	}
}

// fakeConn stands in for sockets in tests of the watcher's bookkeeping.
type fakeConn struct {
	name   string
	closed atomic.Bool
}

func (c *fakeConn) Read(*Packet) error      { return net.ErrClosed }
func (c *fakeConn) Send(*Reply) error       { return nil }
func (c *fakeConn) Close() error            { c.closed.Store(true); return nil }
func (c *fakeConn) Iface() string           { return c.name }
func (c *fakeConn) SetAddrs([]netip.Prefix) {}

// loopback is the name of an up interface with an IPv4 address that the
// retry tests can name without root; they open no sockets on it.
func loopback(t *testing.T) string {
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback != 0 && ifc.Flags&net.FlagUp != 0 && len(v4Addrs(&ifc, nil)) > 0 {
			return ifc.Name
		}
	}
	t.Fatal("no loopback interface with an IPv4 address")
	return ""
}

// TestWatcherRetries: with service-sockets-max-retries 2, a socket that
// fails twice opens on the third try.
func TestWatcherRetries(t *testing.T) {
	lo := loopback(t)
	var attempts atomic.Int32
	opened := make(chan Conn, 1)
	w := NewWatcher(WatchConfig{
		Specs: []Spec{{Name: lo}},
		Open: func(ifc *net.Interface, _ []netip.Prefix) (Conn, error) {
			if attempts.Add(1) <= 2 {
				return nil, errors.New("address in use")
			}
			return &fakeConn{name: ifc.Name}, nil
		},
		Events:     Events{Open: func(c Conn) { opened <- c }},
		MaxRetries: 2, RetryWait: time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	c := recvWithin(t, opened, "open after retries")
	if c.Iface() != lo || attempts.Load() != 3 {
		t.Errorf("opened %s after %d attempts, want %s after 3", c.Iface(), attempts.Load(), lo)
	}
	if serving, _ := w.Status(); !slices.Equal(serving, []string{lo}) {
		t.Errorf("serving %v", serving)
	}
	cancel()
	if err := recvWithin(t, errc, "return from Run"); err != nil {
		t.Errorf("Run: %v", err)
	}
	if !c.(*fakeConn).closed.Load() {
		t.Error("conn still open after Run returned")
	}
}

// TestWatcherRequireAll: with service-sockets-require-all, Run fails once
// the retries are spent, naming the interface.
func TestWatcherRequireAll(t *testing.T) {
	lo := loopback(t)
	var attempts atomic.Int32
	w := NewWatcher(WatchConfig{
		Specs: []Spec{{Name: lo}},
		Open: func(*net.Interface, []netip.Prefix) (Conn, error) {
			attempts.Add(1)
			return nil, errors.New("permission denied")
		},
		MaxRetries: 1, RetryWait: time.Millisecond, RequireAll: true,
	})
	err := w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), lo) || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Run: %v, want an error naming %s and the cause", err, lo)
	}
	if attempts.Load() != 2 {
		t.Errorf("%d attempts, want 2 (one try, one retry)", attempts.Load())
	}
}
