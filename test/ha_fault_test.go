//go:build integration

package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// remoteFault is the config-fault of the node's partner in status-get,
// "" when there is none.
func (n haNode) remoteFault(l *Lab) (string, error) {
	s, err := n.servers(l)
	return s.Remote.ConfigFault, err
}

// waitFault waits until the node's status-get names a configuration
// fault containing want. The deadline only guards against a hang.
func (n haNode) waitFault(t *testing.T, l *Lab, want string) string {
	t.Helper()
	var f string
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if f, err = n.remoteFault(l); err == nil && strings.Contains(f, want) {
			return f
		}
	}
	t.Fatalf("%s never reported a configuration fault with %q: last %q, error %v", n.addr, want, f, err)
	return ""
}

// ctlArgs are the operator's credentials as twinleafctl flags.
type ctlArgs []string

// operator is the operator's certificate in dir (CA.pem, client_cert.pem,
// client_key.pem) as curl's and twinleafctl's flags.
func operator(dir string) (curl []string, ctl ctlArgs) {
	ca, cert, key := filepath.Join(dir, "CA.pem"), filepath.Join(dir, "client_cert.pem"), filepath.Join(dir, "client_key.pem")
	return []string{"--cacert", ca, "--cert", cert, "--key", key}, ctlArgs{"--ca", ca, "--cert", cert, "--key", key}
}

