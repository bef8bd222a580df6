//go:build integration

package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Client is a real DHCP client (dhclient, udhcpc or dhcpcd) running in its
// own lab namespace. Its hook script records every event it reports as one
// line in an events file: "REASON ip=... mask=... routers=... dns=...".
type Client struct {
	t      *testing.T
	l      *Lab
	Kind   string
	NS     string
	Iface  string
	MAC    string
	dir    string
	events string
	cmd    *exec.Cmd
}

// NewClient adds a namespace with one interface (named uniquely, since
// dhcpcd keys its control socket and lease file by interface name) with the
// given MAC address, and prepares the client's hook script.
func NewClient(t *testing.T, l *Lab, kind, name, mac string) *Client {
	t.Helper()
	iface := "c" + name
	ns := l.Host(name, iface, "")
	l.In(ns, "ip", "link", "set", iface, "address", mac)
	c := &Client{t: t, l: l, Kind: kind, NS: ns, Iface: iface, MAC: mac}
	c.dir = filepath.Join(l.Dir, "client-"+name)
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c.events = filepath.Join(c.dir, "events")
	if err := os.WriteFile(c.script(), []byte(hookScript(kind, c.events)), 0o755); err != nil {
		t.Fatal(err)
	}
	c.forgetDhcpcd()
	t.Cleanup(func() { c.Stop(); c.forgetDhcpcd() })
	return c
}

// forgetDhcpcd removes what dhcpcd keeps per interface name outside the
// namespace (its lease and control socket), so an earlier run's lease does
// not turn this run's first exchange into an INIT-REBOOT.
func (c *Client) forgetDhcpcd() {
	if c.Kind != "dhcpcd" {
		return
	}
	os.Remove(filepath.Join("/var/lib/dhcpcd", c.Iface+".lease"))
	for _, suffix := range []string{".pid", ".sock", ".unpriv.sock"} {
		os.Remove(filepath.Join("/run/dhcpcd", c.Iface+"-4"+suffix))
	}
}

func (c *Client) script() string    { return filepath.Join(c.dir, "hook") }
func (c *Client) leaseFile() string { return filepath.Join(c.dir, "dhclient.leases") }

// hookScript is the client's script. It configures the address the way the
// distribution's scripts would (so renewals can be unicast) and logs the
// event in one normalised line.
func hookScript(kind, events string) string {
	switch kind {
	case "dhclient":
		return `#!/bin/sh
case "$reason" in
PREINIT) ip link set "$interface" up ;;
BOUND|RENEW|REBIND|REBOOT)
  if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then ip addr flush dev "$interface"; fi
  ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
EXPIRE|FAIL|RELEASE|STOP) ip addr flush dev "$interface" ;;
esac
echo "$reason ip=$new_ip_address mask=$new_subnet_mask routers=$new_routers dns=$new_domain_name_servers" >> ` + events + "\n"
	case "udhcpc":
		return `#!/bin/sh
case "$1" in
deconfig) ip addr flush dev "$interface" ;;
bound|renew) ip addr replace "$ip/$subnet" dev "$interface" ;;
esac
echo "$(echo $1 | tr a-z A-Z) ip=$ip mask=$subnet routers=$router dns=$dns" >> ` + events + "\n"
	case "dhcpcd":
		// dhcpcd configures the address itself; the hook only records.
		return `#!/bin/sh
echo "$reason ip=$new_ip_address mask=$new_subnet_mask routers=$new_routers dns=$new_domain_name_servers" >> ` + events + "\n"
	}
	panic("unknown client " + kind)
}

