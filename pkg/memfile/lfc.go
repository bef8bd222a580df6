package memfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// Cleanup is Kea's lease file cleanup (LFC), done in-process: the current
// file is rotated to Path.1 and a fresh one started, then Path.2 and
// Path.1 are compacted into Path.output holding one row per live lease,
// which becomes Path.completed and finally Path.2. The files on disk are
// always ones Kea's loading rules (see load) read in full, so a crash
// at any step loses nothing: each step is made durable (fdatasync of the
// data, fsync of the directory) before the next one starts, and a Cleanup
// after a crash first finishes what the interrupted one left behind.
// Commits continue during Cleanup; only the rotation holds them briefly.
func (j *Journal) Cleanup() error {
	if !j.opts.Persist {
		return nil
	}
	j.lfcMu.Lock()
	defer j.lfcMu.Unlock()
	p := j.opts.Path
	if exists(p + ".completed") {
		// An interrupted cleanup finished compacting; finish moving.
		if err := j.finish(); err != nil {
			return err
		}
	}
	if exists(p + ".1") {
		// An interrupted cleanup rotated but did not compact.
		if err := j.compactAndFinish(); err != nil {
			return err
		}
	}
	if err := j.rotate(); err != nil {
		return err
	}
	return j.compactAndFinish()
}

// RunCleanup runs Cleanup each time tick fires (a time.Ticker's channel
// every lfc-interval) until ctx ends, calling started, when set, as each
// run begins, and handing each outcome to report.
func (j *Journal) RunCleanup(ctx context.Context, tick <-chan time.Time, started func(), report func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if started != nil {
				started()
			}
			err := j.Cleanup()
			if report != nil {
				report(err)
			}
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (j *Journal) step(name string) error {
	if j.opts.step == nil {
		return nil
	}
	if err := j.opts.step(name); err != nil {
		return fmt.Errorf("memfile: cleanup stopped after %s: %w", name, err)
	}
	return nil
}

// rotate renames the current file to Path.1 and starts a fresh one; new
// commits go to the fresh file.
func (j *Journal) rotate() error {
	p := j.opts.Path
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	if err := os.Rename(p, p+".1"); err != nil {
		return fmt.Errorf("memfile: cleanup: rotating %s: %w", p, err)
	}
	old := j.f
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		if err = j.attach(f); err != nil {
			f.Close()
			os.Remove(p)
		}
	}
	if err != nil {
		// Put the old file back, so commits keep going to the file that
		// loading reads last and a later cleanup never compacts a file
		// still being written. If even that fails, commits fail safely on
		// the closed file rather than vanish.
		j.f = old
		if rerr := os.Rename(p+".1", p); rerr != nil {
			old.Close()
			return fmt.Errorf("memfile: cleanup: starting a new %s: %w; moving %s.1 back also failed (%v), so lease changes cannot be saved until restart", p, err, p, rerr)
		}
		return fmt.Errorf("memfile: cleanup: starting a new %s: %w", p, err)
	}
	old.Close()
	return j.step("rotated")
}

// compactAndFinish writes the leases of Path.2 and Path.1 to
// Path.completed and then replaces Path.2 with it.
func (j *Journal) compactAndFinish() error {
	if err := j.compact(); err != nil {
		return err
	}
	return j.finish()
}

// compact loads Path.2 and Path.1 as Kea does and writes the surviving
// leases, one row each, to Path.output, then renames that to
// Path.completed.
func (j *Journal) compact() error {
	p := j.opts.Path
	s := lease.NewStore()
	var rep LoadReport
	for _, src := range []string{p + ".2", p + ".1"} {
		f, err := os.Open(src)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("memfile: cleanup: %w", err)
		}
		err = loadFile(src, f, s, 0, &rep)
		f.Close()
		if err != nil {
			return fmt.Errorf("memfile: cleanup: %w", err)
		}
	}
	if j.opts.Discarded != nil {
		for _, e := range rep.Skipped {
			j.opts.Discarded(e)
		}
	}
	out := p + ".output"
	if err := writeLeases(out, j.opts.Format, s.All()); err != nil {
		return err
	}
	if err := j.step("output"); err != nil {
		return err
	}
	if err := os.Rename(out, p+".completed"); err != nil {
		return fmt.Errorf("memfile: cleanup: %w", err)
	}
	if err := syncDir(p); err != nil {
		return err
	}
	return j.step("completed")
}

// writeLeases writes a whole lease file and syncs it.
func writeLeases(path string, format Format, leases []*lease.Lease) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("memfile: cleanup: %w", err)
	}
	buf := []byte(format.header())
	for _, l := range leases {
		buf = format.appendRow(buf, l)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("memfile: cleanup: writing %s: %w", path, err)
	}
	return nil
}

// finish replaces Path.2 and Path.1 by Path.completed, which holds all
// their leases: from the moment .completed exists, loading reads it
// instead of them, so removing them first loses nothing.
func (j *Journal) finish() error {
	p := j.opts.Path
	for _, old := range []string{p + ".2", p + ".1"} {
		if err := os.Remove(old); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("memfile: cleanup: %w", err)
		}
		if err := j.step("removed " + old[len(p):]); err != nil {
			return err
		}
	}
	if err := syncDir(p); err != nil {
		return err
	}
	if err := os.Rename(p+".completed", p+".2"); err != nil {
		return fmt.Errorf("memfile: cleanup: %w", err)
	}
	if err := syncDir(p); err != nil {
		return err
	}
	return j.step("renamed")
}
