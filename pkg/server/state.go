package server

import (
	"sort"
	"sync"
	"time"
)

// Origin says who disabled the DHCP service, numbered as Kea 3.x numbers
// them: 1 the user (dhcp-disable), 1000+ the local HA state machine,
// 2000+ the HA partner, 3000+ a database connection.
type Origin int

// Kea's origin numbers.
const (
	OriginUser      Origin = 1
	OriginHALocal   Origin = 1000
	OriginHARemote  Origin = 2000
	OriginDBConnect Origin = 3000
)

// NetworkState is Kea's network state: the service answers queries only
// while no origin holds it disabled. A disable may carry a max-period
// after which that origin's hold lapses by itself, so a partner that
// disabled us and died cannot keep us silent.
type NetworkState struct {
	mu       sync.Mutex
	disabled map[Origin]*hold
	apply    func(enabled bool)
}

// hold is one origin's disable; its identity tells a lapsing timer whether
// the hold it was armed for is still the current one.
type hold struct{ t *time.Timer }

func (h *hold) stop() {
	if h != nil && h.t != nil {
		h.t.Stop()
	}
}

// NewNetworkState calls apply whenever the service turns on or off.
func NewNetworkState(apply func(enabled bool)) *NetworkState {
	return &NetworkState{disabled: map[Origin]*hold{}, apply: apply}
}

// Disable holds the service off for origin o, for at most maxPeriod (zero:
// until enabled).
func (n *NetworkState) Disable(o Origin, maxPeriod time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.disabled[o].stop()
	h := &hold{}
	if maxPeriod > 0 {
		h.t = time.AfterFunc(maxPeriod, func() { n.expire(o, h) })
	}
	n.disabled[o] = h
	n.apply(false)
}

func (n *NetworkState) expire(o Origin, h *hold) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if cur, ok := n.disabled[o]; ok && cur == h {
		delete(n.disabled, o)
		n.apply(len(n.disabled) == 0)
	}
}

// Enable drops origin o's hold.
func (n *NetworkState) Enable(o Origin) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.disabled[o].stop()
	delete(n.disabled, o)
	n.apply(len(n.disabled) == 0)
}

// Enabled reports whether no origin holds the service off.
func (n *NetworkState) Enabled() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.disabled) == 0
}

// Status is Kea 3.x's status-get "dhcp-state" map.
func (n *NetworkState) Status() map[string]any {
	n.mu.Lock()
	defer n.mu.Unlock()
	var local, remote, db []int
	user := false
	for o := range n.disabled {
		switch {
		case o == OriginUser:
			user = true
		case o >= OriginDBConnect:
			db = append(db, int(o))
		case o >= OriginHARemote:
			remote = append(remote, int(o))
		case o >= OriginHALocal:
			local = append(local, int(o))
		}
	}
	for _, s := range [][]int{local, remote, db} {
		sort.Ints(s)
	}
	return map[string]any{
		"globally-disabled":          len(n.disabled) > 0,
		"disabled-by-user":           user,
		"disabled-by-local-command":  orEmpty(local),
		"disabled-by-remote-command": orEmpty(remote),
		"disabled-by-db-connection":  orEmpty(db),
	}
}

func orEmpty(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}
