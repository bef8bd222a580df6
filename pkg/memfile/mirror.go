package memfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// The mirror is a bbolt checkpoint of what the CSV files hold: one row per
// live lease, plus a description of the files it covers (which files, by
// inode and size, and how far into the current one). Loading takes the
// leases from it and reads only the current file's rows after that
// offset. The CSV stays the source of truth: the mirror is built from CSV
// rows only (never from memory, which may hold changes not yet durable),
// and one that does not match the files exactly is rebuilt, not trusted.

var (
	bucketLeases = []byte("leases")
	bucketMeta   = []byte("meta")
	keyMeta      = []byte("files")
)

// fileID identifies one file's contents well enough to notice that it was
// replaced or rewritten.
type fileID struct {
	Dev, Ino uint64
	Size     int64
}

// mirrorMeta is what a checkpoint covers.
type mirrorMeta struct {
	Rotated map[string]fileID // Path.2 and Path.1 as they were, by suffix
	Current fileID            // the current file; Size is the offset covered
	CRC     uint32            // CRC-32 of the current file up to the offset
}

func statID(path string) (fileID, bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileID{}, false, nil
	}
	if err != nil {
		return fileID{}, false, fmt.Errorf("memfile: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false, fmt.Errorf("memfile: %s: no inode information", path)
	}
	return fileID{Dev: uint64(sys.Dev), Ino: uint64(sys.Ino), Size: st.Size()}, true, nil
}

// rotatedIDs describes Path.2 and Path.1; a pending Path.completed makes
// the set unusable for a mirror (loading would read other files).
func rotatedIDs(p string) (map[string]fileID, error) {
	if exists(p + ".completed") {
		return nil, errors.New("an interrupted cleanup left " + p + ".completed")
	}
	ids := map[string]fileID{}
	for _, s := range []string{".2", ".1"} {
		id, ok, err := statID(p + s)
		if err != nil {
			return nil, err
		}
		if ok {
			ids[s] = id
		}
	}
	return ids, nil
}

// prefixCRC is the CRC-32 of f's first n bytes; checking it costs a read
// of the file, far less than parsing it.
func prefixCRC(f io.ReaderAt, n int64) (uint32, error) {
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, n)); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

func openMirror(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("memfile: opening lease mirror %s: %w", path, err)
	}
	return db, nil
}

// loadMirror loads the mirror's leases and the current file's rows after
// its offset into store, or says why the mirror cannot be used; store is
// untouched then.
func (j *Journal) loadMirror(store *lease.Store, rep *LoadReport) (why string, err error) {
	db, err := openMirror(j.opts.Mirror)
	if err != nil {
		return err.Error(), nil
	}
	defer db.Close()
	defer func() {
		if r := recover(); r != nil {
			why, err = fmt.Sprintf("it is damaged: %v", r), nil
		}
	}()
	p := j.opts.Path
	var meta mirrorMeta
	var leases []*lease.Lease
	err = db.View(func(tx *bolt.Tx) error {
		mb, lb := tx.Bucket(bucketMeta), tx.Bucket(bucketLeases)
		if mb == nil || lb == nil {
			return errors.New("it is empty")
		}
		if err := json.Unmarshal(mb.Get(keyMeta), &meta); err != nil {
			return fmt.Errorf("its file description is unreadable: %v", err)
		}
		sch := schema{cols: len(Columns)}
		return lb.ForEach(func(k, v []byte) error {
			l, err := sch.parseRow(string(v))
			if err != nil || len(k) != 4 || l.Addr.As4() != [4]byte(k) {
				return fmt.Errorf("its lease %x is damaged: %v", k, err)
			}
			leases = append(leases, l)
			return nil
		})
	})
	if err != nil {
		return err.Error(), nil
	}
	rotated, err := rotatedIDs(p)
	if err != nil {
		return err.Error(), nil
	}
	if !sameIDs(rotated, meta.Rotated) {
		return "the rotated lease files changed (a cleanup ran)", nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("memfile: %w", err)
	}
	defer f.Close()
	cur, _, err := statID(p)
	if err != nil {
		return "", err
	}
	switch {
	case cur.Dev != meta.Current.Dev || cur.Ino != meta.Current.Ino:
		return "the lease file was replaced", nil
	case cur.Size < meta.Current.Size:
		return "the lease file is shorter than the mirror's offset", nil
	}
	if crc, err := prefixCRC(f, meta.Current.Size); err != nil || crc != meta.CRC {
		return "the lease file's bytes before the mirror's offset changed", nil
	}
	for _, l := range leases {
		store.Put(l)
	}
	rep.Rows += len(leases)
	// Replay the rows committed since the checkpoint, numbering lines
	// from the offset.
	cols, err := headerWidth(p)
	if err != nil {
		return "", err
	}
	if _, err := f.Seek(meta.Current.Size, io.SeekStart); err != nil {
		return "", fmt.Errorf("memfile: %w", err)
	}
	rep.Files = append(rep.Files, j.opts.Mirror, fmt.Sprintf("%s from byte %d", p, meta.Current.Size))
	if err := loadRows(p+" after the mirror's offset", f, schema{cols: cols}, 0, store, j.opts.MaxRowErrors, rep); err != nil {
		return "", err
	}
	return "", nil
}