// Start runs the client in the background until it is stopped.
func (c *Client) Start(extra ...string) {
	c.t.Helper()
	var args []string
	switch c.Kind {
	case "dhclient":
		args = append([]string{"dhclient", "-d", "-v", "-sf", c.script(), "-lf", c.leaseFile(),
			"-pf", filepath.Join(c.dir, "dhclient.pid")}, extra...)
		args = append(args, c.Iface)
	case "udhcpc":
		args = append([]string{"udhcpc", "-f", "-i", c.Iface, "-s", c.script(), "-t", "20", "-T", "1", "-A", "1"}, extra...)
	case "dhcpcd":
		args = append([]string{"dhcpcd", "-B", "-4", "--noarp", "--noipv4ll", "-f", "/dev/null",
			"-c", c.script(), "-t", "0"}, extra...)
		args = append(args, c.Iface)
	}
	c.cmd = c.l.Cmd(c.NS, args...)
	out, err := os.Create(filepath.Join(c.dir, "output"))
	if err != nil {
		c.t.Fatal(err)
	}
	c.cmd.Stdout, c.cmd.Stderr = out, out
	if err := c.cmd.Start(); err != nil {
		c.t.Fatalf("starting %s: %v", c.Kind, err)
	}
}

// Event is one line of the events file.
type Event struct {
	Reason                 string
	IP, Mask, Routers, DNS string
}

// Events returns every event recorded so far.
func (c *Client) Events() []Event {
	b, _ := os.ReadFile(c.events)
	var evs []Event
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		ev := Event{Reason: f[0]}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "ip":
				ev.IP = v
			case "mask":
				ev.Mask = v
			case "routers":
				ev.Routers = v
			case "dns":
				ev.DNS = v
			}
		}
		// dns may hold several space-separated servers.
		if i := strings.Index(line, "dns="); i >= 0 {
			ev.DNS = strings.TrimSpace(line[i+4:])
		}
		evs = append(evs, ev)
	}
	return evs
}

// WaitEvent waits until an event with one of the reasons appears after
// the first `after` events, and returns it with its index. The deadline
// guards against a hang; it asserts nothing about speed.
func (c *Client) WaitEvent(after int, reasons ...string) (Event, int) {
	c.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		evs := c.Events()
		for i := after; i < len(evs); i++ {
			for _, r := range reasons {
				if evs[i].Reason == r {
					return evs[i], i
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("%s in %s: no %v event after #%d; events: %+v\nclient output:\n%s", c.Kind, c.NS, reasons, after, c.Events(), c.Output())
	return Event{}, 0
}

// Output is what the client printed.
func (c *Client) Output() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "output"))
	return string(b)
}

// Bound waits for the client's first address.
func (c *Client) Bound() Event {
	c.t.Helper()
	ev, _ := c.WaitEvent(0, "BOUND")
	return ev
}

// Renew asks the running client to renew now (udhcpc: SIGUSR1; dhcpcd: -N).
// dhclient has no such command: it renews by itself at T1, which the lab
// config keeps short.
func (c *Client) Renew() {
	c.t.Helper()
	switch c.Kind {
	case "udhcpc":
		c.cmd.Process.Signal(syscall.SIGUSR1)
	case "dhcpcd":
		c.l.In(c.NS, "dhcpcd", "-N", c.Iface)
	}
}

// Release makes the client send DHCPRELEASE and stop.
func (c *Client) Release() {
	c.t.Helper()
	switch c.Kind {
	case "dhclient":
		c.l.In(c.NS, "dhclient", "-r", "-sf", c.script(), "-lf", c.leaseFile(),
			"-pf", filepath.Join(c.dir, "dhclient.pid"), c.Iface)
	case "udhcpc":
		// udhcpc also deconfigures at start-up; wait for the one after
		// the release.
		n := len(c.Events())
		c.cmd.Process.Signal(syscall.SIGUSR2)
		c.WaitEvent(n, "DECONFIG")
	case "dhcpcd":
		c.l.In(c.NS, "dhcpcd", "-k", c.Iface)
	}
	c.Stop()
}

// Stop ends the client without releasing.
func (c *Client) Stop() {
	if c.cmd == nil || c.cmd.Process == nil || c.cmd.ProcessState != nil {
		return
	}
	if c.Kind == "dhcpcd" {
		exec.Command("ip", "netns", "exec", c.NS, "dhcpcd", "-x", c.Iface).Run()
	}
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s/%s routers=%s dns=%s", e.Reason, e.IP, e.Mask, e.Routers, e.DNS)
}
