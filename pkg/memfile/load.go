package memfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// RowError is a row that loading skipped.
type RowError struct {
	File string
	Line int
	Err  error
}

func (e RowError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// LoadReport says what loading found, for the start-up log.
type LoadReport struct {
	Files     []string      // files read, in order
	Rows      int           // data rows applied
	Leases    int           // leases in the store afterwards
	Skipped   []RowError    // unusable rows, skipped, with their file and line
	Truncated []string      // files whose last line was cut short (a crash mid-write) and dropped
	Took      time.Duration // how long loading took
	// Mirror says how the bbolt mirror was used: empty without one,
	// "used", or why it was rebuilt from the CSV files.
	Mirror string

	deleted []netip.Addr // addresses of deletion rows, for the mirror
}

// sources lists the files Kea reads at start-up, in order: after an
// interrupted cleanup <name>.completed then <name>; otherwise <name>.2,
// <name>.1 and <name>. Missing ones are skipped.
func sources(name string) []string {
	if _, err := os.Stat(name + ".completed"); err == nil {
		return []string{name + ".completed", name}
	}
	return []string{name + ".2", name + ".1", name}
}

// load reads every lease file of name into store, later rows winning, as
// Kea does. maxRowErrors > 0 aborts the load after that many bad rows.
func load(name string, store *lease.Store, maxRowErrors int) (LoadReport, error) {
	start := time.Now()
	var rep LoadReport
	for _, path := range sources(name) {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("memfile: %w", err)
		}
		rep.Files = append(rep.Files, path)
		err = loadFile(path, f, store, maxRowErrors, &rep)
		f.Close()
		if err != nil {
			return rep, err
		}
	}
	rep.Leases = store.Len()
	rep.Took = time.Since(start)
	return rep, nil
}

// loadFile applies one file's rows to the store.
func loadFile(path string, r io.Reader, store *lease.Store, maxRowErrors int, rep *LoadReport) error {
	return loadRows(path, r, schema{}, 0, store, maxRowErrors, rep)
}

// loadRows applies rows read from r to the store. A zero sch means r
// starts with the header; otherwise r starts after line skipped of a file
// with that layout (replaying a file from an offset).
func loadRows(path string, r io.Reader, sch schema, skipped int, store *lease.Store, maxRowErrors int, rep *LoadReport) error {
	br := bufio.NewReaderSize(r, 64<<10)
	header := sch.cols == 0
	for line := skipped + 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than any real row: skip to its end.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err := skip(rep, maxRowErrors, RowError{path, line, fmt.Errorf("%w: line longer than 64 KiB", ErrRow)}); err != nil {
				return err
			}
			continue
		}
		if err == io.EOF {
			if len(bytes.TrimSpace(b)) > 0 {
				// No newline at the end: the write of this row was cut
				// short. It was never acknowledged, so it is dropped.
				rep.Truncated = append(rep.Truncated, path)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("memfile: reading %s: %w", path, err)
		}
		text := string(bytes.TrimRight(b, "\n"))
		if header {
			header = false
			if sch, err = parseHeader(text); err != nil {
				return fmt.Errorf("memfile: %s: %v; this is not a Kea lease4 file", path, err)
			}
			continue
		}
		if text == "" {
			continue
		}
		l, err := sch.parseRow(text)
		if err != nil {
			if err := skip(rep, maxRowErrors, RowError{path, line, err}); err != nil {
				return err
			}
			continue
		}
		rep.Rows++
		apply(store, l, rep)
	}
}

// apply is Kea's rule for one row: valid lifetime 0 deletes the address's
// lease (Kea 3.x writes released leases that way too, so they vanish on
// reload, as in Kea); anything else inserts or replaces it.
func apply(store *lease.Store, l *lease.Lease, rep *LoadReport) {
	if l.ValidLft == 0 {
		store.Delete(l.Addr)
		rep.deleted = append(rep.deleted, l.Addr)
		return
	}
	store.Put(l)
}

func skip(rep *LoadReport, max int, e RowError) error {
	rep.Skipped = append(rep.Skipped, e)
	if max > 0 && len(rep.Skipped) > max {
		return fmt.Errorf("memfile: %d unusable rows, more than max-row-errors %d; the last: %v", len(rep.Skipped), max, e)
	}
	return nil
}
