//go:build kea

package ha

import (
	"context"
	"encoding/json"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// TestKea pairs twinleaf with Kea 2.2 (kea-dhcp4 behind kea-ctrl-agent,
// as 2.2 needs) in each arrangement and checks that both reach the normal
// state, that maintenance works through Kea, and that twinleaf takes
// over when Kea dies. Run as root with Kea 2.2 installed:
//
//	go test -tags kea -run TestKea ./pkg/ha/
func TestKea(t *testing.T) {
	tests := []struct {
		mode, self string
		normal     State
	}{
		{"hot-standby", "server1", HotStandby},
		{"hot-standby", "server2", HotStandby},
		{"load-balancing", "server1", LoadBalancing},
		{"load-balancing", "server2", LoadBalancing},
	}
	for _, tt := range tests {
		t.Run(tt.mode+" "+tt.self, func(t *testing.T) { testKea(t, tt.mode, tt.self, tt.normal) })
	}
}

func testKea(t *testing.T, mode, self string, normal State) {
	for _, bin := range []string{"/usr/sbin/kea-dhcp4", "/usr/sbin/kea-ctrl-agent"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	ports := freePorts(t, 2) // ours, the control agent's
	dir := t.TempDir()
	ours := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[0])
	ca := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[1])
	keaName, keaRole, ourRole := "server2", "standby", "primary"
	if mode == "load-balancing" {
		keaRole = "secondary"
	}
	if self == "server2" {
		keaName, keaRole, ourRole = "server1", "primary", keaRole
	}
	sock := filepath.Join(dir, "kea4.sock")
	hooks := "/usr/lib/x86_64-linux-gnu/kea/hooks/"
	dhcp4 := `{ "Dhcp4": {
  "interfaces-config": { "interfaces": [] },
  "control-socket": { "socket-type": "unix", "socket-name": "` + sock + `" },
  "lease-database": { "type": "memfile", "persist": true, "name": "` + filepath.Join(dir, "leases4.csv") + `" },
  "hooks-libraries": [ { "library": "` + hooks + `libdhcp_lease_cmds.so" },
    { "library": "` + hooks + `libdhcp_ha.so", "parameters": { "high-availability": [ {
        "this-server-name": "` + keaName + `", "mode": "` + mode + `", "heartbeat-delay": 1000, "max-response-delay": 5000,
        "peers": [ { "name": "` + self + `", "url": "http://` + ours.String() + `/", "role": "` + ourRole + `" },
                   { "name": "` + keaName + `", "url": "http://` + ca.String() + `/", "role": "` + keaRole + `" } ] } ] } } ],
  "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.10 - 192.0.2.100" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "` + filepath.Join(dir, "kea4.log") + `" } ], "severity": "INFO" } ] } }`
	agent := `{ "Control-agent": { "http-host": "127.0.0.1", "http-port": ` + strings.TrimPrefix(ca.String(), "127.0.0.1:") + `,
  "control-sockets": { "dhcp4": { "socket-type": "unix", "socket-name": "` + sock + `" } } } }`
	start := func(bin, name, conf string) *exec.Cmd {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-c", path)
		cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	kea := start("/usr/sbin/kea-dhcp4", "dhcp4.json", dhcp4)
	start("/usr/sbin/kea-ctrl-agent", "ca.json", agent)

	h := haConfig(mode, self)
	h.Peers = h.Peers[1:]
	// No DHCP traffic here, so a serving standby fails over on the
	// heartbeat timeout alone.
	h.HeartbeatDelay, h.MaxResponseDelay, h.MaxUnackedClients = 1000, 5000, 0
	for i := range h.Peers {
		ap := ours
		if h.Peers[i].Name == keaName {
			ap = ca
		}
		h.Peers[i].Addr, h.Peers[i].URL = ap, &url.URL{Scheme: "http", Host: ap.String(), Path: "/"}
	}
	tr, err := NewHTTPTransport(h)
	if err != nil {
		t.Fatal(err)
	}
	store := mapStore{}
	sync := &LeaseSync{Transport: tr, Partner: keaName, Label: keaName, Version: Kea22, ServerName: self,
		PageLimit: 100, Timeout: 10 * time.Second, Store: store}
	m, err := New(Config{HA: h, Version: Kea22, Transport: tr, Syncer: sync})
	if err != nil {
		t.Fatal(err)
	}
	reg := ctrl.NewRegistry()
	if err := Register(reg, m, sync); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"dhcp-disable", "dhcp-enable"} {
		reg.Register(c, func(context.Context, json.RawMessage) ctrl.Answer { return ctrl.Success("ok", nil) })
	}
	reg.Register("lease4-get-page", pageHandler(store))
	srv, err := Listen(h, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(time.Second)

	ctx := context.Background()
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		m.Heartbeat(ctx)
		if m.State() == normal && m.PartnerState() == normal {
			break
		}
		time.Sleep(time.Second)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "kea4.log"))
	if m.State() != normal || m.PartnerState() != normal {
		t.Fatalf("twinleaf %s, Kea %s\nKea's log:\n%s", m.State(), m.PartnerState(), log)
	}
	if !strings.Contains(string(log), "HA_STATE_TRANSITION server transitions from READY to "+strings.ToUpper(normal.String())+" state") {
		t.Errorf("Kea's log lacks its move to hot-standby:\n%s", log)
	}
	// Maintenance through Kea: it goes in-maintenance, then back.
	if a := m.MaintenanceStart(ctx); a.Result != 0 || m.State() != PartnerInMaintenance {
		t.Fatalf("maintenance start against Kea: %+v, %s", a, m.State())
	}
	if a := m.MaintenanceCancel(ctx); a.Result != 0 || m.State() != normal {
		t.Fatalf("maintenance cancel against Kea: %+v, %s", a, m.State())
	}
	log, _ = os.ReadFile(filepath.Join(dir, "kea4.log"))
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "HA_STATE_TRANSITION") || strings.Contains(line, "HA_MAINTENANCE") {
			t.Log(line)
		}
	}
	// Kea dies: the primary takes over after max-response-delay.
	kea.Process.Kill()
	kea.Wait()
	deadline = time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && m.State() != PartnerDown {
		m.Heartbeat(ctx)
		time.Sleep(time.Second)
	}
	if m.State() != PartnerDown || !m.DHCPEnabled() {
		t.Errorf("after Kea died: %s", m.State())
	}
}