func sameIDs(a, b map[string]fileID) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Checkpoint brings the mirror up to date with the lease files: it reads
// the rows committed since the last checkpoint and applies them, or, when
// a cleanup replaced the files since, rebuilds it from all of them. Run it
// in the background (RunCheckpoint); commits continue meanwhile.
func (j *Journal) Checkpoint() error { return j.syncMirror(false) }

// syncMirror updates the mirror, from scratch when rebuild is set (after
// loading found it stale in a way its file description may not show).
func (j *Journal) syncMirror(rebuild bool) error {
	if !j.opts.Persist || j.opts.Mirror == "" {
		return nil
	}
	// No cleanup may rename files while we read them.
	j.lfcMu.Lock()
	defer j.lfcMu.Unlock()
	j.fileMu.Lock()
	size := j.size
	j.fileMu.Unlock()
	err := j.updateMirror(size, rebuild)
	if err == nil {
		return nil
	}
	// A damaged mirror is replaced, never repaired.
	if rerr := os.Remove(j.opts.Mirror); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return err
	}
	return j.updateMirror(size, true)
}

func (j *Journal) updateMirror(size int64, rebuild bool) (err error) {
	db, err := openMirror(j.opts.Mirror)
	if err != nil {
		return err
	}
	defer db.Close()
	// bbolt panics on some damaged pages; that is a damaged mirror, no
	// more.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("memfile: lease mirror %s is damaged: %v", j.opts.Mirror, r)
		}
	}()
	return db.Update(func(tx *bolt.Tx) error {
		return j.checkpoint(tx, size, rebuild)
	})
}

// checkpoint updates the mirror in tx to cover the current file up to size.
func (j *Journal) checkpoint(tx *bolt.Tx, size int64, rebuild bool) error {
	p := j.opts.Path
	var meta mirrorMeta
	incremental := false
	if mb := tx.Bucket(bucketMeta); !rebuild && mb != nil && tx.Bucket(bucketLeases) != nil {
		if json.Unmarshal(mb.Get(keyMeta), &meta) == nil {
			rotated, err := rotatedIDs(p)
			cur, _, serr := statID(p)
			incremental = err == nil && serr == nil && sameIDs(rotated, meta.Rotated) &&
				cur.Dev == meta.Current.Dev && cur.Ino == meta.Current.Ino && meta.Current.Size <= size
		}
	}
	s := lease.NewStore()
	var rep LoadReport
	from := meta.Current.Size
	if !incremental {
		from = 0
		for _, b := range [][]byte{bucketLeases, bucketMeta} {
			if tx.Bucket(b) != nil {
				if err := tx.DeleteBucket(b); err != nil {
					return err
				}
			}
		}
		for _, src := range []string{p + ".2", p + ".1"} {
			if err := loadPath(src, s, &rep); err != nil {
				return err
			}
		}
	}
	lb, err := tx.CreateBucketIfNotExists(bucketLeases)
	if err != nil {
		return err
	}
	mb, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("memfile: %w", err)
	}
	defer f.Close()
	cur, _, err := statID(p)
	if err != nil {
		return err
	}
	// Rows after from, up to the last one known durable.
	rows := make([]byte, size-from)
	if _, err := f.ReadAt(rows, from); err != nil {
		return fmt.Errorf("memfile: reading %s: %w", p, err)
	}
	crc := crc32.Update(meta.CRC, crc32.IEEETable, rows)
	if !incremental {
		crc = crc32.ChecksumIEEE(rows)
	}
	r := bytes.NewReader(rows)
	var deleted []netip.Addr
	if from == 0 {
		err = loadFile(p, r, s, 0, &rep)
	} else {
		cols, herr := headerWidth(p)
		if herr != nil {
			return herr
		}
		// s holds only the rows after the offset; the deletions
		// among them are applied to the mirror below.
		err = loadRows(p, r, schema{cols: cols}, 0, s, 0, &rep)
		deleted = rep.deleted
	}
	if err != nil {
		return err
	}
	for _, a := range deleted {
		if _, ok := s.Get(a); !ok {
			if err := lb.Delete(a.AsSlice()); err != nil {
				return err
			}
		}
	}
	for _, l := range s.All() {
		if err := lb.Put(l.Addr.AsSlice(), []byte(strings.TrimSuffix(FormatRow(l), "\n"))); err != nil {
			return err
		}
	}
	rotated, err := rotatedIDs(p)
	if err != nil {
		return err
	}
	meta = mirrorMeta{Rotated: rotated, Current: fileID{Dev: cur.Dev, Ino: cur.Ino, Size: size}, CRC: crc}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return mb.Put(keyMeta, b)
}

// loadPath loads one file if it exists.
func loadPath(path string, s *lease.Store, rep *LoadReport) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("memfile: %w", err)
	}
	defer f.Close()
	return loadFile(path, f, s, 0, rep)
}

// RunCheckpoint runs Checkpoint each time tick fires until ctx ends,
// handing each outcome to report.
func (j *Journal) RunCheckpoint(ctx context.Context, tick <-chan time.Time, report func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			err := j.Checkpoint()
			if report != nil {
				report(err)
			}
		}
	}
}
