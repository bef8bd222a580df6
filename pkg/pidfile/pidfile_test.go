package pidfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	tests := []struct{ conf, dir, want string }{
		{"/etc/kea/kea-dhcp4.conf", "", "/run/kea/kea-dhcp4.kea-dhcp4.pid"},
		{"lab/single.conf", "/tmp/x", "/tmp/x/single.kea-dhcp4.pid"},
		{"noext", "/d", "/d/noext.kea-dhcp4.pid"},
	}
	for _, tt := range tests {
		if got := Path(tt.conf, tt.dir); got != tt.want {
			t.Errorf("Path(%q, %q) = %q, want %q", tt.conf, tt.dir, got, tt.want)
		}
	}
}

func TestAcquireWritesPIDAndRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.pid")
	p, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("pid file holds %q, want our pid %d", b, os.Getpid())
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("pid file still there after Release: %v", err)
	}
}

// TestStaleFileIsTakenOver: a pid file left by a dead process (here, one
// with a pid that is not ours and no lock) does not block a start.
func TestStaleFileIsTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.pid")
	if err := os.WriteFile(path, []byte("999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Acquire(path)
	if err != nil {
		t.Fatalf("stale pid file blocked the start: %v", err)
	}
	defer p.Release()
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("pid file holds %q after takeover", b)
	}
}

// TestSecondInstanceRefused runs a helper process that holds the lock and
// checks that Acquire here fails with ErrRunning naming that process.
func TestSecondInstanceRefused(t *testing.T) {
	if os.Getenv("PIDFILE_HOLDER") != "" {
		if _, err := Acquire(os.Getenv("PIDFILE_HOLDER")); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		os.Stdin.Read(make([]byte, 1)) // hold until the parent closes stdin
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "a.pid")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondInstanceRefused$")
	cmd.Env = append(os.Environ(), "PIDFILE_HOLDER="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	buf := make([]byte, 5)
	if _, err := stdout.Read(buf); err != nil || string(buf[:4]) != "held" {
		t.Fatalf("holder did not take the lock: %q %v", buf, err)
	}
	_, err := Acquire(path)
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("Acquire while another process holds the lock: %v, want ErrRunning", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("error %q does not name the holder's pid %d", err, cmd.Process.Pid)
	}
	// Once the holder dies (killed, not stopped cleanly), the file is free.
	cmd.Process.Kill()
	cmd.Wait()
	p, err := Acquire(path)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	p.Release()
}
