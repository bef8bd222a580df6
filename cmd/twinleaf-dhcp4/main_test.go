package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
