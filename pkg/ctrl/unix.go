package ctrl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// UnixServer is Kea's unix control socket: a client connects, writes one
// command, and reads one bare JSON answer; then the connection closes.
// socat and kea-shell's unix mode speak this.
type UnixServer struct {
	reg  *Registry
	ln   *net.UnixListener
	path string
	wg   sync.WaitGroup
	sem  chan struct{}
}

// ListenUnix binds the socket at path. A socket file left by a crashed
// server is removed first; one that still answers belongs to a running
// server and is an error, so two daemons never share a socket.
func ListenUnix(path string, reg *Registry) (*UnixServer, error) {
	if _, err := os.Stat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("ctrl: unix socket %s is in use by a running server; stop it or choose another socket-name", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("ctrl: removing stale unix socket %s: %w", path, err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("ctrl: listening on unix socket %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	s := &UnixServer{reg: reg, ln: ln, path: path, sem: make(chan struct{}, MaxConcurrent)}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *UnixServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: back off, keep serving
			continue
		}
		s.sem <- struct{}{}
		s.wg.Add(1)
		go func() {
			defer func() { <-s.sem; s.wg.Done() }()
			s.serve(c)
		}()
	}
}

func (s *UnixServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(ReadTimeout))
	body, err := readCommand(c)
	var ans Answer
	if err != nil {
		ans = Error("%v", err)
	} else {
		ans = s.reg.Serve(context.Background(), body)
	}
	b, err := json.Marshal(ans)
	if err != nil {
		b, _ = json.Marshal(Error("cannot encode the answer: %v", err))
	}
	c.SetDeadline(time.Now().Add(ReadTimeout))
	c.Write(b)
}

// readCommand reads until the bytes hold one complete JSON value (comments
// allowed), the client closes its side, or the size limit is reached.
func readCommand(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	chunk := make([]byte, 4096)
	for {
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if buf.Len() > MaxRequestBytes {
			return nil, fmt.Errorf("command larger than %d bytes", MaxRequestBytes)
		}
		if n > 0 && complete(buf.Bytes()) {
			return buf.Bytes(), nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) && buf.Len() > 0 {
				return buf.Bytes(), nil
			}
			return nil, fmt.Errorf("reading the command: %w", err)
		}
	}
}

func complete(b []byte) bool {
	clean, err := StripComments(b)
	return err == nil && json.Valid(bytes.TrimSpace(clean))
}

// Close stops accepting, waits for running commands and removes the
// socket file.
func (s *UnixServer) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}
