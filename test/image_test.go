//go:build integration

package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"debug/elf"
	"encoding/binary"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/config"
)

// overlayEntry is one tarball member.
type overlayEntry struct {
	mode     int64
	uid, gid int
	link     string
	typ      byte
	data     []byte
}

// buildOverlays runs image/build.sh into a temporary directory, with a
// pair made for eth1, and returns that directory.
func buildOverlays(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	mustRun(t, "make", "-C", root, "--no-print-directory", "build", "cross")
	out := t.TempDir()
	c := exec.Command("sh", filepath.Join(root, "image", "build.sh"))
	c.Env = append(os.Environ(), "OUT="+out, "PAIR_FLAGS=--iface eth1 --boards 192.168.1.2,192.168.1.3")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("image/build.sh: %v\n%s", err, b)
	}
	return out
}

func readOverlay(t *testing.T, path string) map[string]overlayEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(zr)
	out := map[string]overlayEntry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, _ := io.ReadAll(tr)
		out[strings.TrimSuffix(h.Name, "/")] = overlayEntry{h.Mode & 0o7777, h.Uid, h.Gid, h.Linkname, h.Typeflag, data}
	}
}

// TestImage builds the overlays once (make image's script) and checks
// them, the first-boot script, and apply.sh.
func TestImage(t *testing.T) {
	if isKea() {
		t.Skip("the image does not depend on the server under test; run with twinleaf")
	}
	out := buildOverlays(t)
	t.Run("overlays", func(t *testing.T) { testOverlays(t, out) })
	t.Run("first boot", func(t *testing.T) { testFirstBoot(t, out) })
	t.Run("apply", func(t *testing.T) { testApply(t, out) })
}

