package config

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strings"
)

// ScopeClass is the client class Kea's HA puts a query in: HA_ and the
// name of the server whose scope the query belongs to. Pools and subnets
// restricted to these classes split a load-balanced pair's addresses.
func ScopeClass(server string) string { return "HA_" + server }

// HA is one high-availability relationship of libdhcp_ha.so, with Kea's
// defaults.
type HA struct {
	Pos                     Pos
	ThisServerName          string
	Mode                    string // load-balancing, hot-standby, passive-backup
	HeartbeatDelay          uint32 // ms
	MaxResponseDelay        uint32 // ms
	MaxAckDelay             uint32 // ms
	MaxUnackedClients       uint32
	MaxRejectedLeaseUpdates uint32
	DelayedUpdatesLimit     uint32
	SendLeaseUpdates        bool
	SyncLeases              bool
	SyncTimeout             uint32 // ms
	SyncPageLimit           uint32
	WaitBackupAck           bool
	RequireClientCerts      bool
	RestrictCommands        bool
	TrustAnchor, CertFile   string
	KeyFile                 string
	MultiThreading          HAMultiThreading
	StateMachine            map[string]string // state -> pause
	Peers                   []Peer
	path                    string

	// MaxRejectedPos is where max-rejected-lease-updates is written (zero
	// when absent): twinleaf accepts it but resolves conflicting lease
	// updates instead of terminating, and says so at start.
	MaxRejectedPos Pos
}

// HAMultiThreading is the HA block's multi-threading map.
type HAMultiThreading struct {
	Enable, DedicatedListener      bool
	ListenerThreads, ClientThreads uint32
}

// Peer is one peers entry.
type Peer struct {
	Pos                                      Pos
	Name                                     string
	URL                                      *url.URL
	Addr                                     netip.AddrPort
	Role                                     string
	AutoFailover                             bool
	BasicAuthUser, BasicAuthPassword         string
	BasicAuthPasswordFile, BasicAuthUserFile string
	TrustAnchor, CertFile, KeyFile           string
	path                                     string
}

var haStates = []string{"backup", "communication-recovery", "hot-standby", "load-balancing", "in-maintenance",
	"partner-down", "partner-in-maintenance", "passive-backup", "ready", "syncing", "terminated", "waiting"}

func (d *dec) ha(n *Node, path string) HA {
	h := HA{Pos: n.Pos, path: path, HeartbeatDelay: 10000, MaxResponseDelay: 60000, MaxAckDelay: 10000, MaxUnackedClients: 10,
		MaxRejectedLeaseUpdates: 10, SendLeaseUpdates: true, SyncLeases: true, SyncTimeout: 60000,
		SyncPageLimit: 10000, RequireClientCerts: true, RestrictCommands: true,
		MultiThreading: HAMultiThreading{Enable: true, DedicatedListener: true}}
	delayed := false
	d.object(n, path, map[string]field{
		"this-server-name":           d.str(&h.ThisServerName),
		"mode":                       d.oneOf(&h.Mode, "load-balancing", "hot-standby", "passive-backup"),
		"heartbeat-delay":            d.u32(&h.HeartbeatDelay, 0, 65535),
		"max-response-delay":         d.u32(&h.MaxResponseDelay, 0, 65535),
		"max-ack-delay":              d.u32(&h.MaxAckDelay, 0, 65535),
		"max-unacked-clients":        d.u32(&h.MaxUnackedClients, 0, math.MaxUint32),
		"max-rejected-lease-updates": d.u32(&h.MaxRejectedLeaseUpdates, 0, math.MaxUint32),
		"delayed-updates-limit":      func(v *Node, p string) { delayed = true; d.u32(&h.DelayedUpdatesLimit, 0, math.MaxUint32)(v, p) },
		"send-lease-updates":         d.boolean(&h.SendLeaseUpdates),
		"sync-leases":                d.boolean(&h.SyncLeases),
		"sync-timeout":               d.u32(&h.SyncTimeout, 0, math.MaxUint32),
		"sync-page-limit":            d.u32(&h.SyncPageLimit, 1, math.MaxUint32),
		"wait-backup-ack":            d.boolean(&h.WaitBackupAck),
		"require-client-certs":       d.boolean(&h.RequireClientCerts),
		"restrict-commands":          d.boolean(&h.RestrictCommands),
		"trust-anchor":               d.str(&h.TrustAnchor),
		"cert-file":                  d.str(&h.CertFile),
		"key-file":                   d.str(&h.KeyFile),
		"multi-threading": func(v *Node, p string) {
			d.object(v, p, map[string]field{
				"enable-multi-threading":  d.boolean(&h.MultiThreading.Enable),
				"http-dedicated-listener": d.boolean(&h.MultiThreading.DedicatedListener),
				"http-listener-threads":   d.u32(&h.MultiThreading.ListenerThreads, 0, 65535),
				"http-client-threads":     d.u32(&h.MultiThreading.ClientThreads, 0, 65535),
			})
		},
		"state-machine": func(v *Node, p string) { h.StateMachine = d.stateMachine(v, p) },
		"peers": func(v *Node, p string) {
			d.list(v, p, func(_ int, e *Node, ep string) { h.Peers = append(h.Peers, d.peer(e, ep)) })
		},
	})
	if n.Kind != Object {
		return h
	}
	if v := n.Get("max-rejected-lease-updates"); v != nil {
		h.MaxRejectedPos = v.Pos
	}
	if !delayed && h.Mode == "load-balancing" {
		h.DelayedUpdatesLimit = 100
	}
	d.validateHA(n, path, &h)
	return h
}

