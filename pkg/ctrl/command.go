// Package ctrl is Kea's command channel: the JSON command envelope, a
// registry that modules add their commands to, and the sockets that carry
// commands (http, https with optional client certificates, and unix).
//
// Over HTTP and HTTPS every answer is wrapped in a one-element JSON list,
// as Kea's control agent, its 3.x HTTP sockets and its HA listener all do
// (Kea's HA client treats anything else as a failure); on the unix socket
// the answer is the bare map.
package ctrl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Kea's result codes.
const (
	ResultSuccess     = 0
	ResultError       = 1
	ResultUnsupported = 2
	ResultEmpty       = 3
	ResultConflict    = 4
)

// Request is one command as Kea defines it.
type Request struct {
	Command   string          `json:"command"`
	Service   []string        `json:"service,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	// RemoteAddress is set by Kea's control agent when it forwards; kept
	// so such requests are accepted.
	RemoteAddress string `json:"remote-address,omitempty"`
}

// Answer is a command's reply. Text is left out when empty and Arguments
// when nil, as Kea does.
type Answer struct {
	Result    int    `json:"result"`
	Text      string `json:"text,omitempty"`
	Arguments any    `json:"arguments,omitempty"`
}

// Success is a result-0 answer; Error, Empty, Conflict and Unsupported
// build the others with Kea's codes.
func Success(text string, args any) Answer { return Answer{ResultSuccess, text, noArgs(args)} }

// Error is a result-1 answer whose text says what went wrong.
func Error(format string, a ...any) Answer {
	return Answer{Result: ResultError, Text: fmt.Sprintf(format, a...)}
}

// Empty is a result-3 answer: nothing found, which callers treat as success.
func Empty(text string, args any) Answer { return Answer{ResultEmpty, text, noArgs(args)} }

// noArgs turns empty raw arguments into nil, so the answer leaves the key
// out instead of sending "arguments": null.
func noArgs(args any) any {
	if r, ok := args.(json.RawMessage); ok && len(r) == 0 {
		return nil
	}
	return args
}

// Conflict is a result-4 answer (Kea 3.x lease_cmds).
func Conflict(text string) Answer { return Answer{Result: ResultConflict, Text: text} }

// Unsupported is Kea's answer to a command nobody registered.
func Unsupported(command string) Answer {
	return Answer{Result: ResultUnsupported, Text: fmt.Sprintf("'%s' command not supported.", command)}
}

// Handler runs one command. args is the raw "arguments" value, nil when
// the request had none.
type Handler func(ctx context.Context, args json.RawMessage) Answer

// Registry maps command names to handlers. Modules register their commands
// at start-up; it is safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]command
}

// command is a registered handler and whether it was registered
// transient (RegisterTransient).
type command struct {
	run       Handler
	transient bool
}

// NewRegistry returns a registry that already answers list-commands.
func NewRegistry() *Registry {
	r := &Registry{handlers: map[string]command{}}
	r.handlers["list-commands"] = command{run: func(context.Context, json.RawMessage) Answer {
		return Success("", r.Commands())
	}}
	return r
}

// Register adds a command; registering a name twice is an error, so two
// modules never silently fight over one command.
func (r *Registry) Register(name string, h Handler) error {
	return r.register(name, command{run: h})
}

// RegisterTransient is Register for a handler that keeps nothing of its
// arguments once it returns, and whose Answer points into none of them:
// the HTTP server then reads a later request into the same buffer. A
// partner's batches of lease updates, thousands a second, are read so.
func (r *Registry) RegisterTransient(name string, h Handler) error {
	return r.register(name, command{run: h, transient: true})
}

func (r *Registry) register(name string, c command) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.handlers[name]; ok {
		return fmt.Errorf("ctrl: command %q registered twice", name)
	}
	r.handlers[name] = c
	return nil
}

// Unregister removes a command, as unloading a hook does.
func (r *Registry) Unregister(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.handlers, name)
}

// Commands lists the registered command names, sorted.
func (r *Registry) Commands() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.handlers))
	for n := range r.handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Handle runs a parsed request.
func (r *Registry) Handle(ctx context.Context, req *Request) Answer {
	ans, _ := r.handle(ctx, req)
	return ans
}

// handle is Handle, also telling whether the command that ran was
// registered transient.
func (r *Registry) handle(ctx context.Context, req *Request) (ans Answer, transient bool) {
	if len(req.Service) > 1 {
		return Error("service value must be a single entry list, got %d entries", len(req.Service)), false
	}
	if len(req.Service) == 1 && req.Service[0] != "" && req.Service[0] != "dhcp4" {
		return Error("unsupported service '%s', expected 'dhcp4'", req.Service[0]), false
	}
	r.mu.RLock()
	c, ok := r.handlers[req.Command]
	r.mu.RUnlock()
	if !ok {
		return Unsupported(req.Command), false
	}
	return c.run(ctx, req.Arguments), c.transient
}

// Serve parses a raw request and runs it; a request that does not parse
// gets a result-1 answer saying why, as Kea answers.
func (r *Registry) Serve(ctx context.Context, body []byte) Answer {
	req, err := ParseRequest(body)
	if err != nil {
		return Error("%v", err)
	}
	return r.Handle(ctx, req)
}

// ParseRequest reads a command envelope. Like Kea it accepts #, // and
// /* */ comments, and rejects unknown top-level keys, a missing command and
// arguments that are not a map. The request's Arguments may share body's
// memory: body must not be changed or reused while the request is in use.
func ParseRequest(body []byte) (*Request, error) {
	clean, err := StripComments(body)
	if err != nil {
		return nil, fmt.Errorf("invalid command: %w", err)
	}
	if req, ok := parseRequestFast(clean); ok {
		return req, nil
	}
	return parseRequestJSON(clean)
}

// parseRequestJSON is ParseRequest's reading with encoding/json, the
// reference for what is accepted and what each refusal says.
func parseRequestJSON(clean []byte) (*Request, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("invalid command: not a JSON map: %v", err)
	}
	if len(bytes.TrimSpace(clean[dec.InputOffset():])) > 0 {
		return nil, errors.New("invalid command: trailing data after the JSON map")
	}
	req := &Request{}
	for k, v := range top {
		var err error
		switch k {
		case "command":
			err = json.Unmarshal(v, &req.Command)
		case "service":
			err = json.Unmarshal(v, &req.Service)
		case "arguments":
			if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
				return nil, errors.New("invalid command: 'arguments' must be a map")
			}
			req.Arguments = v
		case "remote-address":
			err = json.Unmarshal(v, &req.RemoteAddress)
		default:
			return nil, fmt.Errorf("invalid command: unsupported parameter '%s'", k)
		}
		if err != nil {
			return nil, fmt.Errorf("invalid command: '%s': %v", k, err)
		}
	}
	if req.Command == "" {
		return nil, errors.New("invalid command: missing mandatory 'command' parameter")
	}
	return req, nil
}

// parseRequestFast is ParseRequest's reading of a well-formed envelope in
// one pass (ObjectMembers). Anything it does not take as it is, it leaves
// to ParseRequest's encoding/json reading, whose answers and error texts
// stay the reference: ok is false then.
func parseRequestFast(b []byte) (*Request, bool) {
	req := &Request{}
	err := ObjectMembers(b, func(k string, v []byte) error {
		switch k {
		case "command":
			s, ok := StringValue(v)
			if !ok {
				return errSyntax
			}
			req.Command = s
		case "arguments":
			if v[0] != '{' {
				return errSyntax
			}
			req.Arguments = v
		case "service":
			req.Service = nil
			if err := json.Unmarshal(v, &req.Service); err != nil {
				return err
			}
		case "remote-address":
			req.RemoteAddress = ""
			if err := json.Unmarshal(v, &req.RemoteAddress); err != nil {
				return err
			}
		default:
			return errSyntax
		}
		return nil
	})
	return req, err == nil && req.Command != ""
}

// StripComments blanks out #, // and /* */ comments outside strings,
// keeping byte offsets so JSON errors still point at the right place. A b
// without comments is returned itself, not copied.
func StripComments(b []byte) ([]byte, error) {
	if bytes.IndexByte(b, '#') < 0 && bytes.IndexByte(b, '/') < 0 {
		// No comment can start anywhere: b as it is (commands from
		// programs, HA's lease updates among them, carry none).
		return b, nil
	}
	out := append([]byte(nil), b...)
	inString, escaped := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case c == '#' || (c == '/' && i+1 < len(out) && out[i+1] == '/'):
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			j := bytes.Index(out[i+2:], []byte("*/"))
			if j < 0 {
				return nil, errors.New("unterminated /* comment")
			}
			for k := i; k < i+2+j+2; k++ {
				if out[k] != '\n' {
					out[k] = ' '
				}
			}
			i += 2 + j + 1
		}
	}
	return out, nil
}