// testOverlays checks what each board's overlay holds.
func testOverlays(t *testing.T, out string) {
	const unit = "/usr/lib/systemd/system/"
	want := map[string]overlayEntry{
		"etc/kea":                                           {mode: 0o755, typ: tar.TypeDir},
		"etc/kea/tls":                                       {mode: 0o750, typ: tar.TypeDir},
		"etc/kea/kea-dhcp4.conf":                            {mode: 0o644, typ: tar.TypeReg},
		"usr/sbin/twinleaf-dhcp4":                           {mode: 0o755, typ: tar.TypeReg},
		"usr/bin/twinleafctl":                               {mode: 0o755, typ: tar.TypeReg},
		"usr/lib/twinleaf":                                  {mode: 0o755, typ: tar.TypeDir},
		"usr/lib/twinleaf/firstboot":                        {mode: 0o755, typ: tar.TypeReg},
		"usr/lib/sysusers.d/twinleaf-dhcp4.conf":            {mode: 0o644, typ: tar.TypeReg},
		"usr/lib/systemd/system/twinleaf-dhcp4.service":     {mode: 0o644, typ: tar.TypeReg},
		"usr/lib/systemd/system/twinleaf-firstboot.service": {mode: 0o644, typ: tar.TypeReg},
		"etc/systemd/system/multi-user.target.wants/twinleaf-dhcp4.service": {
			mode: 0o777, typ: tar.TypeSymlink, link: unit + "twinleaf-dhcp4.service"},
		"etc/systemd/system/multi-user.target.wants/twinleaf-firstboot.service": {
			mode: 0o777, typ: tar.TypeSymlink, link: unit + "twinleaf-firstboot.service"},
	}
	confs := map[string][]byte{}
	for _, tt := range []struct {
		file, board string
		machine     elf.Machine
	}{
		{"twinleaf-overlay-server1.tar.gz", "server1", elf.EM_AARCH64},
		{"twinleaf-overlay-server2.tar.gz", "server2", elf.EM_AARCH64},
		{"twinleaf-overlay-server1-armhf.tar.gz", "server1", elf.EM_ARM},
		{"twinleaf-overlay-server2-armhf.tar.gz", "server2", elf.EM_ARM},
	} {
		got := readOverlay(t, filepath.Join(out, tt.file))
		for name, w := range want {
			g, ok := got[name]
			if !ok {
				t.Errorf("%s: %s is missing", tt.file, name)
				continue
			}
			if g.typ != w.typ || g.mode != w.mode || g.link != w.link || g.uid != 0 || g.gid != 0 {
				t.Errorf("%s: %s is type %c mode %o -> %q owner %d:%d, want type %c mode %o -> %q owner 0:0",
					tt.file, name, g.typ, g.mode, g.link, g.uid, g.gid, w.typ, w.mode, w.link)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				// Keys above all must never be in an overlay.
				t.Errorf("%s: unexpected member %s", tt.file, name)
			}
		}
		for _, bin := range []string{"usr/sbin/twinleaf-dhcp4", "usr/bin/twinleafctl"} {
			ef, err := elf.NewFile(bytes.NewReader(got[bin].data))
			if err != nil {
				t.Errorf("%s: %s: %v", tt.file, bin, err)
				continue
			}
			if ef.Machine != tt.machine {
				t.Errorf("%s: %s is for %v, want %v", tt.file, bin, ef.Machine, tt.machine)
			}
		}
		conf := got["etc/kea/kea-dhcp4.conf"].data
		c, err := config.Parse(tt.file+":etc/kea/kea-dhcp4.conf", conf)
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		if h := c.Dhcp4.HA; len(h) != 1 || h[0].ThisServerName != tt.board {
			t.Errorf("%s: this-server-name is not %s", tt.file, tt.board)
		}
		if i := c.Dhcp4.InterfacesConfig.Interfaces; len(i) != 1 || i[0] != "eth1" {
			t.Errorf("%s: interfaces %v, want PAIR_FLAGS' eth1", tt.file, i)
		}
		if prev, ok := confs[tt.board]; ok && !bytes.Equal(prev, conf) {
			t.Errorf("%s: the armhf and arm64 overlays carry different configs", tt.board)
		}
		confs[tt.board] = conf
	}
	// The boards' configs differ only where a board names itself.
	a, b := strings.Split(string(confs["server1"]), "\n"), strings.Split(string(confs["server2"]), "\n")
	if len(a) != len(b) {
		t.Fatalf("the boards' configs have %d and %d lines", len(a), len(b))
	}
	var diff []string
	for i := range a {
		if a[i] != b[i] {
			diff = append(diff, strings.TrimSpace(a[i])+" | "+strings.TrimSpace(b[i]))
		}
	}
	wantDiff := []string{
		"// twinleaf: secure multi-threaded hot-standby pair, board 1 (the primary). | // twinleaf: secure multi-threaded hot-standby pair, board 2 (the standby).",
		"// Written by `twinleafctl pair init`; board 2 has the same file | // Written by `twinleafctl pair init`; board 1 has the same file",
		`"socket-address": "192.168.1.2", | "socket-address": "192.168.1.3",`,
		`"cert-file": "/etc/kea/tls/ca1_cert.pem", | "cert-file": "/etc/kea/tls/ca2_cert.pem",`,
		`"key-file": "/etc/kea/tls/ca1_key.pem", | "key-file": "/etc/kea/tls/ca2_key.pem",`,
		`"this-server-name": "server1", | "this-server-name": "server2",`,
		`"cert-file": "/etc/kea/tls/server1_cert.pem", | "cert-file": "/etc/kea/tls/server2_cert.pem",`,
		`"key-file": "/etc/kea/tls/server1_key.pem", | "key-file": "/etc/kea/tls/server2_key.pem",`,
		`"cert-file": "/etc/kea/tls/server1_cert.pem", | "cert-file": "/etc/kea/tls/server2_cert.pem",`,
		`"key-file": "/etc/kea/tls/server1_key.pem", | "key-file": "/etc/kea/tls/server2_key.pem",`,
	}
	if strings.Join(diff, "\n") != strings.Join(wantDiff, "\n") {
		t.Errorf("the boards' configs differ in:\n%s\nwant:\n%s", strings.Join(diff, "\n"), strings.Join(wantDiff, "\n"))
	}
}

