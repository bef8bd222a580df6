//go:build integration

package test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Lab is a small Ethernet segment made of network namespaces: a switch
// namespace holding a bridge, and hosts joined to it by veth pairs. Every
// name carries a random tag so parallel or leftover runs never collide, and
// everything is deleted when the test ends.
type Lab struct {
	t      *testing.T
	tag    string
	sw     string // the namespace holding the bridge
	hosts  []string
	Dir    string // scratch directory for configs, lease files and logs
	nextIf int
}

// NewLab builds an empty segment; add hosts with Host.
func NewLab(t *testing.T) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("integration suites need root for network namespaces; run them through `make test` as root")
	}
	b := make([]byte, 3)
	rand.Read(b)
	l := &Lab{t: t, tag: hex.EncodeToString(b), Dir: t.TempDir()}
	l.sw = "tl" + l.tag + "sw"
	t.Cleanup(l.teardown)
	l.addNS(l.sw)
	l.In(l.sw, "ip", "link", "add", "br0", "type", "bridge")
	l.In(l.sw, "ip", "link", "set", "br0", "up")
	l.In(l.sw, "ip", "link", "set", "lo", "up")
	return l
}

// Host adds a namespace named name (prefixed with the lab's tag) with one
// interface, ifname, joined to the bridge; addr, if not empty, is set on it
// in CIDR form. It returns the namespace's full name.
func (l *Lab) Host(name, ifname, addr string) string {
	l.t.Helper()
	ns := "tl" + l.tag + name
	l.addNS(ns)
	l.hosts = append(l.hosts, ns)
	l.In(ns, "ip", "link", "set", "lo", "up")
	l.Link(ns, ifname, addr)
	return ns
}

// Link adds one more interface, ifname, to namespace ns, joined to the
// main bridge, with addr in CIDR form if not empty.
func (l *Lab) Link(ns, ifname, addr string) {
	l.t.Helper()
	l.LinkTo("br0", ns, ifname, addr)
}

// Bridge adds another Ethernet segment to the lab, for a second subnet.
func (l *Lab) Bridge(name string) {
	l.t.Helper()
	l.In(l.sw, "ip", "link", "add", name, "type", "bridge")
	l.In(l.sw, "ip", "link", "set", name, "up")
}

// LinkTo adds interface ifname to namespace ns, joined to bridge, with
// addr in CIDR form if not empty. Tests use it to make an interface appear
// while a daemon runs.
func (l *Lab) LinkTo(bridge, ns, ifname, addr string) {
	l.t.Helper()
	l.nextIf++
	peer := fmt.Sprintf("p%d", l.nextIf)
	tmp := fmt.Sprintf("tl%s%d", l.tag, l.nextIf)
	l.In(ns, "ip", "link", "add", tmp, "type", "veth", "peer", "name", peer, "netns", l.sw)
	l.In(ns, "ip", "link", "set", tmp, "name", ifname)
	l.In(l.sw, "ip", "link", "set", peer, "master", bridge)
	l.In(l.sw, "ip", "link", "set", peer, "up")
	if addr != "" {
		l.In(ns, "ip", "addr", "add", addr, "dev", ifname)
	}
	l.In(ns, "ip", "link", "set", ifname, "up")
}

// addNS creates namespace ns with a private /etc/resolv.conf: `ip netns
// exec` mounts /etc/netns/<ns>/resolv.conf over the host's, so a DHCP
// client's hook that rewrites it (dhcpcd's does) cannot touch the host.
func (l *Lab) addNS(ns string) {
	l.t.Helper()
	dir := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("# twinleaf lab namespace\n"), 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.run("ip", "netns", "add", ns)
}

// In runs a command inside namespace ns and fails the test if it fails.
func (l *Lab) In(ns string, args ...string) string {
	l.t.Helper()
	return l.run(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

// Cmd prepares a command inside namespace ns without running it.
func (l *Lab) Cmd(ns string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
}

// File writes content to name inside the lab's scratch directory and
// returns its path.
func (l *Lab) File(name, content string) string {
	l.t.Helper()
	p := filepath.Join(l.Dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

func (l *Lab) run(args ...string) string {
	l.t.Helper()
	var out bytes.Buffer
	c := exec.Command(args[0], args[1:]...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// teardown kills whatever still runs in the lab's namespaces and deletes
// them; deleting the switch namespace removes the bridge and veth peers.
func (l *Lab) teardown() {
	for _, ns := range append(l.hosts, l.sw) {
		if pids, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, p := range strings.Fields(string(pids)) {
				exec.Command("kill", "-9", p).Run()
			}
		}
		exec.Command("ip", "netns", "del", ns).Run()
		os.RemoveAll(filepath.Join("/etc/netns", ns))
	}
}
