package server

import (
	"testing"
	"time"
)

func TestNetworkState(t *testing.T) {
	var calls []bool
	n := NewNetworkState(func(on bool) { calls = append(calls, on) })
	n.Disable(OriginUser, 0)
	n.Disable(OriginHARemote, 0)
	if n.Enabled() {
		t.Fatal("enabled with two holds")
	}
	n.Enable(OriginUser)
	if n.Enabled() {
		t.Fatal("enabled while the partner still holds it")
	}
	st := n.Status()
	if st["disabled-by-user"] != false || len(st["disabled-by-remote-command"].([]int)) != 1 || st["globally-disabled"] != true {
		t.Errorf("status %v", st)
	}
	n.Enable(OriginHARemote)
	if !n.Enabled() || calls[len(calls)-1] != true {
		t.Fatalf("not enabled after both holds were dropped; calls %v", calls)
	}
}

func TestNetworkStateMaxPeriod(t *testing.T) {
	done := make(chan bool, 4)
	n := NewNetworkState(func(on bool) { done <- on })
	n.Disable(OriginUser, 10*time.Millisecond)
	if <-done {
		t.Fatal("Disable turned the service on")
	}
	select {
	case on := <-done:
		if !on || !n.Enabled() {
			t.Fatal("max-period did not re-enable the service")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("max-period never lapsed")
	}
}