// haCtl runs twinleafctl in the node's namespace as the operator would.
func haCtl(t *testing.T, l *Lab, n haNode, flags ctlArgs, args ...string) string {
	t.Helper()
	argv := append([]string{filepath.Join(repoRoot(t), "bin", "twinleafctl"), "--url", n.url}, flags...)
	out, err := l.Cmd(n.ns, append(argv, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("twinleafctl %v on %s: %v\n%s", args, n.addr, err, out)
	}
	return string(out)
}

// checkFaultedPair is what a pair kept apart by a configuration fault
// must show: the primary serves alone (a real client's lease is on the
// primary only), the standby never takes over, and both say why in
// the log, in status-get and in twinleafctl ha status.
func checkFaultedPair(t *testing.T, l *Lab, nodes [2]haNode, srv [2]*Server, flags [2]ctlArgs, faults [2]string) {
	t.Helper()
	primary, standby := nodes[0], nodes[1]
	primary.waitState(t, l, "partner-down")
	for i, n := range nodes {
		n.waitFault(t, l, faults[i])
	}
	c := NewClient(t, l, "udhcpc", "f1", "02:00:00:00:7f:01")
	c.Start()
	ip := c.Bound().IP
	primary.holds(t, l, ip, c.MAC)
	if got := standby.leases(t, l); len(got) != 0 {
		t.Errorf("the standby holds %v; it must serve nobody and get no updates", got)
	}
	// By now the standby has been without a usable partner for far
	// longer than max-response-delay (3 s, max-unacked-clients 0).
	if st, err := standby.state(l); err != nil || st != "waiting" {
		t.Errorf("standby in %q (%v), want waiting", st, err)
	}
	if out := srv[1].Output(); strings.Contains(out, "to PARTNER-DOWN state") {
		t.Errorf("the standby went to partner-down:\n%s", out)
	}
	for i, s := range srv {
		out := s.Output()
		if !strings.Contains(out, "HA_CONFIG_FAULT server"+fmt.Sprint(i+1)) || !strings.Contains(out, faults[i]) {
			t.Errorf("server%d's log does not name the fault %q", i+1, faults[i])
		}
		ctlOut := haCtl(t, l, nodes[i], flags[i], "ha", "status")
		t.Logf("twinleafctl ha status on server%d:\n%s", i+1, ctlOut)
		if !strings.Contains(ctlOut, "CONFIGURATION FAULT: ") || !strings.Contains(ctlOut, faults[i]) {
			t.Errorf("twinleafctl ha status on server%d:\n%s\nwant the fault %q", i+1, ctlOut, faults[i])
		}
	}
}

// checkHealed: after the fix the pair reaches hot-standby, no fault is
// left on either side, and the standby has synced the primary's lease.
func checkHealed(t *testing.T, l *Lab, nodes [2]haNode, flags [2]ctlArgs) {
	t.Helper()
	nodes[0].waitState(t, l, "hot-standby")
	nodes[1].waitState(t, l, "hot-standby")
	for i, n := range nodes {
		if f, err := n.remoteFault(l); err != nil || f != "" {
			t.Errorf("server%d after the fix: config-fault %q (%v)", i+1, f, err)
		}
		if out := haCtl(t, l, n, flags[i], "ha", "status"); strings.Contains(out, "CONFIGURATION FAULT") || !strings.Contains(out, "hot-standby") {
			t.Errorf("twinleafctl ha status on server%d after the fix:\n%s", i+1, out)
		}
	}
	if got1, got2 := nodes[0].leases(t, l), nodes[1].leases(t, l); len(got1) != 1 || !mapsEqual(got1, got2) {
		t.Errorf("after the fix the primary holds %v and the standby %v; want the same lease", got1, got2)
	}
}

// TestHAFaultOtherCA: the secure pair (pair init's template, mutual TLS
// on the dedicated listener) with the standby given certificates from
// another CA (a second pki init). The pair does not form; the standby
// never takes over; both name the fault; writing the pair's certificates
// over the standby's heals the pair without a restart.
func TestHAFaultOtherCA(t *testing.T) {
	l, ns, dirs := haLab(t)
	bin := filepath.Join(repoRoot(t), "bin", "twinleafctl")
	out, good, nodes := securePair(t, l, ns, dirs)
	other := filepath.Join(l.Dir, "other-pki")
	if b, err := exec.Command(bin, "pki", "init", "--dir", other, "--boards", haPrimary+","+haStandby).CombinedOutput(); err != nil {
		t.Fatalf("twinleafctl pki init: %v\n%s", err, b)
	}
	// The standby's board got the other PKI whole: its API then trusts
	// that CA's operator certificate.
	_, opFlags := operator(filepath.Join(out, "operator"))
	otherCurl, otherFlags := operator(other)
	bad := haConfig(t, l, filepath.Join(out, "server2", "kea-dhcp4.conf"), "secure2-other-ca.conf", dirs[1],
		[2]string{"/TLSDIR", other})
	var srv [2]*Server
	srv[0] = StartServer(t, l, ns[0], dirs[0], good[0])
	srv[1] = StartServer(t, l, ns[1], dirs[1], bad)
	badStandby := nodes[1]
	badStandby.tls = otherCurl
	checkFaultedPair(t, l, [2]haNode{nodes[0], badStandby}, srv, [2]ctlArgs{opFlags, otherFlags},
		[2]string{"certificate", "certificate"})
	// Both sides name the certificate problem from where they stand.
	for i, s := range srv {
		if o := s.Output(); !strings.Contains(o, "check trust-anchor, cert-file and key-file on both boards") {
			t.Errorf("server%d's HA_CONFIG_FAULT lines do not say what to check", i+1)
		}
	}

	// The fix is the pair's files in place of the others: the standby
	// reads them at its next handshakes, with no restart.
	ents, err := os.ReadDir(filepath.Join(out, "server2", "tls"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(out, "server2", "tls", e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(other, e.Name()), b, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	checkHealed(t, l, nodes, [2]ctlArgs{opFlags, opFlags})
}

// TestHAFaultBasicAuth: the home pair with basic auth on both control
// sockets (the pair's HA traffic rides on them) and the standby's
// basic-auth-password-file for the primary holding a wrong password. The
// primary refuses it (HTTP 401) and says so although its own requests get
// through; the pair does not form and the standby never takes over.
// Writing the right password into the file heals the pair, with no
// restart.
func TestHAFaultBasicAuth(t *testing.T) {
	l, ns, dirs := haLab(t)
	auth := `"socket-port": 8000, "authentication": { "type": "basic", "realm": "kea",
	    "clients": [ { "user": "ha", "password": "s3cret" } ] }`
	pwFile := filepath.Join(dirs[1], "primary-password")
	if err := os.WriteFile(pwFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := func(i int, name, pwForPrimary string) string {
		src := filepath.Join(repoRoot(t), "configs", fmt.Sprintf("home-server%d.conf", i+1))
		return haConfig(t, l, src, name, dirs[i],
			[2]string{"enp0s8", "eth0"}, [2]string{"192.168.1.", "192.0.2."},
			[2]string{`"socket-port": 8000`, auth},
			[2]string{`"url": "http://192.0.2.2:8000/",`, `"url": "http://192.0.2.2:8000/", "basic-auth-user": "ha", ` + pwForPrimary + `,`},
			[2]string{`"url": "http://192.0.2.3:8000/",`, `"url": "http://192.0.2.3:8000/", "basic-auth-user": "ha", "basic-auth-password": "s3cret",`})
	}
	var nodes [2]haNode
	for i, addr := range []string{haPrimary, haStandby} {
		nodes[i] = haNode{ns: ns[i], addr: addr, url: "http://" + addr + ":8000/", tls: []string{"-u", "ha:s3cret"}}
	}
	flags := ctlArgs{"--user", "ha", "--password", "s3cret"}
	var srv [2]*Server
	srv[0] = StartServer(t, l, ns[0], dirs[0], conf(0, "auth1.conf", `"basic-auth-password": "s3cret"`))
	srv[1] = StartServer(t, l, ns[1], dirs[1], conf(1, "auth2.conf", `"basic-auth-password-file": "`+pwFile+`"`))
	checkFaultedPair(t, l, nodes, srv, [2]ctlArgs{flags, flags},
		[2]string{"wrong basic-auth credentials (HTTP 401)", "refused our basic-auth credentials (HTTP 401)"})
	if o := srv[0].Output(); !strings.Contains(o, "refused a request from partner server2 (192.0.2.3)") {
		t.Error("the primary's log does not name the partner whose password it refused")
	}

	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkHealed(t, l, nodes, [2]ctlArgs{flags, flags})
}
