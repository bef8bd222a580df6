package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/twinleaf/twinleaf/pkg/config"
)

// TestFlags runs the command line as kea-dhcp4's users write it.
func TestFlags(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(bad, []byte(`{ "Dhcp4": { "valid-lifetme": 5 } }`), 0o644)
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{args: []string{"-v"}, code: 0, out: version},
		{args: []string{"-V"}, code: 0, out: "linked with:"},
		{args: []string{"-W"}, code: 0, out: "Build report:"},
		{args: []string{"-t", "../../configs/home-server1.conf"}, code: 0, out: "configuration is valid"},
		{args: []string{"-T", "../../configs/lab/single.conf"}, code: 0, out: "configuration is valid"},
		{args: []string{"-t", bad}, code: 1, err: `bad.conf:1:14: Dhcp4/valid-lifetme: unknown key "valid-lifetme"; did you mean "valid-lifetime"?`},
		{args: []string{"-t", "/nonexistent.conf"}, code: 1, err: "no such file"},
		{args: []string{}, code: 1, err: "configuration file not specified"},
		{args: []string{"-c", "a", "-t", "b"}, code: 1, err: "only one of -c, -t and -T"},
		{args: []string{"-p", "0", "-c", "x"}, code: 1, err: "port must be 1-65535"},
		{args: []string{"-x"}, code: 1, err: "Usage:"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.err) {
			t.Errorf("twinleaf-dhcp4 %v: exit %d, stdout %q, stderr %q; want exit %d with %q / %q",
				tt.args, code, out.String(), errb.String(), tt.code, tt.out, tt.err)
		}
	}
}

// TestRuntimeSettings checks the threads and the collector pace each kind
// of server gets (procs, gcPercent).
func TestRuntimeSettings(t *testing.T) {
	lone := &config.Dhcp4{}
	mt := &config.Dhcp4{}
	mt.MultiThreading.Enable = true
	pair := &config.Dhcp4{HA: []config.HA{{}}}
	tests := []struct {
		name      string
		c         *config.Dhcp4
		procs, gc int
	}{
		{"single-threaded", lone, 1, 50},
		{"multi-threaded", mt, runtime.NumCPU(), 50},
		{"HA pair", pair, runtime.NumCPU(), 100},
	}
	for _, tt := range tests {
		if p, gc := procs(tt.c), gcPercent(tt.c); p != tt.procs || gc != tt.gc {
			t.Errorf("%s: %d threads, GC at %d%%; want %d, %d%%", tt.name, p, gc, tt.procs, tt.gc)
		}
	}
}
