package memfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// Journal appends lease changes to the lease file and makes them durable.
//
// Commit returns only after the rows are on stable storage (fdatasync).
// Concurrent callers share flushes: the first caller to find no flush
// running becomes the leader and writes and syncs everything queued by
// then, including rows that arrived while it worked, so under load one
// fdatasync covers many workers' leases.
type Journal struct {
	path string
	f    *os.File // nil when persist is false
	size int64    // bytes of complete rows in the file; only the flush leader touches it

	mu       sync.Mutex
	queue    []byte
	waiters  []chan error
	flushing bool
}

// Open opens (creating it if needed) the lease file at path for
// appending. A file whose last line was cut short by a crash is truncated
// to its last complete row first, so new rows never join a partial one;
// that row was never acknowledged. persist false gives a journal that
// keeps nothing, for `persist: false`.
func Open(path string, persist bool) (*Journal, error) {
	j := &Journal{path: path}
	if !persist {
		return j, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("memfile: opening lease file: %w", err)
	}
	end, err := completeLength(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("memfile: %s: %w", path, err)
	}
	if err := f.Truncate(end); err != nil {
		f.Close()
		return nil, fmt.Errorf("memfile: %s: repairing a cut-short last row: %w", path, err)
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	j.f, j.size = f, end
	if end == 0 {
		if err := j.write([]byte(Header)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return j, nil
}

// completeLength is the size of the file up to and including its last
// newline.
func completeLength(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	buf := make([]byte, 4096)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// Path is the lease file.
func (j *Journal) Path() string { return j.path }

// Commit appends one row per change, as Kea writes them, and returns once
// they are durable. A deletion is written as Kea writes it: a copy of the
// stored lease with valid lifetime 0.
func (j *Journal) Commit(changes ...lease.Change) error {
	if j.f == nil || len(changes) == 0 {
		return nil
	}
	var rows []byte
	for _, c := range changes {
		rows = append(rows, rowFor(c)...)
	}
	done := make(chan error, 1)
	j.mu.Lock()
	j.queue = append(j.queue, rows...)
	j.waiters = append(j.waiters, done)
	if j.flushing {
		j.mu.Unlock()
		return <-done
	}
	j.flushing = true
	for len(j.waiters) > 0 {
		batch, waiters := j.queue, j.waiters
		j.queue, j.waiters = nil, nil
		j.mu.Unlock()
		err := j.write(batch)
		for _, w := range waiters {
			w <- err
		}
		j.mu.Lock()
	}
	j.flushing = false
	j.mu.Unlock()
	return <-done
}

func rowFor(c lease.Change) string {
	if c.New != nil {
		return FormatRow(c.New)
	}
	del := *c.Old
	del.ValidLft = 0
	return FormatRow(&del)
}

// write appends b and syncs it. On failure (a full disk) the file is cut
// back to its last complete row, so later rows never follow a partial one.
func (j *Journal) write(b []byte) error {
	if _, err := j.f.Write(b); err != nil {
		j.f.Truncate(j.size)
		j.f.Seek(j.size, io.SeekStart)
		return fmt.Errorf("memfile: appending to %s: %w", j.path, err)
	}
	if err := datasync(j.f); err != nil {
		return err
	}
	j.size += int64(len(b))
	return nil
}

func datasync(f *os.File) error {
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("memfile: flushing %s: %w", f.Name(), err)
	}
	return nil
}

// Close closes the lease file.
func (j *Journal) Close() error {
	if j.f == nil {
		return nil
	}
	return j.f.Close()
}
