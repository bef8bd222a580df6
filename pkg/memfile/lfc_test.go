package memfile

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// history commits a mix of adds, renewals and deletes to j and applies the
// same changes to want, the store loading must reproduce.
func history(t *testing.T, j *Journal, want *lease.Store, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		l := mkLease(i % 7)
		var c lease.Change
		switch old, ok := want.Get(l.Addr); {
		case ok && i%3 == 0:
			c = lease.Change{Old: old}
			want.Delete(l.Addr)
		case ok:
			l.CLTT = old.CLTT.Add(time.Minute)
			c = lease.Change{Old: old, New: l}
			want.Put(l)
		default:
			c = lease.Change{New: l}
			want.Put(l)
		}
		if err := j.Commit(c); err != nil {
			t.Fatal(err)
		}
	}
}

// checkLoad opens the lease files afresh and checks they hold want.
func checkLoad(t *testing.T, path string, want *lease.Store) {
	t.Helper()
	j, err := Open(Options{Path: path, Persist: true})
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
}

func sameLeases(t *testing.T, got, want *lease.Store) {
	t.Helper()
	g, w := got.All(), want.All()
	if len(g) != len(w) {
		t.Fatalf("%d leases, want %d", len(g), len(w))
	}
	for i := range g {
		if !lease.Equal(g[i], w[i]) {
			t.Errorf("lease %d: %+v, want %+v", i, g[i], w[i])
		}
	}
}

func TestCleanup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kea-leases4.csv")
	j, err := Open(Options{Path: path, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	want := lease.NewStore()
	history(t, j, want, 0, 30)
	for round := range 2 {
		if err := j.Cleanup(); err != nil {
			t.Fatal(err)
		}
		if exists(path+".1") || exists(path+".completed") || exists(path+".output") || !exists(path+".2") {
			t.Fatalf("round %d: files left: %v", round, lsDir(t, filepath.Dir(path)))
		}
		compacted, _ := os.ReadFile(path + ".2")
		if rows := strings.Count(string(compacted), "\n") - 1; rows != want.Len() {
			t.Errorf("round %d: .2 holds %d rows, want one per lease (%d)", round, rows, want.Len())
		}
		if cur, _ := os.ReadFile(path); string(cur) != Header {
			t.Errorf("round %d: the new current file holds %q, want only the header", round, cur)
		}
		history(t, j, want, 30+round*10, 10) // commits continue into the new file
	}
	j.Close()
	checkLoad(t, path, want)
}

// TestCleanupCrash stops Cleanup after each of its steps, as a crash
// would, and checks that loading then finds every committed lease, that
// commits made afterwards are kept, and that the next Cleanup completes.
func TestCleanupCrash(t *testing.T) {
	steps := []string{"rotated", "output", "completed", "removed .2", "removed .1", "renamed"}
	for _, stop := range steps {
		t.Run(stop, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "l.csv")
			crash := errors.New("crash")
			armed := false
			opts := Options{Path: path, Persist: true, step: func(name string) error {
				if armed && name == stop {
					return crash
				}
				return nil
			}}
			j, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			want := lease.NewStore()
			history(t, j, want, 0, 20)
			if err := j.Cleanup(); err != nil { // leaves a .2 behind
				t.Fatal(err)
			}
			history(t, j, want, 20, 20)
			armed = true
			if err := j.Cleanup(); !errors.Is(err, crash) {
				t.Fatalf("cleanup: %v, want the injected crash", err)
			}
			j.Close()
			checkLoad(t, path, want)

			// Restart: commit more, clean up fully, and check again.
			armed = false
			j, err = Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			history(t, j, want, 40, 10)
			if err := j.Cleanup(); err != nil {
				t.Fatal(err)
			}
			j.Close()
			if exists(path+".1") || exists(path+".completed") {
				t.Errorf("files left after recovery: %v", lsDir(t, filepath.Dir(path)))
			}
			checkLoad(t, path, want)
		})
	}
}

