package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// settle waits, up to a minute, until the machine has been quiet (at
// least 90% idle) for half a second, and returns how long it waited.
// Right after a Kea pair's run, twinleaf's pair dropped 5.4% and 12.9% of
// ACKs at 10,000/s, against 0.5-2.6% after its own runs, and 1.2% after
// Kea's once it waited so. The likely cause, not measured, is the
// kernel tearing the deleted namespaces down in the background (Kea's
// pair leaves thousands of closed HTTP connections). Each run's load
// starts from a quiet machine instead.
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
// (idle and iowait count as not busy).
func cpuTicks() (busy, total uint64) {
	for i, n := range cpuStat() {
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// stealSeconds is the steal time of all cores so far: time the hypervisor
// ran something else while this machine had work.
func stealSeconds() float64 {
	if f := cpuStat(); len(f) > 7 {
		return float64(f[7]) / 100 // USER_HZ
	}
	return 0
}

// cpuStat is /proc/stat's first line, the times of all cores in ticks:
// user, nice, system, idle, iowait, irq, softirq, steal, ... nil if
// unreadable.
func cpuStat() []uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "cpu" {
		return nil
	}
	out := make([]uint64, len(f)-1)
	for i, v := range f[1:] {
		out[i], _ = strconv.ParseUint(v, 10, 64)
	}
	return out
}
