//go:build integration

package test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// apiServer starts twinleaf with an HTTP control socket on the server
// namespace's loopback next to the lab's unix socket.
func apiServer(t *testing.T) (*Lab, string, *Server) {
	t.Helper()
	return labServer(t,
		`"control-socket": { "socket-type": "unix", "socket-name": "twinleaf4.sock" },`,
		`"control-sockets": [
        { "socket-type": "unix", "socket-name": "twinleaf4.sock" },
        { "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8000 }
    ],`)
}

// TestAPIClients drives the HTTP socket with curl (the seed's exact
// config-get command) and kea-shell, and the unix socket with socat.
func TestAPIClients(t *testing.T) {
	if isKea() {
		t.Skip("Kea 2.2 has no HTTP socket in kea-dhcp4 (it needs kea-ctrl-agent)")
	}
	l, srv, s := apiServer(t)
	out := l.In(srv, "curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "-d",
		`{ "command": "config-get", "service": [ "dhcp4" ] }`, "http://127.0.0.1:8000/")
	var answers []struct {
		Result    int
		Arguments map[string]map[string]any
	}
	if err := json.Unmarshal([]byte(out), &answers); err != nil || len(answers) != 1 {
		t.Fatalf("config-get over HTTP is not a one-element list: %v\n%s", err, out)
	}
	d4 := answers[0].Arguments["Dhcp4"]
	if answers[0].Result != 0 || d4["subnet4"] == nil || d4["valid-lifetime"] == nil || d4["decline-probation-period"] == nil {
		t.Errorf("config-get answer lacks the configuration or its defaults: %s", out)
	}
	shell := l.In(srv, "sh", "-c", "kea-shell --host 127.0.0.1 --port 8000 --service dhcp4 status-get </dev/null")
	if !strings.Contains(shell, `"pid"`) || !strings.Contains(shell, `"result": 0`) && !strings.Contains(shell, `"result":0`) {
		t.Errorf("kea-shell status-get:\n%s", shell)
	}
	sock := l.In(srv, "sh", "-c", "echo '{ \"command\": \"version-get\" }' | socat - UNIX-CONNECT:"+s.Dir+"/twinleaf4.sock")
	if !strings.HasPrefix(strings.TrimSpace(sock), `{"result":0`) {
		t.Errorf("version-get over the unix socket with socat: %s", sock)
	}
}

// TestDHCPDisable: dhcp-disable silences the server, with max-period it
// comes back by itself, dhcp-enable brings it back at once.
func TestDHCPDisable(t *testing.T) {
	if isKea() {
		t.Skip("checked against twinleaf's HTTP socket")
	}
	l, srv, _ := apiServer(t)
	call := func(body string) string {
		return l.In(srv, "curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "-d", body, "http://127.0.0.1:8000/")
	}
	if out := call(`{"command":"dhcp-disable","arguments":{"max-period":3600}}`); !strings.Contains(out, "disabled for 3600 seconds") {
		t.Fatalf("dhcp-disable: %s", out)
	}
	if out := call(`{"command":"status-get"}`); !strings.Contains(out, `"disabled-by-user":true`) {
		t.Errorf("status-get after dhcp-disable: %s", out)
	}
	c := NewClient(t, l, "udhcpc", "dd", "02:00:00:00:0d:01")
	c.Start()
	cap := StartCapture(t, l, srv, "eth0", "192.0.2.254")
	// udhcpc retries every second; wait until the server has provably
	// heard a DISCOVER and stayed silent.
	for i := 0; ; i++ {
		msgs := cap.Messages()
		discover, offer := false, false
		for _, m := range msgs {
			discover = discover || m.Type == "DISCOVER"
			offer = offer || m.Type == "OFFER"
		}
		if offer {
			t.Fatal("the server answered while disabled")
		}
		if discover {
			break
		}
		if i > 100 {
			t.Fatal("no DISCOVER seen")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := call(`{"command":"dhcp-enable"}`); !strings.Contains(out, "successfully enabled") {
		t.Fatalf("dhcp-enable: %s", out)
	}
	c.Bound()
}

// TestAPIAbuseDoesNotDisturbDHCP: garbage, an oversized body and clients
// that connect and stall hit the HTTP socket while a client gets a lease.
func TestAPIAbuseDoesNotDisturbDHCP(t *testing.T) {
	if isKea() {
		t.Skip("checked against twinleaf's HTTP socket")
	}
	l, srv, _ := apiServer(t)
	// Stalled clients: open connections that never send a full request.
	stall := l.Cmd(srv, "sh", "-c", `for i in $(seq 40); do (printf 'POST / HTTP/1.1\r\nContent-Length: 100\r\n' ; sleep 20) | socat - TCP:127.0.0.1:8000 & done; wait`)
	if err := stall.Start(); err != nil {
		t.Fatal(err)
	}
	defer stall.Process.Kill()
	garbage := l.In(srv, "curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "-d", `{"command": [garbage`, "http://127.0.0.1:8000/")
	if !strings.Contains(garbage, `"result":1`) {
		t.Errorf("garbage: %s", garbage)
	}
	huge := l.In(srv, "sh", "-c", `head -c 20000000 /dev/zero | tr '\0' 'a' | curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @- http://127.0.0.1:8000/`)
	if huge != "413" {
		t.Errorf("a 20 MB body: HTTP %s, want 413", huge)
	}
	c := NewClient(t, l, "dhclient", "ab", "02:00:00:00:0a:b1")
	c.Start()
	if ev := c.Bound(); !inPool(t, ev.IP, poolFirst, poolLast) {
		t.Errorf("client under API abuse got %q", ev.IP)
	}
	// The socket still answers a well-formed request.
	if out := l.In(srv, "curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "-d", `{"command":"version-get"}`, "http://127.0.0.1:8000/"); !strings.Contains(out, `"result":0`) {
		t.Errorf("version-get after the abuse: %s", out)
	}
}
