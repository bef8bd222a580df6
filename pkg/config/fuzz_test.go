package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser: bad input must give an
// error, never a panic, and a config that parses must render Effective.
func FuzzParse(f *testing.F) {
	for _, g := range []string{"../../configs/*.conf", "../../configs/lab/*.conf", "testdata/bad/*.conf"} {
		files, err := filepath.Glob(g)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	// Past crashers.
	f.Add([]byte(`{ "Dhcp4": {"hooks-libraries":[{}]}} `))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A name in a directory that does not exist: includes fail cleanly.
		c, err := Parse("/nonexistent/fuzz.conf", data)
		if err != nil {
			if err.Error() == "" {
				t.Error("empty error text")
			}
			return
		}
		if c.Effective()["Dhcp4"] == nil {
			t.Error("Effective has no Dhcp4")
		}
	})
}
