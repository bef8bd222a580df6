package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The load generator's socket. perfdhcp reads its replies from a socket
// with the kernel's default receive buffer, 208 KiB on Debian 12. On a
// two-core machine that perfdhcp and the servers fill, perfdhcp is
// sometimes off the CPU long enough for that buffer to fill: at 10,000
// leases/s against a twinleaf pair, 1,550 replies in a 10 s run were
// dropped in the client namespace, and perfdhcp counted them as the
// server's drops, more than half of all it counted. The bench therefore
// raises net.core.rmem_default while it runs (the default buffer of every
// socket opened meanwhile: perfdhcp's, and Kea's too; twinleaf's packet
// ring is sized by twinleaf), restores it after, and prints the overflows
// that remain for each run.

const (
	rmemDefault = "/proc/sys/net/core/rmem_default"
	rmemMax     = "/proc/sys/net/core/rmem_max"
)

// raiseRcvbuf sets net.core.rmem_default to n bytes, and rmem_max too
// if it is lower, and returns what puts both back.
func raiseRcvbuf(n int) (restore func(), err error) {
	oldDefault, err := readSysctl(rmemDefault)
	if err != nil {
		return nil, err
	}
	oldMax, err := readSysctl(rmemMax)
	if err != nil {
		return nil, err
	}
	if oldMax < n {
		if err := writeSysctl(rmemMax, n); err != nil {
			return nil, err
		}
	}
	if err := writeSysctl(rmemDefault, n); err != nil {
		writeSysctl(rmemMax, oldMax)
		return nil, err
	}
	fmt.Printf("net.core.rmem_default %d for the benchmark (was %d; restored after)\n", n, oldDefault)
	return func() {
		writeSysctl(rmemDefault, oldDefault)
		writeSysctl(rmemMax, oldMax)
	}, nil
}

func readSysctl(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

func writeSysctl(path string, n int) error {
	return os.WriteFile(path, []byte(strconv.Itoa(n)), 0o644)
}

// rcvbufErrors is the Udp RcvbufErrors counter of namespace ns: datagrams
// dropped because a socket's receive buffer was full. 0 if unreadable.
func rcvbufErrors(ns string) int {
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		return 0
	}
	var names []string
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "RcvbufErrors" && i < len(f) {
				n, _ := strconv.Atoi(f[i])
				return n
			}
		}
	}
	return 0
}
