package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// TestPairOverHTTP runs two machines against each other through their
// dedicated listeners and HTTP transports: start-up, a real lease sync,
// hot-standby on both.
func TestPairOverHTTP(t *testing.T) {
	ports := freePorts(t, 2)
	mk := func(self string) config.HA {
		h := haConfig("hot-standby", self)
		h.Peers = h.Peers[1:]
		h.RestrictCommands = true
		for i := range h.Peers {
			port := ports[0]
			if h.Peers[i].Name == "server2" {
				port = ports[1]
			}
			h.Peers[i].Addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
			h.Peers[i].URL = &url.URL{Scheme: "http", Host: h.Peers[i].Addr.String(), Path: "/"}
		}
		return h
	}
	clk := newClock()
	primaryLeases := mapStore{}
	for i := range byte(5) {
		l := testLease(10+i, 1000)
		primaryLeases[l.Addr] = l
	}
	type server struct {
		m     *Machine
		store mapStore
	}
	servers := map[string]*server{}
	for _, name := range []string{"server1", "server2"} {
		h := mk(name)
		tr, err := NewHTTPTransport(h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tr.Close)
		store := mapStore{}
		if name == "server1" {
			store = primaryLeases
		}
		partner := map[string]string{"server1": "server2", "server2": "server1"}[name]
		sync := &LeaseSync{Transport: tr, Partner: partner, Label: partner, ServerName: name, PageLimit: 2,
			Timeout: 5 * time.Second, Store: store}
		m, err := New(Config{HA: h, Now: clk.Now, Transport: tr, Syncer: sync})
		if err != nil {
			t.Fatal(err)
		}
		reg := ctrl.NewRegistry()
		if err := Register(reg, m, sync); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"dhcp-disable", "dhcp-enable"} {
			reg.Register(c, func(context.Context, json.RawMessage) ctrl.Answer { return ctrl.Success("ok", nil) })
		}
		reg.Register("lease4-get-page", pageHandler(store))
		srv, err := Listen(h, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close(time.Second) })
		servers[name] = &server{m, store}
	}
	a, b := servers["server1"].m, servers["server2"].m
	ctx := context.Background()
	for range 10 {
		if a.State() == HotStandby && b.State() == HotStandby {
			break
		}
		clk.Add(10 * time.Second)
		a.Heartbeat(ctx)
		b.Heartbeat(ctx)
	}
	if a.State() != HotStandby || b.State() != HotStandby {
		t.Fatalf("pair at %s/%s", a.State(), b.State())
	}
	if got := len(servers["server2"].store); got != 5 {
		t.Errorf("standby synced %d leases, want 5", got)
	}
	// restrict-commands: a command outside the HA set gets 403.
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/", ports[0]), "application/json", strings.NewReader(`{"command":"config-get"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.TrimSpace(string(body)) != `{"result":403,"text":"Forbidden"}` {
		t.Errorf("config-get on the listener: %d %s", resp.StatusCode, body)
	}
}

// pageHandler is lease4-get-page over a mapStore, as lease_cmds answers.
func pageHandler(store mapStore) ctrl.Handler {
	return func(_ context.Context, raw json.RawMessage) ctrl.Answer {
		var args map[string]any
		json.Unmarshal(raw, &args)
		var all []*lease.Lease
		for _, l := range store {
			all = append(all, l)
		}
		body, _ := pageServer(sortLeases(all))(args)
		var ans []ctrl.Answer
		json.Unmarshal(body, &ans)
		return ans[0]
	}
}

func sortLeases(ls []*lease.Lease) []*lease.Lease {
	slices.SortFunc(ls, func(a, b *lease.Lease) int { return a.Addr.Compare(b.Addr) })
	return ls
}

// freePorts finds n distinct free loopback ports (held open together so
// they differ).
func freePorts(t *testing.T, n int) []uint16 {
	t.Helper()
	var ports []uint16
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, uint16(ln.Addr().(*net.TCPAddr).Port))
	}
	return ports
}
