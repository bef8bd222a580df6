package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestParseLabTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want labTime
		err  string
	}{
		{in: "0s synced", want: labTime{synced: true}},
		{in: "90s synced\n", want: labTime{offset: 90 * time.Second, synced: true}},
		{in: "  -8760h   unsynced \n", want: labTime{offset: -8760 * time.Hour}},
		{in: "", err: "want an offset"},
		{in: "90s", err: "want an offset"},
		{in: "90s synced extra", err: "want an offset"},
		{in: "90 synced", err: `offset "90"`},
		{in: "90s yes", err: "neither synced nor unsynced"},
	} {
		got, err := parseLabTime(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseLabTime(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseLabTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseLabTime: whatever parses prints back to the same value.
func FuzzParseLabTime(f *testing.F) {
	for _, s := range []string{"0s synced", "90s synced", "-8760h unsynced", "1h2m3.5s unsynced", "", "x y", "90s maybe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lt, err := parseLabTime(s)
		if err != nil {
			return
		}
		back, err := parseLabTime(lt.String())
		if err != nil || back != lt {
			t.Fatalf("%q parsed to %v, whose text %q reads back as %v, %v", s, lt, lt.String(), back, err)
		}
	})
}

// TestLabClock follows the file as the lab rewrites it, keeps the last
// good value over a broken file, and refuses to start without one.
func TestLabClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := newLabClock(path, time.Now, hclog.NewNullLogger()); err == nil || !strings.Contains(err.Error(), labClockEnv) {
		t.Fatalf("newLabClock without a file: %v; want an error naming %s", err, labClockEnv)
	}
	write("90s maybe")
	if _, err := newLabClock(path, time.Now, hclog.NewNullLogger()); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("newLabClock with a bad file: %v; want an error naming %s", err, path)
	}

	base := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	write("-8760h unsynced")
	c, err := newLabClock(path, func() time.Time { return base }, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, want time.Time, synced bool) {
		t.Helper()
		if got := c.Now(); !got.Equal(want) {
			t.Errorf("%s: Now = %v, want %v", step, got, want)
		}
		if got := c.Synced(); got != synced {
			t.Errorf("%s: Synced = %v, want %v", step, got, synced)
		}
	}
	check("a year behind", base.Add(-8760*time.Hour), false)
	write("")
	check("empty file keeps the last value", base.Add(-8760*time.Hour), false)
	write("0s synced")
	check("NTP set the clock", base, true)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	check("file gone keeps the last value", base, true)
}