func (d *dec) stateMachine(n *Node, path string) map[string]string {
	m := map[string]string{}
	d.object(n, path, map[string]field{
		"states": func(v *Node, p string) {
			d.list(v, p, func(_ int, e *Node, ep string) {
				var state, pause string
				d.object(e, ep, map[string]field{"state": d.oneOf(&state, haStates...),
					"pause": d.oneOf(&pause, "never", "once", "always")})
				if state != "" {
					m[state] = pause
				}
			})
		},
	})
	return m
}

func (d *dec) peer(n *Node, path string) Peer {
	p := Peer{Pos: n.Pos, AutoFailover: true, path: path}
	var raw string
	d.object(n, path, map[string]field{
		"name":                     d.str(&p.Name),
		"url":                      d.str(&raw),
		"role":                     d.oneOf(&p.Role, "primary", "secondary", "standby", "backup"),
		"auto-failover":            d.boolean(&p.AutoFailover),
		"basic-auth-user":          d.str(&p.BasicAuthUser),
		"basic-auth-user-file":     d.str(&p.BasicAuthUserFile),
		"basic-auth-password":      d.str(&p.BasicAuthPassword),
		"basic-auth-password-file": d.str(&p.BasicAuthPasswordFile),
		"trust-anchor":             d.str(&p.TrustAnchor),
		"cert-file":                d.str(&p.CertFile),
		"key-file":                 d.str(&p.KeyFile),
		// Kea's parser does not read this key inside a peer; the secure
		// template has it there anyway.
		"require-client-certs": d.ignored("require-client-certs has no effect inside a peer; set it on the high-availability entry"),
	})
	if n.Kind != Object {
		return p
	}
	for _, k := range []string{"name", "url", "role"} {
		if n.Get(k) == nil {
			d.errf(n, path, "peer needs %q", k)
		}
	}
	if raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errf(n.Get("url"), path+"/url", "%q is not an http:// or https:// URL", raw)
		} else {
			host, port := u.Hostname(), u.Port()
			a, err := netip.ParseAddr(host)
			if err != nil {
				d.errf(n.Get("url"), path+"/url", "%q: the host must be an IP address, as Kea requires, not a name", raw)
			} else {
				pn := 80
				if u.Scheme == "https" {
					pn = 443
				}
				if port != "" {
					fmt.Sscanf(port, "%d", &pn)
				}
				p.URL, p.Addr = u, netip.AddrPortFrom(a, uint16(pn))
			}
		}
	}
	if strings.Contains(p.BasicAuthUser, ":") {
		d.errf(n.Get("basic-auth-user"), path+"/basic-auth-user", "%q contains ':', which HTTP basic authentication cannot carry in a user name; pick a name without it", p.BasicAuthUser)
	}
	if p.BasicAuthPassword != "" && p.BasicAuthPasswordFile != "" {
		d.errf(n, path, "give basic-auth-password or basic-auth-password-file, not both")
	}
	return p
}

