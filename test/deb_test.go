//go:build integration

package test

import (
	"bufio"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	// debCache keeps a debootstrapped Debian between runs: building one
	// takes a minute or two, unpacking the cached copy seconds.
	debCache  = "/var/cache/twinleaf-test"
	debMirror = "http://deb.debian.org/debian"
	debSuite  = "bookworm"
)

// bookworm returns a fresh minimal Debian bookworm root in a temporary
// directory, from the cache when there is one. It skips the test when
// Debian's mirror cannot be reached: without it there is no Debian to
// install into, and apt-get cannot fetch the package's dependencies.
func bookworm(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the .deb test needs root for chroot; run it through `make test` as root")
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	resp, err := hc.Get(debMirror + "/dists/" + debSuite + "/Release")
	if err != nil {
		t.Skipf("debootstrap cannot reach Debian's package mirror %s: %v", debMirror, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Skipf("debootstrap cannot reach Debian's package mirror %s: %s", debMirror, resp.Status)
	}
	tarball := filepath.Join(debCache, debSuite+"-minbase.tar")
	if _, err := os.Stat(tarball); err != nil {
		if _, err := exec.LookPath("debootstrap"); err != nil {
			t.Fatal("debootstrap is missing: apt-get install debootstrap (.ci/run installs it)")
		}
		if err := os.MkdirAll(debCache, 0o755); err != nil {
			t.Fatal(err)
		}
		build := filepath.Join(t.TempDir(), "bootstrap")
		t.Logf("debootstrap --variant=minbase %s (once; cached in %s)", debSuite, tarball)
		mustRun(t, "debootstrap", "--variant=minbase", debSuite, build, debMirror)
		mustRun(t, "tar", "-C", build, "-cf", tarball+".tmp", ".")
		if err := os.Rename(tarball+".tmp", tarball); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "tar", "-C", root, "--numeric-owner", "-xpf", tarball)
	// apt-get inside needs to resolve the mirror's name.
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		os.WriteFile(filepath.Join(root, "etc/resolv.conf"), b, 0o644)
	}
	return root
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, lastLines(string(out), 30))
	}
	return string(out)
}

// inRoot runs a command chrooted into root, with a plain environment.
func inRoot(root string, args ...string) (string, error) {
	c := exec.Command("chroot", append([]string{root}, args...)...)
	c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"}
	out, err := c.CombinedOutput()
	return string(out), err
}

func mustIn(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := inRoot(root, args...)
	if err != nil {
		t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, lastLines(out, 30))
	}
	return out
}

// amd64Deb builds the packages with `make deb` (the TWINLEAF_DEB
// environment variable names one instead) and returns the amd64 one.
func amd64Deb(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TWINLEAF_DEB"); p != "" {
		return p
	}
	root := repoRoot(t)
	mustRun(t, "make", "-C", root, "--no-print-directory", "deb")
	debs, _ := filepath.Glob(filepath.Join(root, "dist", "twinleaf-dhcp4_*_amd64.deb"))
	if len(debs) == 0 {
		t.Fatal("make deb left no dist/twinleaf-dhcp4_*_amd64.deb")
	}
	// The newest is the one just built.
	sort.Slice(debs, func(i, j int) bool {
		a, _ := os.Stat(debs[i])
		b, _ := os.Stat(debs[j])
		return a.ModTime().After(b.ModTime())
	})
	return debs[0]
}

