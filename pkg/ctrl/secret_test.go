package ctrl

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestFileSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name, content string
		firstLine     bool
		want          string
	}{
		{"first line", "s3cret\r\nsecond line\n", true, "s3cret"},
		{"whole file less its newline", "user:pa ss\n\n", false, "user:pa ss"},
		{"no newline", "pw", true, "pw"},
	} {
		f, err := NewFileSecret(write(tt.name, tt.content), tt.firstLine)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Value(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if _, err := NewFileSecret(filepath.Join(dir, "missing"), true); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing file at start: %v, want an error naming it", err)
	}

	// Changes are seen at the first look a second after the last.
	path := write("pw", "old\n")
	f, err := NewFileSecret(path, true)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	f.now, f.checked = clk.now, clk.t
	write("pw", "newer\n")
	if got := f.Value(); got != "old" {
		t.Errorf("within the second: %q, want the old value", got)
	}
	clk.t = clk.t.Add(time.Second)
	if got := f.Value(); got != "newer" {
		t.Errorf("a second later: %q, want the new value", got)
	}
	// A rewrite of the same size is seen too, whatever its time stamp.
	write("pw", "fresh\n")
	clk.t = clk.t.Add(time.Second)
	if got := f.Value(); got != "fresh" {
		t.Errorf("same-size rewrite: %q, want the new value", got)
	}
	// A file that disappears, or a clock stepped back, keeps the value.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Hour)
	if got := f.Value(); got != "fresh" {
		t.Errorf("file gone: %q, want the last value", got)
	}
	write("pw", "back\n")
	clk.t = clk.t.Add(-2 * time.Hour)
	if got := f.Value(); got != "back" {
		t.Errorf("clock stepped back: %q, want the file's value", got)
	}
}

// A control socket's password-file corrected on disk lets the operator
// in at the next look, without a restart.
func TestHTTPAuthFileReloaded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pw")
	if err := os.WriteFile(path, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := NewFileSecret(path, false)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	f.now, f.checked = clk.now, clk.t
	h := &HTTPHandler{Registry: newTestRegistry(t), Auth: &Auth{Clients: []User{{Name: "admin", PasswordFile: f}}}}
	srv, err := ListenHTTP("127.0.0.1:0", h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(time.Second)
	url := "http://" + srv.Addr().String() + "/"
	status := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"command": "echo"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:right")))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusUnauthorized {
		t.Fatalf("with the old file: HTTP %d, want 401", got)
	}
	if err := os.WriteFile(path, []byte("right\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Second)
	if got := status(); got != http.StatusOK {
		t.Fatalf("with the corrected file: HTTP %d, want 200", got)
	}
}

// A password-file without a user holds the whole secret, user:password.
func TestUserCredentials(t *testing.T) {
	dir := t.TempDir()
	secret := func(s string) *FileSecret {
		t.Helper()
		p := filepath.Join(dir, "f"+s)
		if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := NewFileSecret(p, false)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tt := range []struct {
		name       string
		u          User
		user, pass string
	}{
		{"inline", User{Name: "a", Password: "b"}, "a", "b"},
		{"password file", User{Name: "a", PasswordFile: secret("pw")}, "a", "pw"},
		{"password file with a colon", User{Name: "a", PasswordFile: secret("p:w")}, "a", "p:w"},
		{"both files", User{NameFile: secret("u"), PasswordFile: secret("x:y")}, "u", "x:y"},
		{"password file alone holds user:password", User{PasswordFile: secret("admin:s3:cret")}, "admin", "s3:cret"},
	} {
		if u, p := tt.u.credentials(); u != tt.user || p != tt.pass {
			t.Errorf("%s: %q:%q, want %q:%q", tt.name, u, p, tt.user, tt.pass)
		}
	}
}
