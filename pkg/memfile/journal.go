package memfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// Options configure a Journal; they mirror Kea's lease-database map.
type Options struct {
	// Path is the lease file (Kea's "name"). Kea's rotated files live
	// beside it as Path.1, Path.2, Path.output and Path.completed.
	Path string
	// Persist false keeps leases in memory only: no file is read or
	// written, as with Kea's `persist: false`.
	Persist bool
	// Format is the layout new rows are written in (Kea3 by default).
	Format Format
	// MaxRowErrors > 0 fails loading after that many unusable rows.
	MaxRowErrors int
	// Mirror, when set, is the path of a bbolt checkpoint of the lease
	// files that makes loading read only what was committed since (see
	// Checkpoint). Empty means none.
	Mirror string
	// Discarded, when set, is told of each unusable row a cleanup drops
	// as it compacts (Load reports its own in LoadReport.Skipped), so that
	// none goes unlogged: Kea's cleanup logs them as its loading does.
	// Open's conversion of an older layout is such a cleanup.
	Discarded func(RowError)

	// step, when set, is called after each step of Cleanup with the
	// step's name; an error stops Cleanup there, as a crash would.
	step func(name string) error
}

// Journal appends lease changes to the lease file and makes them durable.
//
// Commit returns only after the rows are on stable storage (fdatasync).
// Concurrent callers share flushes: the first caller to find no flush
// running becomes the leader and writes and syncs everything queued by
// then, including rows that arrived while it worked, so under load one
// fdatasync covers many workers' leases.
type Journal struct {
	opts Options

	fileMu sync.Mutex // guards f and size: the flush leader and Cleanup's rotation
	f      *os.File   // nil when persist is false
	size   int64      // bytes of complete rows in f

	mu       sync.Mutex // guards the queue below
	queue    []byte
	waiters  []chan error
	flushing bool
	// spare and spareWaiters are the slices of the flush before, emptied:
	// the next queue fills them, so two buffers take turns.
	spare        []byte
	spareWaiters []chan error
	// rows holds *[]byte buffers Commit formats its rows in.
	rows sync.Pool

	lfcMu sync.Mutex // one Cleanup at a time
}

// Open opens (creating it if needed) the lease file for appending. A file
// whose last line was cut short by a crash is truncated to its last
// complete row first, so new rows never join a partial one; that row was
// never acknowledged. A file whose header has another width than
// opts.Format writes is rotated away by a Cleanup at once, as Kea runs LFC
// after loading a file that needed converting, so a header never sits over
// rows of another width. Call Load before the first Commit.
func Open(opts Options) (*Journal, error) {
	j := &Journal{opts: opts}
	if !opts.Persist {
		return j, nil
	}
	if err := checkLFCPid(opts.Path + ".pid"); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("memfile: opening lease file: %w", err)
	}
	if err := j.attach(f); err != nil {
		f.Close()
		return nil, err
	}
	cols, err := headerWidth(opts.Path)
	if err != nil {
		f.Close()
		return nil, err
	}
	if cols != opts.Format.columns() {
		if err := j.Cleanup(); err != nil {
			f.Close()
			return nil, fmt.Errorf("memfile: %s has %d columns, converting it to %d: %w", opts.Path, cols, opts.Format.columns(), err)
		}
	}
	return j, nil
}

// attach makes f the file rows are appended to: a partial last row is cut
// off, and an empty file gets the header.
func (j *Journal) attach(f *os.File) error {
	end, err := completeLength(f)
	if err != nil {
		return fmt.Errorf("memfile: %s: %w", f.Name(), err)
	}
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("memfile: %s: repairing a cut-short last row: %w", f.Name(), err)
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return fmt.Errorf("memfile: %s: %w", f.Name(), err)
	}
	j.f, j.size = f, end
	if end == 0 {
		if err := j.write([]byte(j.opts.Format.header())); err != nil {
			return err
		}
		return syncDir(f.Name())
	}
	return nil
}

// headerWidth is the number of columns in the header of the file at path,
// which must be a valid Kea lease4 header.
func headerWidth(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("memfile: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("memfile: reading the header of %s: %w", path, err)
	}
	sch, err := parseHeader(strings.TrimSuffix(line, "\n"))
	if err != nil {
		return 0, fmt.Errorf("memfile: %s: %v; this is not a Kea lease4 file: fix or move it", path, err)
	}
	return sch.cols, nil
}

// checkLFCPid refuses to start while Kea's kea-lfc still compacts these
// files, as Kea does: its pid file names a live process.
func checkLFCPid(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil // no kea-lfc ran, or its pid file is unreadable: nothing to wait for
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return nil
	}
	if err := unix.Kill(pid, 0); err == nil || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("memfile: %s: kea-lfc (pid %d) is still compacting the lease files; wait for it to finish and start again", path, pid)
	}
	return nil
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
func (j *Journal) Path() string { return j.opts.Path }