// tree lists every path under root, except the package manager's own
// state and caches, which installing anything changes.
func tree(t *testing.T, root string) map[string]bool {
	t.Helper()
	skip := []string{"/proc", "/sys", "/dev", "/tmp", "/run", "/var/lib/dpkg", "/var/lib/apt", "/var/cache",
		"/var/log/apt", "/var/log/dpkg.log", "/var/log/alternatives.log", "/etc/ld.so.cache"}
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+"/") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		out[rel] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDebInstall installs the .deb into a minimal Debian bookworm as a
// user would (dpkg -i, then apt-get install -f for adduser), checks what
// it put where and that the server accepts the shipped config there, then
// purges it and checks that only what Debian policy keeps (the _kea
// system user) is left.
func TestDebInstall(t *testing.T) {
	if isKea() {
		t.Skip("packaging does not depend on the server under test; run with twinleaf")
	}
	deb := amd64Deb(t)
	root := bookworm(t)
	before := tree(t, root)
	if err := os.WriteFile(filepath.Join(root, "tmp", "twinleaf.deb"), mustRead(t, deb), 0o644); err != nil {
		t.Fatal(err)
	}
	// Where the root lacks adduser, dpkg leaves the package unconfigured
	// and apt-get -f fetches it and finishes the configuration; bookworm's
	// minbase has it, and apt-get -f then has nothing to do.
	if out, err := inRoot(root, "dpkg", "-i", "/tmp/twinleaf.deb"); err != nil {
		t.Logf("dpkg -i left dependencies to apt-get -f: %v\n%s", err, lastLines(out, 10))
	}
	mustIn(t, root, "apt-get", "-o", "Acquire::Retries=3", "install", "-f", "-y", "--no-install-recommends")
	os.Remove(filepath.Join(root, "tmp", "twinleaf.deb"))
	if st := mustIn(t, root, "dpkg-query", "-W", "-f=${Status}", "twinleaf-dhcp4"); st != "install ok installed" {
		t.Fatalf("package status %q", st)
	}

	t.Run("files", func(t *testing.T) {
		tests := []struct{ path, want string }{
			{"/usr/sbin/twinleaf-dhcp4", "root:root 755 regular file"},
			{"/usr/bin/twinleafctl", "root:root 755 regular file"},
			{"/lib/systemd/system/twinleaf-dhcp4.service", "root:root 644 regular file"},
			{"/etc/kea/kea-dhcp4.conf", "root:root 644 regular file"},
			{"/usr/share/man/man8/twinleaf-dhcp4.8.gz", "root:root 644 regular file"},
			{"/usr/share/man/man1/twinleafctl.1.gz", "root:root 644 regular file"},
			{"/usr/share/doc/twinleaf-dhcp4/copyright", "root:root 644 regular file"},
			{"/usr/share/doc/twinleaf-dhcp4/examples/home-server2.conf", "root:root 644 regular file"},
			{"/var/lib/kea", "_kea:_kea 750 directory"},
			{"/var/log/kea", "_kea:_kea 750 directory"},
		}
		for _, tt := range tests {
			out, err := inRoot(root, "stat", "-c", "%U:%G %a %F", tt.path)
			if got := strings.TrimSpace(out); err != nil || got != tt.want {
				t.Errorf("%s: %q (%v), want %q", tt.path, got, err, tt.want)
			}
		}
	})
	t.Run("user", func(t *testing.T) {
		pw := strings.Split(strings.TrimSpace(mustIn(t, root, "getent", "passwd", "_kea")), ":")
		if len(pw) != 7 || pw[5] != "/var/lib/kea" || pw[6] != "/bin/false" {
			t.Errorf("_kea: %v, want home /var/lib/kea and shell /bin/false", pw)
		}
		gr := strings.Split(strings.TrimSpace(mustIn(t, root, "getent", "group", "_kea")), ":")
		if len(pw) == 7 && (len(gr) < 3 || gr[2] != pw[3]) {
			t.Errorf("_kea's primary group is %s, group _kea is %v", pw[3], gr)
		}
	})
	t.Run("conffile", func(t *testing.T) {
		cf := mustIn(t, root, "dpkg-query", "-W", "-f=${Conffiles}", "twinleaf-dhcp4")
		if !strings.Contains(cf, "/etc/kea/kea-dhcp4.conf ") {
			t.Errorf("conffiles: %q, want /etc/kea/kea-dhcp4.conf", cf)
		}
	})
	t.Run("enabled", func(t *testing.T) {
		link, err := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/twinleaf-dhcp4.service"))
		if err != nil || link != "/lib/systemd/system/twinleaf-dhcp4.service" {
			t.Errorf("multi-user.target.wants link: %q, %v", link, err)
		}
	})
	t.Run("config test", func(t *testing.T) {
		out := mustIn(t, root, "twinleaf-dhcp4", "-t", "/etc/kea/kea-dhcp4.conf")
		if !strings.Contains(out, "valid") {
			t.Errorf("twinleaf-dhcp4 -t: %s", out)
		}
		mustIn(t, root, "twinleafctl", "config", "test", "/etc/kea/kea-dhcp4.conf")
	})

	// What the server would have written while it ran: purge removes it.
	for _, f := range []string{"var/lib/kea/kea-leases4.csv", "var/lib/kea/kea-leases4.csv.2", "var/log/kea/kea-dhcp4.log", "var/log/kea/kea-dhcp4.log.1"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	mustIn(t, root, "dpkg", "--purge", "twinleaf-dhcp4")
	if st, _ := inRoot(root, "dpkg-query", "-W", "-f=${Status}", "twinleaf-dhcp4"); strings.Contains(st, "installed") &&
		!strings.Contains(st, "not-installed") {
		t.Errorf("after purge the package is %q", st)
	}
	// Every path that appeared since, and that no installed package (the
	// adduser apt-get brought in) owns, is a leftover.
	// The user database's backups (passwd- ...) appear when adduser adds
	// _kea, which stays.
	userDB := map[string]bool{"/etc/passwd-": true, "/etc/group-": true, "/etc/shadow-": true, "/etc/gshadow-": true}
	var added []string
	for p := range tree(t, root) {
		if !before[p] && !userDB[p] {
			added = append(added, p)
		}
	}
	sort.Strings(added)
	owned := owners(t, root, added)
	var left []string
	for _, p := range added {
		if !owned[p] {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Errorf("purge left %d path(s) behind:\n%s", len(left), strings.Join(left, "\n"))
	}
	if _, err := inRoot(root, "getent", "passwd", "_kea"); err != nil {
		t.Errorf("the _kea system user was removed; Debian policy keeps it: %v", err)
	}
}

// owners reports which of paths belong to an installed package.
func owners(t *testing.T, root string, paths []string) map[string]bool {
	t.Helper()
	owned := map[string]bool{}
	if len(paths) == 0 {
		return owned
	}
	// dpkg -S exits 1 when any path is unowned; its output still lists
	// the owned ones as "package[, package]: path".
	out, _ := inRoot(root, append([]string{"dpkg", "-S"}, paths...)...)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if _, p, ok := strings.Cut(sc.Text(), ": "); ok && !strings.HasPrefix(sc.Text(), "dpkg-query:") {
			owned[p] = true
		}
	}
	return owned
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