// TestCrashMidRotation covers the moment between renaming the current
// file to .1 and creating its successor, and a half-written .output.
func TestCrashMidRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	j, err := Open(Options{Path: path, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	want := lease.NewStore()
	history(t, j, want, 0, 20)
	j.Close()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".output", []byte(Header+"192.0.2.1,01:02,,100,2"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkLoad(t, path, want)
}

func lsDir(t *testing.T, dir string) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestCleanupWhileCommitting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	j, err := Open(Options{Path: path, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if err := j.Commit(lease.Change{New: mkLease(w*50 + i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	ticks := make(chan time.Time)
	reports := make(chan error)
	var starts atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	go j.RunCleanup(ctx, ticks, func() { starts.Add(1) }, func(err error) { reports <- err })
	for i := range 3 {
		ticks <- time.Now()
		if err := <-reports; err != nil {
			t.Error(err)
		}
		if n := starts.Load(); n != int32(i+1) {
			t.Errorf("after run %d, %d runs started", i+1, n)
		}
	}
	cancel()
	wg.Wait()
	j.Close()
	s := lease.NewStore()
	if _, err := load(path, s, 0); err != nil || s.Len() != 200 {
		t.Fatalf("after commits racing cleanups: %d leases, %v; want 200", s.Len(), err)
	}
}

func TestOpenConvertsWidth(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		format Format
		header string
	}{
		{"Kea 2.2 file, Kea 3 rows", "testdata/kea22.csv", Kea3, Header},
		{"Kea 3 file, Kea 2.2 rows", "testdata/kea3.csv", Kea22, strings.Join(Columns[:11], ",") + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := os.ReadFile(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "l.csv")
			os.WriteFile(path, src, 0o644)
			before := lease.NewStore()
			load(tt.src, before, 0)

			j, err := Open(Options{Path: path, Persist: true, Format: tt.format})
			if err != nil {
				t.Fatal(err)
			}
			if cur, _ := os.ReadFile(path); string(cur) != tt.header {
				t.Errorf("current file %q, want a fresh %q", cur, tt.header)
			}
			if err := j.Commit(lease.Change{New: mkLease(1)}); err != nil {
				t.Fatal(err)
			}
			before.Put(mkLease(1))
			for _, f := range []string{path + ".2", path} {
				b, _ := os.ReadFile(f)
				for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
					if strings.Count(line, ",") != strings.Count(tt.header, ",") {
						t.Errorf("%s: line %q has another width than the header %q", f, line, tt.header)
					}
				}
			}
			got := lease.NewStore()
			if _, err := j.Load(got); err != nil {
				t.Fatal(err)
			}
			if tt.format == Kea22 {
				// pool_id is not in the 2.2 layout: it reads back as 0.
				for _, l := range before.All() {
					c := l.Clone()
					c.PoolID = 0
					before.Put(c)
				}
			}
			sameLeases(t, got, before)
			j.Close()
		})
	}
}

// TestCleanupReportsDiscarded: a row that a cleanup cannot read, here
// while Open converts a Kea 2.2 file, reaches Options.Discarded with its
// file and line instead of vanishing with the old file; the rows around
// it are kept.
func TestCleanupReportsDiscarded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	file := strings.Join(Columns[:11], ",") + "\n" +
		"192.0.2.120,02:00:00:00:0d:01,,120,4000000000,1,0,0,,0,\n" +
		"192.0.2.x,02:00:00:00:0d:02,,120,4000000000,1,0,0,,0,\n" +
		"192.0.2.121,02:00:00:00:0d:03,,120,4000000000,1,0,0,,0,\n"
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []RowError
	j, err := Open(Options{Path: path, Persist: true, Format: Kea3, Discarded: func(e RowError) { got = append(got, e) }})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(got) != 1 || got[0].File != path+".1" || got[0].Line != 3 || !errors.Is(got[0].Err, ErrRow) {
		t.Errorf("discarded %+v, want line 3 of %s.1", got, path)
	}
	s := lease.NewStore()
	if _, err := j.Load(s); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"192.0.2.120", "192.0.2.121"} {
		if _, ok := s.Get(netip.MustParseAddr(a)); !ok {
			t.Errorf("lease %s lost in the conversion", a)
		}
	}
}

func TestRowWidths(t *testing.T) {
	row9 := "192.0.2.1,01:02,,100,200,1,0,0,h"
	tests := []struct {
		name   string
		header string
		row    string
		ok     bool
	}{
		{"current", Header, row9 + ",0,,7", true},
		{"current, short row", Header, row9 + ",0,", false},
		{"upgrade 11 to 12", strings.Join(Columns[:11], ","), row9 + ",0,", true},
		{"upgrade, row of the new width", strings.Join(Columns[:11], ","), row9 + ",0,,7", true},
		{"upgrade from hostname", strings.Join(Columns[:9], ","), row9, true},
		{"upgrade, row too short", strings.Join(Columns[:9], ","), "192.0.2.1,01:02,,100,200,1,0,0", false},
		{"downgrade from a newer Kea", strings.TrimSuffix(Header, "\n") + ",future", row9 + ",0,,7,x", true},
		{"downgrade, row of our width", strings.TrimSuffix(Header, "\n") + ",future", row9 + ",0,,7", true},
		{"downgrade, row too long", strings.TrimSuffix(Header, "\n") + ",future", row9 + ",0,,7,x,y", false},
	}
	for _, tt := range tests {
		sch, err := parseHeader(strings.TrimSuffix(tt.header, "\n"))
		if err != nil {
			t.Fatalf("%s: header: %v", tt.name, err)
		}
		l, err := sch.parseRow(tt.row)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok %v", tt.name, err, tt.ok)
		}
		if err == nil && (l.Hostname != "h" || l.State != 0) {
			t.Errorf("%s: %+v", tt.name, l)
		}
	}
}

