//go:build integration

package test

import (
	"strings"
	"testing"
)

// TestLabSegment checks the lab itself: two hosts on the bridge reach each
// other, so a failure in later suites is about DHCP, not the plumbing.
func TestLabSegment(t *testing.T) {
	l := NewLab(t)
	a := l.Host("a", "eth0", "10.231.0.1/24")
	l.Host("b", "eth0", "10.231.0.2/24")
	out := l.In(a, "ping", "-c", "1", "-W", "5", "10.231.0.2")
	if !strings.Contains(out, "1 received") {
		t.Fatalf("ping between lab hosts failed:\n%s", out)
	}
}