// unpack extracts an overlay into a new directory, as a board's root.
func unpack(t *testing.T, overlay string) string {
	t.Helper()
	dir := t.TempDir()
	mustRun(t, "tar", "-xzpf", overlay, "-C", dir)
	return dir
}

// firstboot runs the image's first-boot script on an unpacked root, with
// the host's binaries.
func firstboot(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(repoRoot(t), "bin")
	c := exec.Command("sh", filepath.Join(root, "usr/lib/twinleaf/firstboot"))
	c.Env = append(os.Environ(), "TWINLEAF_ROOT="+root, "TWINLEAF_DHCP4="+filepath.Join(bin, "twinleaf-dhcp4"),
		"TWINLEAFCTL="+filepath.Join(bin, "twinleafctl"))
	b, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("firstboot: %v\n%s", err, b)
	}
	return string(b)
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// testFirstBoot runs the first-boot script on an unpacked overlay: with
// the board's files on the boot partition, and with none.
func testFirstBoot(t *testing.T, out string) {
	overlay := filepath.Join(out, "twinleaf-overlay-server2.tar.gz")

	t.Run("supplied on the boot partition", func(t *testing.T) {
		root := unpack(t, overlay)
		boot := filepath.Join(root, "boot/firmware/twinleaf")
		mustRun(t, "mkdir", "-p", filepath.Dir(boot))
		mustRun(t, "cp", "-r", filepath.Join(out, "pair", "server2"), boot)
		// A config the operator changed for this board.
		conf := bytes.Replace(mustRead(t, filepath.Join(boot, "kea-dhcp4.conf")), []byte(`"valid-lifetime": 43200`), []byte(`"valid-lifetime": 7200`), 1)
		os.WriteFile(filepath.Join(boot, "kea-dhcp4.conf"), conf, 0o644)
		log := firstboot(t, root)
		if got := mustRead(t, filepath.Join(root, "etc/kea/kea-dhcp4.conf")); !bytes.Equal(got, conf) {
			t.Errorf("the boot partition's config was not installed:\n%s", log)
		}
		for _, f := range []string{"CA.pem", "server2_cert.pem", "ca2_cert.pem"} {
			want := mustRead(t, filepath.Join(out, "pair", "server2", "tls", f))
			if got := mustRead(t, filepath.Join(root, "etc/kea/tls", f)); !bytes.Equal(got, want) {
				t.Errorf("%s differs from the supplied one", f)
			}
			if m := fileMode(t, filepath.Join(root, "etc/kea/tls", f)); m != 0o644 {
				t.Errorf("%s: mode %v, want 0644", f, m)
			}
		}
		for _, f := range []string{"server2_key.pem", "ca2_key.pem"} {
			if m := fileMode(t, filepath.Join(root, "etc/kea/tls", f)); m != 0o640 {
				t.Errorf("%s: mode %v, want 0640", f, m)
			}
			if _, err := os.Stat(filepath.Join(boot+".installed", "tls", f)); !os.IsNotExist(err) {
				t.Errorf("%s is still on the boot partition: %v", f, err)
			}
		}
		if _, err := os.Stat(boot); !os.IsNotExist(err) {
			t.Errorf("the boot partition's twinleaf/ was not renamed: %v", err)
		}
		// The next boot has nothing to do and changes nothing.
		firstboot(t, root)
		if got := mustRead(t, filepath.Join(root, "etc/kea/kea-dhcp4.conf")); !bytes.Equal(got, conf) {
			t.Error("a second boot changed the config")
		}
	})

	t.Run("none supplied", func(t *testing.T) {
		root := unpack(t, overlay)
		log := firstboot(t, root)
		if !strings.Contains(log, "copy /var/lib/twinleaf/partner/tls to server1's boot partition") {
			t.Errorf("firstboot did not say where the partner's certificates are:\n%s", log)
		}
		ca := readPEMCert(t, filepath.Join(root, "etc/kea/tls/CA.pem"))
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		// This board's certificates are installed, the partner's wait for
		// the operator, and both chain to the one CA.
		for _, f := range []string{"etc/kea/tls/server2_cert.pem", "etc/kea/tls/ca2_cert.pem",
			"var/lib/twinleaf/partner/tls/server1_cert.pem", "var/lib/twinleaf/partner/tls/ca1_cert.pem"} {
			c := readPEMCert(t, filepath.Join(root, f))
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
		for _, f := range []string{"server1_cert.pem", "server1_key.pem", "CA_key.pem", "client_key.pem"} {
			if _, err := os.Stat(filepath.Join(root, "etc/kea/tls", f)); !os.IsNotExist(err) {
				t.Errorf("/etc/kea/tls/%s exists on server2: %v", f, err)
			}
		}
		if m := fileMode(t, filepath.Join(root, "etc/kea/tls/server2_key.pem")); m != 0o640 {
			t.Errorf("server2_key.pem: mode %v, want 0640", m)
		}
		if m := fileMode(t, filepath.Join(root, "var/lib/twinleaf")); m != 0o700 {
			t.Errorf("/var/lib/twinleaf: mode %v, want 0700", m)
		}
	})
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(mustRead(t, path))
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// writeMBR writes a DOS partition table: a FAT boot partition and a
// Linux root partition, as Raspberry Pi images have. Sizes in sectors.
func writeMBR(t *testing.T, img string, parts [][3]uint32) {
	t.Helper()
	mbr := make([]byte, 512)
	for i, p := range parts {
		e := mbr[446+16*i:]
		e[4] = byte(p[0])
		binary.LittleEndian.PutUint32(e[8:], p[1])
		binary.LittleEndian.PutUint32(e[12:], p[2])
	}
	mbr[510], mbr[511] = 0x55, 0xaa
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(mbr, 0); err != nil {
		t.Fatal(err)
	}
}

// testApply applies an overlay to a small image made here: an MBR, a
// FAT-typed boot partition, and an ext4 root with a merged /usr.
func testApply(t *testing.T, out string) {
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no loop devices here (/dev/loop-control): apply.sh cannot be run; the first-boot subtest covers unpacking on a directory")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "board.img")
	const bootStart, bootSize, rootStart, total = 2048, 16384, 18432, 131072 // sectors: 64 MiB
	mustRun(t, "truncate", "-s", "64M", img)
	writeMBR(t, img, [][3]uint32{{0x0c, bootStart, bootSize}, {0x83, rootStart, total - rootStart}})
	// A stock root: merged /usr, and a directory whose mode must survive.
	seed := filepath.Join(dir, "seed")
	for _, d := range []string{"usr/lib/systemd/system", "usr/bin", "usr/sbin", "etc/systemd/system"} {
		os.MkdirAll(filepath.Join(seed, d), 0o755)
	}
	os.Symlink("usr/lib", filepath.Join(seed, "lib"))
	os.Chmod(filepath.Join(seed, "etc"), 0o711)
	mustRun(t, "mkfs.ext4", "-q", "-F", "-d", seed, "-E", "offset="+itoa(rootStart*512), img, itoa((total-rootStart)/2)+"k")

	c := exec.Command("sh", filepath.Join(repoRoot(t), "image", "apply.sh"), img,
		filepath.Join(out, "twinleaf-overlay-server1.tar.gz"), filepath.Join(out, "pair", "server1"))
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("apply.sh: %v\n%s", err, b)
	}

	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	loop := strings.TrimSpace(mustRun(t, "losetup", "--find", "--show", "--read-only", "--offset", itoa(rootStart*512), img))
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	mustRun(t, "mount", "-o", "ro", loop, mnt)
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	if l, err := os.Readlink(filepath.Join(mnt, "lib")); err != nil || l != "usr/lib" {
		t.Errorf("/lib is no longer the usr/lib symlink: %q, %v", l, err)
	}
	if m := fileMode(t, filepath.Join(mnt, "etc")); m != 0o711 {
		t.Errorf("/etc's mode changed to %v", m)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{"usr/sbin/twinleaf-dhcp4", 0o755},
		{"usr/lib/systemd/system/twinleaf-dhcp4.service", 0o644},
		{"etc/kea/kea-dhcp4.conf", 0o644},
		{"etc/kea/tls/CA.pem", 0o600},
		{"etc/kea/tls/server1_key.pem", 0o600},
		{"etc/kea/tls/ca1_cert.pem", 0o600},
	} {
		if m := fileMode(t, filepath.Join(mnt, f.path)); m != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, m, f.mode)
		}
	}
	if l, err := os.Readlink(filepath.Join(mnt, "etc/systemd/system/multi-user.target.wants/twinleaf-dhcp4.service")); err != nil ||
		l != "/usr/lib/systemd/system/twinleaf-dhcp4.service" {
		t.Errorf("enablement link: %q, %v", l, err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "etc/kea/tls/server2_key.pem")); !os.IsNotExist(err) {
		t.Errorf("board 1's image holds board 2's key: %v", err)
	}
}