func TestKea22Row(t *testing.T) {
	l := mkLease(3)
	l.PoolID = 5
	if got, want := Kea22.row(l), strings.TrimSuffix(FormatRow(l), ",5\n")+"\n"; got != want {
		t.Errorf("Kea 2.2 row %q, want %q", got, want)
	}
}

func TestLFCPidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	os.WriteFile(path+".pid", []byte("1\n"), 0o644) // pid 1 is always alive
	if _, err := Open(Options{Path: path, Persist: true}); err == nil || !strings.Contains(err.Error(), "kea-lfc") {
		t.Errorf("opened while kea-lfc's pid file names a live process: %v", err)
	}
	os.WriteFile(path+".pid", []byte("2147483646\n"), 0o644)
	j, err := Open(Options{Path: path, Persist: true})
	if err != nil {
		t.Errorf("a stale kea-lfc pid file blocked opening: %v", err)
	} else {
		j.Close()
	}
}

func TestOpenRejectsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	os.WriteFile(path, []byte("address,duid,iaid\n"), 0o644)
	if _, err := Open(Options{Path: path, Persist: true}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("opened a file that is not a lease4 file: %v", err)
	}
}

// TestCleanupMatchesKeaLFC compares our compaction with Kea's, input by
// input: the output file is what Kea 2.2.0's kea-lfc made of the input,
// and in the 2.2 layout our Cleanup must write the same bytes.
//   - lfc-input.csv was written by this package (Kea 3 layout: adds with
//     escaped hostname and user context, then a delete);
//   - kea22-release.csv was written by Kea 2.2.0 serving perfdhcp with
//     releases (-F), in a network namespace: its deletes are Kea's own.
func TestCleanupMatchesKeaLFC(t *testing.T) {
	tests := []struct{ in, want string }{
		{"testdata/lfc-input.csv", "testdata/lfc-kea22-output.csv"},
		{"testdata/kea22-release.csv", "testdata/kea22-release-lfc.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			in, err := os.ReadFile(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "l.csv")
			os.WriteFile(path, in, 0o644)
			j, err := Open(Options{Path: path, Persist: true, Format: Kea22})
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Cleanup(); err != nil {
				t.Fatal(err)
			}
			j.Close()
			got, _ := os.ReadFile(path + ".2")
			if string(got) != string(want) {
				t.Errorf("our cleanup wrote\n%s\nKea 2.2's kea-lfc wrote\n%s", got, want)
			}
		})
	}
}