// Load reads the lease files into store as Kea does at start-up (see
// LoadReport); call it once, into an empty store, before serving. With a
// mirror that matches the files it loads the mirror and the rows committed
// after it; a missing, stale or damaged mirror is ignored, the CSV files
// are read in full, and the mirror is rebuilt from them (the report's
// Mirror says which happened). With persist false it loads nothing.
func (j *Journal) Load(store *lease.Store) (LoadReport, error) {
	if !j.opts.Persist {
		return LoadReport{}, nil
	}
	if j.opts.Mirror == "" {
		return load(j.opts.Path, store, j.opts.MaxRowErrors)
	}
	start := time.Now()
	var rep LoadReport
	why, err := j.loadMirror(store, &rep)
	if err != nil {
		return rep, err
	}
	if why == "" {
		rep.Mirror = "used"
		rep.Leases = store.Len()
		rep.Took = time.Since(start)
		return rep, nil
	}
	rep, err = load(j.opts.Path, store, j.opts.MaxRowErrors)
	if err != nil {
		return rep, err
	}
	rep.Mirror = "rebuilt: " + why
	if err := j.syncMirror(true); err != nil {
		rep.Mirror += fmt.Sprintf("; rebuilding failed, loading will read the CSV files again: %v", err)
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// Commit appends one row per change, as Kea writes them, and returns once
// they are durable. A deletion is written as Kea writes it: a copy of the
// stored lease with valid lifetime 0.
func (j *Journal) Commit(changes ...lease.Change) error {
	if !j.opts.Persist || len(changes) == 0 {
		return nil
	}
	buf, _ := j.rows.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	rows := (*buf)[:0]
	for _, c := range changes {
		rows = j.appendRow(rows, c)
	}
	done := make(chan error, 1)
	j.mu.Lock()
	j.queue = append(j.queue, rows...)
	j.waiters = append(j.waiters, done)
	if cap(rows) <= keptBuffer {
		*buf = rows
		j.rows.Put(buf)
	}
	if j.flushing {
		j.mu.Unlock()
		return <-done
	}
	j.flushing = true
	for len(j.waiters) > 0 {
		batch, waiters := j.queue, j.waiters
		j.queue, j.waiters, j.spare, j.spareWaiters = j.spare, j.spareWaiters, nil, nil
		j.mu.Unlock()
		j.fileMu.Lock()
		err := j.write(batch)
		j.fileMu.Unlock()
		for _, w := range waiters {
			w <- err
		}
		clear(waiters)
		j.mu.Lock()
		j.spareWaiters = waiters[:0]
		if cap(batch) <= keptBuffer {
			j.spare = batch[:0]
		}
	}
	j.flushing = false
	j.mu.Unlock()
	return <-done
}

// keptBuffer bounds the row buffers a Journal keeps for reuse: the rows
// of a few thousand leases, where a sync's pages can pass through once.
const keptBuffer = 1 << 20

// appendRow appends the row that records c: the new lease, or for a
// deletion the old one with a valid lifetime of 0.
func (j *Journal) appendRow(b []byte, c lease.Change) []byte {
	if c.New != nil {
		return j.opts.Format.appendRow(b, c.New)
	}
	del := *c.Old
	del.ValidLft = 0
	return j.opts.Format.appendRow(b, &del)
}

// write appends b and syncs it; the caller holds fileMu (or owns j
// exclusively). On failure (a full disk, an I/O error) the file is cut
// back to where it was: the callers are told the rows were not saved and
// undo them in memory, so they must not come back at the next load, and
// later rows must never follow a partial one.
func (j *Journal) write(b []byte) error {
	if err := appendSync(j.f, b); err != nil {
		j.f.Truncate(j.size)
		j.f.Seek(j.size, io.SeekStart)
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

// appendSync writes b at the end of f and makes it durable, with raw
// system calls. The scheduler-aware ones (os.File.Write, unix.Fdatasync)
// wake the Go runtime's sysmon thread each time the process had gone
// idle, and it then polls every 20µs for a millisecond or more; at a few
// hundred commits a second that polling cost more CPU than the commits.
// The price is that this goroutine keeps its P while the disk works, which
// the packet path does anyway, since its replies wait for the flush.
func appendSync(f *os.File, b []byte) error {
	fd := f.Fd()
	for len(b) > 0 {
		n, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return fmt.Errorf("memfile: appending to %s: %w", f.Name(), e)
		}
		b = b[n:]
	}
	for {
		_, _, e := unix.RawSyscall(unix.SYS_FDATASYNC, fd, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return fmt.Errorf("memfile: flushing %s: %w", f.Name(), e)
		}
		return nil
	}
}

// syncDir makes renames and creations in path's directory durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("memfile: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("memfile: flushing directory %s: %w", d.Name(), err)
	}
	return nil
}

// Close closes the lease file.
func (j *Journal) Close() error {
	if !j.opts.Persist {
		return nil
	}
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	return j.f.Close()
}
