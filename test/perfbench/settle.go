package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// settle waits, up to a minute, until the machine has been quiet (at
// least 90% idle) for half a second, and returns how long it waited. The
// kernel tears a deleted network namespace down in the background, and
// after a Kea pair's run (thousands of HTTP connections closed) that
// work ran into the next run: twinleaf's pair right after Kea's dropped
// 5.4% and 12.9% of ACKs at 10,000/s, against 0.5-2.6% after its own
// runs. Each run's load starts from a quiet machine instead.
func settle() time.Duration {
	start := time.Now()
	quiet := 0
	busy0, total0 := cpuTicks()
	for time.Since(start) < time.Minute && quiet < 2 {
		time.Sleep(250 * time.Millisecond)
		busy, total := cpuTicks()
		if total > total0 && float64(busy-busy0)/float64(total-total0) <= 0.10 {
			quiet++
		} else {
			quiet = 0
		}
		busy0, total0 = busy, total
	}
	return time.Since(start)
}

// cpuTicks is the machine's busy and total CPU time so far, in ticks
// (/proc/stat's first line; idle and iowait count as not busy).
func cpuTicks() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}