func (d *dec) validateHA(n *Node, path string, h *HA) {
	if h.ThisServerName == "" {
		d.errf(n, path, "\"this-server-name\" is missing; it names this server's entry in peers")
	}
	if h.Mode == "" {
		// A bad value was reported where it stands; only say "missing"
		// when it is.
		if n.Get("mode") == nil {
			d.errf(n, path, "\"mode\" is missing; use hot-standby, load-balancing or passive-backup")
		}
		return
	}
	roles := map[string]int{}
	names := map[string]bool{}
	found := false
	for _, p := range h.Peers {
		roles[p.Role]++
		if names[p.Name] {
			d.errf(n, path+"/peers", "peer name %q is used twice", p.Name)
		}
		names[p.Name] = true
		if p.Name == h.ThisServerName {
			found = true
		}
	}
	if h.ThisServerName != "" && !found {
		d.errf(n.Get("this-server-name"), path+"/this-server-name", "%q is not the name of any peer", h.ThisServerName)
	}
	if roles["primary"] != 1 {
		d.errf(n, path+"/peers", "exactly one peer must have role primary, found %d", roles["primary"])
	}
	switch h.Mode {
	case "hot-standby":
		if roles["standby"] != 1 || roles["secondary"] != 0 {
			d.errf(n, path+"/peers", "hot-standby needs one primary and one standby (and optional backups); found %d standby, %d secondary", roles["standby"], roles["secondary"])
		}
	case "load-balancing":
		if roles["secondary"] != 1 || roles["standby"] != 0 {
			d.errf(n, path+"/peers", "load-balancing needs one primary and one secondary (and optional backups); found %d secondary, %d standby", roles["secondary"], roles["standby"])
		}
	case "passive-backup":
		if roles["standby"]+roles["secondary"] != 0 {
			d.errf(n, path+"/peers", "passive-backup takes a primary and backups only")
		}
	}
	if h.Mode != "load-balancing" && h.DelayedUpdatesLimit != 0 {
		d.errf(n.Get("delayed-updates-limit"), path+"/delayed-updates-limit", "must be 0 in %s mode; the backlog exists only for load-balancing", h.Mode)
	}
	if h.WaitBackupAck && h.Mode != "passive-backup" {
		d.errf(n.Get("wait-backup-ack"), path+"/wait-backup-ack", "only passive-backup mode can wait for backups' acknowledgements")
	}
	for i, p := range h.Peers {
		ta, cf, kf := pick(p.TrustAnchor, h.TrustAnchor), pick(p.CertFile, h.CertFile), pick(p.KeyFile, h.KeyFile)
		set := 0
		for _, f := range []string{ta, cf, kf} {
			if f != "" {
				set++
			}
		}
		pp := fmt.Sprintf("%s/peers[%d]", path, i)
		if set != 0 && set != 3 {
			d.errf(n.Get("peers").Items[i], pp, "TLS needs all three of trust-anchor, cert-file and key-file (here or on the high-availability entry), or none")
		}
		if p.URL != nil && p.URL.Scheme == "https" && set != 3 {
			d.errf(n.Get("peers").Items[i], pp+"/url", "an https:// peer needs trust-anchor, cert-file and key-file")
		}
	}
}

// pick returns the peer's value, else the relationship's: Kea treats an
// empty peer value as unset.
func pick(peer, global string) string {
	if peer != "" {
		return peer
	}
	return global
}

// TLS returns a peer's effective TLS files.
func (h *HA) TLS(p *Peer) (trustAnchor, certFile, keyFile string) {
	return pick(p.TrustAnchor, h.TrustAnchor), pick(p.CertFile, h.CertFile), pick(p.KeyFile, h.KeyFile)
}

// This returns this server's own peer entry.
func (h *HA) This() *Peer {
	for i := range h.Peers {
		if h.Peers[i].Name == h.ThisServerName {
			return &h.Peers[i]
		}
	}
	return nil
}
