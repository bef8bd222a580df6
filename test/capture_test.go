//go:build integration

package test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Capture decodes DHCP traffic on an interface with tshark as it happens,
// so a test can check what really crossed the wire.
//
// tshark hands packets over in blocks, so the last packets before a stop
// may not have been decoded yet. Messages therefore makes the namespace send
// an ARP request for an unused address (the sentinel) and waits until tshark
// has decoded it: everything before it has been decoded too.
type Capture struct {
	t        *testing.T
	l        *Lab
	ns       string
	sentinel string
	cmd      *exec.Cmd
	mu       sync.Mutex
	lines    []string
	done     chan struct{}
}

// StartCapture starts tshark on ifname in namespace ns; sentinel is an
// unused address on that interface's subnet.
func StartCapture(t *testing.T, l *Lab, ns, ifname, sentinel string) *Capture {
	t.Helper()
	c := &Capture{t: t, l: l, ns: ns, sentinel: sentinel, done: make(chan struct{})}
	c.cmd = l.Cmd(ns, "tshark", "-l", "-i", ifname, "-f", "udp port 67 or udp port 68 or arp",
		"-T", "fields", "-E", "separator=|",
		"-e", "dhcp.option.dhcp", "-e", "ip.src", "-e", "ip.dst", "-e", "eth.dst",
		"-e", "dhcp.ip.client", "-e", "dhcp.ip.your", "-e", "dhcp.ip.relay",
		"-e", "dhcp.option.requested_ip_address", "-e", "dhcp.option.dhcp_server_id",
		"-e", "arp.dst.proto_ipv4")
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting tshark: %v", err)
	}
	t.Cleanup(c.stop)
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
	}()
	waitCapturing(t, stderr)
	// Capturing has begun once the first sentinel is seen.
	c.sync()
	return c
}

func (c *Capture) stop() {
	if c.cmd.Process != nil && c.cmd.ProcessState == nil {
		c.cmd.Process.Signal(os.Interrupt)
		c.cmd.Wait()
	}
}

// sync sends sentinel ARP requests until tshark reports one, so every
// packet sent before the call has been decoded.
func (c *Capture) sync() {
	c.t.Helper()
	seen := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, l := range c.lines {
			if strings.HasSuffix(l, "|"+c.sentinel) {
				return true
			}
		}
		return false
	}
	c.mu.Lock()
	n := len(c.lines)
	c.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		// The ping fails (nobody has the address); its ARP request is the sentinel.
		exec.Command("ip", "netns", "exec", c.ns, "ping", "-c", "1", "-W", "1", c.sentinel).Run()
		if seen() {
			c.mu.Lock()
			// Drop sentinel lines so later syncs look for fresh ones.
			var keep []string
			for i, l := range c.lines {
				if i < n || !strings.HasSuffix(l, "|"+c.sentinel) {
					keep = append(keep, l)
				}
			}
			c.lines = keep
			c.mu.Unlock()
			return
		}
	}
	c.t.Fatal("tshark never reported the sentinel ARP request")
}

// Message is one DHCP message as tshark decoded it.
type Message struct {
	Type           string // DISCOVER, OFFER, REQUEST, ACK, NAK, RELEASE, DECLINE, INFORM
	Src, Dst       string // IP addresses
	DstMAC         string
	CIAddr, YIAddr string
	GIAddr         string
	Requested      string // option 50
	ServerID       string // option 54
}

var dhcpTypes = map[string]string{"1": "DISCOVER", "2": "OFFER", "3": "REQUEST", "4": "DECLINE",
	"5": "ACK", "6": "NAK", "7": "RELEASE", "8": "INFORM"}

// Messages returns every DHCP message seen so far.
func (c *Capture) Messages() []Message {
	c.t.Helper()
	c.sync()
	c.mu.Lock()
	defer c.mu.Unlock()
	var msgs []Message
	for _, line := range c.lines {
		f := strings.Split(line, "|")
		if len(f) < 9 || f[0] == "" {
			continue
		}
		msgs = append(msgs, Message{Type: dhcpTypes[f[0]], Src: f[1], Dst: f[2], DstMAC: f[3],
			CIAddr: f[4], YIAddr: f[5], GIAddr: f[6], Requested: f[7], ServerID: f[8]})
	}
	return msgs
}

// waitCapturing waits until tshark, whose stderr is given, says it is
// capturing, and then drains stderr. The deadline only guards a hang.
func waitCapturing(t *testing.T, stderr io.Reader) {
	t.Helper()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "Capturing on") {
				once = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("tshark did not start capturing")
	}
}
