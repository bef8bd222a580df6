// Package pidfile makes sure one daemon runs per configuration file, in a
// way that a crash can never block the next start.
//
// The pid file is held with an exclusive flock(2) for the life of the
// process. The kernel drops the lock when the process dies, however it
// dies, so a file left behind by a killed daemon is simply taken over;
// a second daemon on the same configuration finds the lock held and
// refuses to start, naming the pid that holds it.
package pidfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// File is a held pid file.
type File struct {
	f    *os.File
	path string
}

// Path is where kea-dhcp4 keeps the pid file for a configuration file:
// <dir>/<config base name without extension>.kea-dhcp4.pid, with dir from
// KEA_PIDFILE_DIR or /run/kea. Using Kea's name keeps operators' scripts
// working.
func Path(configPath, dir string) string {
	if dir == "" {
		dir = "/run/kea"
	}
	base := filepath.Base(configPath)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	return filepath.Join(dir, base+".kea-dhcp4.pid")
}

// ErrRunning is returned by Acquire when another live process holds the
// pid file.
var ErrRunning = errors.New("another instance is running")

// Acquire creates or takes over the pid file at path, locks it and writes
// this process's pid into it.
func Acquire(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("pidfile: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pidfile: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := readPID(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("pidfile: %s is held by pid %s: %w; stop it first", path, holder, ErrRunning)
		}
		return nil, fmt.Errorf("pidfile: locking %s: %w", path, err)
	}
	// The lock is ours: whatever the file held came from a dead process.
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("pidfile: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("pidfile: writing %s: %w", path, err)
	}
	return &File{f: f, path: path}, nil
}

func readPID(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if s := strings.TrimSpace(string(b[:n])); s != "" {
		return s
	}
	return "unknown"
}

// Release removes the pid file and drops the lock.
func (p *File) Release() error {
	err := os.Remove(p.path)
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	return err
}
