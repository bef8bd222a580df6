package ctrl

import (
	"os"
	"strings"
	"sync"
	"time"
)

// FileSecret is a credential kept in a file: Kea's user-file and
// password-file in a control socket's authentication clients, and HA's
// basic-auth-user-file and basic-auth-password-file. It is read again
// when the file changes, as the TLS files are, so correcting a wrong
// password on one board heals the pair or the operator's access without
// a restart. The file is read again no more than once a second: it is
// small, and reading it catches a rewrite that keeps its size and
// modification time.
type FileSecret struct {
	path      string
	firstLine bool // keep the first line only; else the whole file less its final newline
	now       func() time.Time

	mu      sync.Mutex
	checked time.Time
	value   string
}

// secretCheckEvery is how often Value looks at the file.
const secretCheckEvery = time.Second

// NewFileSecret reads the credential at path: its first line when
// firstLine is set (HA's files), else the whole file without its final
// newline (the control sockets' files, as Kea reads them). A file that
// cannot be read at start is an error (the os error, which names the
// path); later, a file that cannot be read leaves the last value in use.
func NewFileSecret(path string, firstLine bool) (*FileSecret, error) {
	s := &FileSecret{path: path, firstLine: firstLine, now: time.Now}
	v, err := s.read()
	if err != nil {
		return nil, err
	}
	s.value, s.checked = v, s.now()
	return s, nil
}

// Value is the credential as the file holds it now.
func (s *FileSecret) Value() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.checked) < secretCheckEvery && !now.Before(s.checked) {
		return s.value
	}
	s.checked = now
	if v, err := s.read(); err == nil {
		s.value = v
	}
	return s.value
}

func (s *FileSecret) read() (string, error) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return "", err
	}
	v := string(b)
	if s.firstLine {
		v, _, _ = strings.Cut(v, "\n")
		v = strings.TrimRight(v, "\r")
	} else {
		v = strings.TrimRight(v, "\r\n")
	}
	return v, nil
}