// TestPairConfigServes starts twinleaf-dhcp4 on the config pair init
// writes for board 1 (with its certificates): a real client gets a lease
// with the network's options, and the operator reaches the HTTPS API with
// the client certificate, and not without it. Only the lease file and
// the log are moved into the lab's directory.
func TestPairConfigServes(t *testing.T) {
	if isKea() {
		t.Skip("Kea 2.2's kea-dhcp4 has no https control socket (kea-ctrl-agent serves it); the pair config is twinleaf's")
	}
	l := NewLab(t)
	srv := l.Host("srv", "eth0", serverAddr+"/24")
	bin := filepath.Join(repoRoot(t), "bin")
	pair := filepath.Join(l.Dir, "pair")
	tlsDir := filepath.Join(pair, "server1", "tls")
	mustRun(t, filepath.Join(bin, "twinleafctl"), "pair", "init", "--out", pair, "--iface", "eth0",
		"--subnet", "192.0.2.0/24", "--pool", "192.0.2.100-192.0.2.150", "--router", "192.0.2.1",
		"--dns", "192.0.2.53", "--boards", serverAddr+",192.0.2.3", "--tls-dir", tlsDir)
	conf := string(mustRead(t, filepath.Join(pair, "server1", "kea-dhcp4.conf")))
	for _, r := range [][2]string{
		{`"type": "memfile"`, `"type": "memfile", "name": "leases4.csv"`},
		{`"output": "/var/log/kea/kea-dhcp4.log"`, `"output": "stdout"`},
	} {
		if !strings.Contains(conf, r[0]) {
			t.Fatalf("the generated config lacks %s", r[0])
		}
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	path := l.File("server1.conf", conf)
	StartServer(t, l, srv, l.Dir, path)

	c := NewClient(t, l, "udhcpc", "pc", "02:00:00:00:0e:01")
	c.Start()
	ev := c.Bound()
	if !inPool(t, ev.IP, "192.0.2.100", "192.0.2.150") || ev.Routers != "192.0.2.1" || ev.DNS != "192.0.2.53" {
		t.Errorf("client got %v, want an address in the pool, router 192.0.2.1, DNS 192.0.2.53", ev)
	}

	op := filepath.Join(pair, "operator")
	ctl := func(args ...string) (string, error) {
		b, err := l.Cmd(srv, append([]string{filepath.Join(bin, "twinleafctl"), "-c", path}, args...)...).CombinedOutput()
		return string(b), err
	}
	out, err := ctl("--ca", filepath.Join(op, "CA.pem"), "--cert", filepath.Join(op, "client_cert.pem"),
		"--key", filepath.Join(op, "client_key.pem"), "--json", "lease", "show", ev.IP)
	if err != nil || !strings.Contains(out, `"hw-address": "02:00:00:00:0e:01"`) {
		t.Errorf("twinleafctl over https with the operator's certificate: %v\n%s", err, out)
	}
	if out, err := ctl("--ca", filepath.Join(op, "CA.pem"), "status"); err == nil || !strings.Contains(out, "certificate required") {
		t.Errorf("twinleafctl without a client certificate: %v, want the server to demand one:\n%s", err, out)
	}
}

// TestPairUnderKea runs the pair pair init writes under Kea 2.2, both
// boards, so the certificates and the HA TLS layout (each board presents
// its own certificate to its partner) are checked against Kea's OpenSSL
// side: the two reach hot-standby over the TLS listener. Kea 2.2 lacks
// two things of the Kea 3 template, which are changed for it: its
// kea-dhcp4 has no https control socket (a unix one here) and spells
// output_options with an underscore.
func TestPairUnderKea(t *testing.T) {
	if isKea() {
		t.Skip("runs Kea itself, once, in the twinleaf pass")
	}
	hooks := "/usr/lib/x86_64-linux-gnu/kea/hooks"
	if _, err := os.Stat(filepath.Join(hooks, "libdhcp_ha.so")); err != nil {
		t.Skipf("Kea 2.2's HA hook is not installed (%v); .ci/run installs kea-dhcp4-server", err)
	}
	t.Setenv("TWINLEAF_TEST_SERVER", "kea")
	l := NewLab(t)
	boards := []string{"192.0.2.2", "192.0.2.3"}
	pair := filepath.Join(l.Dir, "pair")
	tlsDir := filepath.Join(l.Dir, "tls")
	mustRun(t, filepath.Join(repoRoot(t), "bin", "twinleafctl"), "pair", "init", "--out", pair, "--iface", "eth0",
		"--subnet", "192.0.2.0/24", "--pool", "192.0.2.100-192.0.2.150", "--boards", strings.Join(boards, ","), "--router", "", "--dns", "", "--tls-dir", tlsDir)
	// One directory stands for both boards' /etc/kea/tls.
	mustRun(t, "cp", "-r", filepath.Join(pair, "pki"), tlsDir)
	var servers []*Server
	for i, addr := range boards {
		n := string(rune('1' + i))
		ns := l.Host("b"+n, "eth0", addr+"/24")
		dir := filepath.Join(l.Dir, "server"+n)
		os.Mkdir(dir, 0o755)
		conf := string(mustRead(t, filepath.Join(pair, "server"+n, "kea-dhcp4.conf")))
		start := strings.Index(conf, `"control-socket": {`)
		end := strings.Index(conf[start:], "},")
		if start < 0 || end < 0 {
			t.Fatal("the generated config has no control-socket map")
		}
		conf = conf[:start] + `"control-socket": { "socket-type": "unix", "socket-name": "` + filepath.Join(dir, "kea4.sock") + `" }` + conf[start+end+1:]
		for _, r := range [][2]string{
			{`"type": "memfile"`, `"type": "memfile", "name": "` + filepath.Join(dir, "leases4.csv") + `"`},
			{`"output": "/var/log/kea/kea-dhcp4.log"`, `"output": "stdout"`},
			{`"output-options"`, `"output_options"`},
		} {
			conf = strings.Replace(conf, r[0], r[1], 1)
		}
		path := filepath.Join(dir, "kea-dhcp4.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, StartServer(t, l, ns, dir, path, "LD_LIBRARY_PATH="+hooks))
	}
	// Heartbeats are 10 s apart: both boards are in hot-standby after the
	// second one. The deadline only bounds a broken run.
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range servers {
		for !strings.Contains(s.Output(), "to HOT-STANDBY state") {
			if time.Now().After(deadline) {
				t.Fatalf("the pair did not reach hot-standby; this board's log:\n%s", lastLines(s.Output(), 30))
			}
			time.Sleep(200 * time.Millisecond)
		}
		if strings.Contains(s.Output(), "HA_HEARTBEAT_COMMUNICATIONS_FAILED") {
			t.Errorf("a heartbeat failed on the way:\n%s", lastLines(s.Output(), 30))
		}
	}
}
