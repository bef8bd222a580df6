package logging

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// writer is one destination. write gets a whole rendered line; the sink
// holding the writer serialises calls.
type writer interface {
	write(line []byte, sev Severity) error
	reopen() error
	close() error
}

// consoleWriter writes to stdout or stderr, through a buffer when flush is
// off (the buffer is flushed on reopen and close).
type consoleWriter struct {
	w     io.Writer
	buf   *bufio.Writer
	jprio bool // prefix journald's <N> priority
}

func newConsoleWriter(w io.Writer, flush, journal bool) *consoleWriter {
	c := &consoleWriter{w: w, jprio: journal}
	if !flush {
		c.buf = bufio.NewWriter(w)
		c.w = c.buf
	}
	return c
}

// journalPriority maps a severity to the syslog priority journald reads
// from a "<N>" line prefix.
func journalPriority(s Severity) byte {
	switch s {
	case SevFatal:
		return '2'
	case SevError:
		return '3'
	case SevWarn:
		return '4'
	case SevInfo:
		return '6'
	default:
		return '7'
	}
}

func (c *consoleWriter) write(line []byte, sev Severity) error {
	if c.jprio {
		if _, err := c.w.Write([]byte{'<', journalPriority(sev), '>'}); err != nil {
			return err
		}
	}
	_, err := c.w.Write(line)
	return err
}

func (c *consoleWriter) reopen() error {
	if c.buf != nil {
		return c.buf.Flush()
	}
	return nil
}

func (c *consoleWriter) close() error { return c.reopen() }

// fileWriter appends to a file and rotates it the way Kea's log4cplus
// RollingFileAppender does: path is renamed to path.1, path.1 to path.2 ...
// and path.maxver is removed.
type fileWriter struct {
	path    string
	maxSize int64 // 0: never rotate
	maxVer  int
	flush   bool
	f       *os.File
	buf     *bufio.Writer
	size    int64
}

func newFileWriter(o OutputConfig) (*fileWriter, error) {
	w := &fileWriter{path: o.Output, maxVer: o.MaxVer, flush: o.Flush}
	if o.MaxSize > 0 {
		w.maxSize = int64(max(o.MaxSize, MinMaxSize))
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *fileWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("logging: opening log file %s: %w (check the directory exists and is writable by the server's user)", w.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("logging: %s: %w", w.path, err)
	}
	w.f, w.size = f, fi.Size()
	if !w.flush {
		w.buf = bufio.NewWriter(f)
	}
	return nil
}

func (w *fileWriter) write(line []byte, _ Severity) error {
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(line)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	var err error
	if w.buf != nil {
		_, err = w.buf.Write(line)
	} else {
		_, err = w.f.Write(line)
	}
	w.size += int64(len(line))
	if err != nil {
		return fmt.Errorf("logging: writing %s: %w", w.path, err)
	}
	return nil
}

// rotate shifts the numbered versions up by one, dropping the oldest, and
// starts a new file.
func (w *fileWriter) rotate() error {
	if err := w.close(); err != nil {
		return err
	}
	if w.maxVer == 0 {
		if err := os.Truncate(w.path, 0); err != nil {
			return fmt.Errorf("logging: truncating %s: %w", w.path, err)
		}
		return w.open()
	}
	version := func(n int) string { return w.path + "." + strconv.Itoa(n) }
	if err := os.Remove(version(w.maxVer)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("logging: rotating %s: %w", w.path, err)
	}
	for n := w.maxVer - 1; n >= 1; n-- {
		if err := os.Rename(version(n), version(n+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("logging: rotating %s: %w", w.path, err)
		}
	}
	if err := os.Rename(w.path, version(1)); err != nil {
		return fmt.Errorf("logging: rotating %s: %w", w.path, err)
	}
	return w.open()
}

// reopen closes and opens the file again, for logrotate's copy-less
// rotation (it renames the file, then sends SIGHUP).
func (w *fileWriter) reopen() error {
	if err := w.close(); err != nil {
		return err
	}
	return w.open()
}

func (w *fileWriter) close() error {
	if w.f == nil {
		return nil
	}
	var err error
	if w.buf != nil {
		err = w.buf.Flush()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f, w.buf = nil, nil
	if err != nil {
		return fmt.Errorf("logging: closing %s: %w", w.path, err)
	}
	return nil
}

// syslogFacilities are the facility names log4cplus accepts after "syslog:".
var syslogFacilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// syslogFacility returns the facility for "syslog" or "syslog:name". Kea's
// default is local0; a name log4cplus does not know means user, as there.
func syslogFacility(output string) int {
	name, ok := strings.CutPrefix(output, "syslog:")
	if !ok || name == "" {
		return syslogFacilities["local0"]
	}
	if f, ok := syslogFacilities[strings.ToLower(name)]; ok {
		return f
	}
	return syslogFacilities["user"]
}

// syslogWriter sends each line as one datagram in the local syslog framing
// that Go's log/syslog uses: "<PRI>Mmm dd hh:mm:ss ident[pid]: message".
type syslogWriter struct {
	network, addr string
	facility      int
	ident         string
	pid           int
	now           func() time.Time
	conn          net.Conn
	buf           []byte
}

func syslogPriority(s Severity) int {
	switch s {
	case SevFatal:
		return 2 // crit
	case SevError:
		return 3
	case SevWarn:
		return 4
	case SevInfo:
		return 6
	default:
		return 7
	}
}

func (w *syslogWriter) dial() error {
	if w.conn != nil {
		return nil
	}
	c, err := net.Dial(w.network, w.addr)
	if err != nil {
		return fmt.Errorf("logging: connecting to syslog at %s: %w", w.addr, err)
	}
	w.conn = c
	return nil
}

func (w *syslogWriter) write(line []byte, sev Severity) error {
	b := append(w.buf[:0], '<')
	b = strconv.AppendInt(b, int64(w.facility*8+syslogPriority(sev)), 10)
	b = append(b, '>')
	b = w.now().AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	b = append(b, w.ident...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(w.pid), 10)
	b = append(b, "]: "...)
	b = append(b, line...)
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	w.buf = b
	// One retry: syslogd may have restarted since the last message.
	var err error
	for range 2 {
		if err = w.dial(); err != nil {
			continue
		}
		if _, err = w.conn.Write(b); err == nil {
			return nil
		}
		w.conn.Close()
		w.conn = nil
	}
	return fmt.Errorf("logging: writing to syslog at %s: %w", w.addr, err)
}

func (w *syslogWriter) reopen() error {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
	return nil
}

func (w *syslogWriter) close() error { return w.reopen() }

// sink is one writer shared by every logger configured to use it, so two
// loggers writing the same file do not interleave partial lines or fight
// over rotation.
type sink struct {
	mu     sync.Mutex
	w      writer
	closed bool        // a reload dropped this sink; late writes are discarded
	err    func(error) // reports write errors; logging must never stop the server
}

func (s *sink) write(line []byte, sev Severity) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	err := s.w.write(line, sev)
	s.mu.Unlock()
	if err != nil && s.err != nil {
		s.err(err)
	}
}

// close closes the writer; writes racing it are discarded.
func (s *sink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.w.close()
}

// reopen flushes and reopens the writer.
func (s *sink) reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.w.reopen()
}
