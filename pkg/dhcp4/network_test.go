package dhcp4

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// A Kea configuration goes through pkg/config and NewNetwork into an
// engine that serves as the configuration says.
func TestNewNetwork(t *testing.T) {
	const file = "testdata/site.conf"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNetwork(&cfg.Dhcp4)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := n.Subnets[0], n.Subnets[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"subnet 1 valid", s1.Valid, Lifetime{Default: 600, Min: 300, Max: 900}},
		{"subnet 2 valid (own)", s2.Valid, Lifetime{Default: 1200, Min: 1200, Max: 1200}},
		{"subnet 1 T1 (global)", s1.T1, Timer{Set: true, Secs: 150}},
		{"subnet 2 T2 (shared network)", s2.T2, Timer{Set: true, Secs: 800}},
		{"subnet 1 match-client-id", s1.MatchClientID, true},
		{"subnet 2 match-client-id (shared network)", s2.MatchClientID, false},
		{"subnet 1 authoritative (global)", s1.Authoritative, true},
		{"subnet 1 allocator", s1.Allocator.String(), "flq"},
		{"cache threshold default", s1.CacheThreshold, 0.25},
		{"affinity", n.Affinity, true},
		{"probation", n.DeclineProbation, 600 * time.Second},
		{"shared network", s2.Network != nil && s2.Network.Name == "floor2" && s2.Network.Subnets[0] == s2, true},
		{"identifiers", len(n.HostIdentifiers), 2},
		{"subnet 1 reservations", len(s1.Reservations), 1},
		{"global reservations", len(n.Reservations), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	e, err := NewEngine(n, Deps{Store: lease.NewStore(), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	res := e.Handle(direct(pkt(dhcpv4.MessageTypeDiscover, macA, withPRL(optRouters, optDNS))))
	if res.Reply == nil {
		t.Fatalf("no offer: %s", res.Reason)
	}
	if got := addr4(res.Reply.YourIPAddr).String(); got != "192.0.2.10" {
		t.Errorf("reserved client offered %s, want 192.0.2.10", got)
	}
	if got := res.Reply.Options[optDNS]; !bytes.Equal(got, append(ip("192.0.2.53"), ip("192.0.2.54")...)) {
		t.Errorf("dns = %v", got)
	}
	if got := res.Reply.Options[optRouters]; !bytes.Equal(got, ip("192.0.2.1")) {
		t.Errorf("routers = %v", got)
	}
}

// Every configuration shipped in the repository compiles into an engine.
func TestNewNetworkShippedConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.conf")
	lab, _ := filepath.Glob("../../configs/lab/*.conf")
	files = append(files, lab...)
	if len(files) == 0 {
		t.Fatal("no configs found under ../../configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := config.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			n, err := NewNetwork(&cfg.Dhcp4)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewEngine(n, Deps{Store: lease.NewStore()}); err != nil {
				t.Fatal(err)
			}
			if len(n.Subnets) == 0 {
				t.Error("no subnets")
			}
		})
	}
}
