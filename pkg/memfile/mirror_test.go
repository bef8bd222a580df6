package memfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// loadWithMirror opens the files with the mirror and loads them, checking
// the result against want.
func loadWithMirror(t *testing.T, opts Options, want *lease.Store) LoadReport {
	t.Helper()
	j, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	got := lease.NewStore()
	rep, err := j.Load(got)
	if err != nil || len(rep.Skipped) != 0 {
		t.Fatalf("load: %v, skipped %v", err, rep.Skipped)
	}
	sameLeases(t, got, want)
	return rep
}

func TestMirror(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Path: filepath.Join(dir, "l.csv"), Persist: true, Mirror: filepath.Join(dir, "l.db")}
	j, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	want := lease.NewStore()
	history(t, j, want, 0, 30)
	if err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	history(t, j, want, 30, 12) // renewals and deletes applied incrementally
	if err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	history(t, j, want, 42, 9) // rows the mirror does not cover yet
	j.Close()

	rep := loadWithMirror(t, opts, want)
	if rep.Mirror != "used" {
		t.Fatalf("mirror %q, want used", rep.Mirror)
	}
	// The mirror's leases plus the 9 rows after its offset.
	if rep.Rows >= 51 || rep.Rows < 9 {
		t.Errorf("%d rows read; the mirror should have spared most of the 51", rep.Rows)
	}
}

// TestMirrorNotTrusted makes the mirror stale or damaged in each way it
// can be and checks that loading falls back to the CSV files, says why,
// and rebuilds the mirror so the next load uses it again.
func TestMirrorNotTrusted(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, j *Journal, opts Options)
		why   string
	}{
		{"missing", func(t *testing.T, j *Journal, opts Options) { os.Remove(opts.Mirror) }, "empty"},
		{"cleanup since", func(t *testing.T, j *Journal, opts Options) {
			if err := j.Cleanup(); err != nil {
				t.Fatal(err)
			}
		}, "cleanup"},
		{"file replaced", func(t *testing.T, j *Journal, opts Options) {
			b, _ := os.ReadFile(opts.Path)
			os.Remove(opts.Path)
			os.WriteFile(opts.Path, b, 0o644)
		}, "replaced"},
		{"file cut short", func(t *testing.T, j *Journal, opts Options) {
			os.Truncate(opts.Path, int64(len(Header)))
		}, "shorter"},
		{"rows before the offset rewritten", func(t *testing.T, j *Journal, opts Options) {
			b, _ := os.ReadFile(opts.Path)
			b = []byte(strings.Replace(string(b), "02:00:00:00:00:01", "02:00:00:00:00:99", 1))
			f, _ := os.OpenFile(opts.Path, os.O_WRONLY, 0)
			f.WriteAt(b, 0)
			f.Close()
		}, "changed"},
		{"garbage", func(t *testing.T, j *Journal, opts Options) {
			os.WriteFile(opts.Mirror, []byte(strings.Repeat("not a bolt file\n", 1000)), 0o644)
		}, "mirror"},
		{"damaged page", func(t *testing.T, j *Journal, opts Options) {
			f, _ := os.OpenFile(opts.Mirror, os.O_WRONLY, 0)
			f.WriteAt([]byte(strings.Repeat("\xff", 4096)), 2*4096)
			f.Close()
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Path: filepath.Join(dir, "l.csv"), Persist: true, Mirror: filepath.Join(dir, "l.db")}
			j, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			want := lease.NewStore()
			history(t, j, want, 0, 30)
			if err := j.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			tt.spoil(t, j, opts)
			j.Close()
			// What the CSV files hold now is the truth.
			want = lease.NewStore()
			if _, err := load(opts.Path, want, 0); err != nil {
				t.Fatal(err)
			}

			rep := loadWithMirror(t, opts, want)
			if rep.Mirror == "used" && tt.why != "" {
				t.Fatalf("a spoiled mirror was used")
			}
			if !strings.Contains(rep.Mirror, tt.why) {
				t.Errorf("mirror %q, want the reason to mention %q", rep.Mirror, tt.why)
			}
			if rep := loadWithMirror(t, opts, want); rep.Mirror != "used" {
				t.Errorf("after the rebuild: mirror %q, want used", rep.Mirror)
			}
		})
	}
}

func TestRunCheckpoint(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Path: filepath.Join(dir, "l.csv"), Persist: true, Mirror: filepath.Join(dir, "l.db")}
	j, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	want := lease.NewStore()
	ticks := make(chan time.Time)
	reports := make(chan error)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go j.RunCheckpoint(ctx, ticks, func(err error) { reports <- err })
	for round := range 3 {
		history(t, j, want, round*10, 10)
		ticks <- time.Now()
		if err := <-reports; err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	j.Close()
	if rep := loadWithMirror(t, opts, want); rep.Mirror != "used" || rep.Rows != want.Len() {
		t.Errorf("mirror %q, %d rows read; want the mirror's %d leases and nothing after", rep.Mirror, rep.Rows, want.Len())
	}
}
