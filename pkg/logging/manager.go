package logging

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Options are the process-level inputs of a Manager. The zero value is the
// real process: os.Stdout, os.Stderr, os.Getenv, time.Now, /dev/log.
type Options struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time
	// SyslogNetwork and SyslogAddr say where syslog outputs send datagrams;
	// the default is unixgram /dev/log.
	SyslogNetwork, SyslogAddr string
	// PID and TID fill %i and %t; the defaults are the process id and the
	// writing thread's id, as Kea prints them.
	PID int
	TID func() int
	// OnError hears about failed writes (full disk, syslog gone); logging
	// never stops the server. The default prints them on Stderr.
	OnError func(error)
}

func (o Options) withDefaults() Options {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SyslogNetwork == "" {
		o.SyslogNetwork, o.SyslogAddr = "unixgram", "/dev/log"
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.TID == nil {
		o.TID = unix.Gettid
	}
	if o.OnError == nil {
		stderr := o.Stderr
		o.OnError = func(err error) { fmt.Fprintln(stderr, err) }
	}
	return o
}

// Manager owns the outputs and hands out named Loggers. Loggers stay valid
// across Configure and Reopen: they pick up the new settings at once.
type Manager struct {
	opt Options

	mu      sync.Mutex
	loggers map[string]*Logger
	specs   map[string]*state // configured names only
	sinks   map[string]*sink  // by output, shared between loggers

	// bufs holds line buffers so that, once warm, an enabled call does not
	// allocate either.
	bufs sync.Pool
}

func (m *Manager) buffer() *[]byte {
	if b, ok := m.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 512)
	return &b
}

// state is a logger's effective configuration, swapped atomically.
type state struct {
	level
	outs []out
}

// out is one sink with the pattern this logger renders for it.
type out struct {
	s *sink
	p pattern
}

// New builds a Manager from cfg (DefaultConfig when cfg has no loggers).
func New(cfg Config, opt Options) (*Manager, error) {
	m := &Manager{opt: opt.withDefaults(), loggers: make(map[string]*Logger)}
	if err := m.Configure(cfg); err != nil {
		return nil, err
	}
	return m, nil
}

// Configure applies a new loggers configuration, as on reload, and reopens
// the files it keeps (as Kea's reconfiguration does). On error the old
// configuration stays in force.
func (m *Manager) Configure(cfg Config) error {
	if len(cfg.Loggers) == 0 {
		cfg = Config{Loggers: DefaultConfig().Loggers, Debug: cfg.Debug}
	}
	if err := cfg.check(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	specs, sinks, err := m.build(cfg)
	if err != nil {
		for k, s := range sinks {
			if m.sinks[k] != s {
				s.close()
			}
		}
		return err
	}
	for k, s := range m.sinks {
		// Kea recreates every appender on reconfiguration, so a file that
		// logrotate moved away is reopened; we do the same for kept sinks.
		var err error
		if sinks[k] == s {
			err = s.reopen()
		} else {
			err = s.close()
		}
		if err != nil {
			m.opt.OnError(err)
		}
	}
	m.specs, m.sinks = specs, sinks
	for name, l := range m.loggers {
		l.st.Store(m.resolve(name))
	}
	return nil
}

// build turns cfg into per-name states, reusing the current sinks whose
// output is unchanged so a reload does not reopen files needlessly.
func (m *Manager) build(cfg Config) (map[string]*state, map[string]*sink, error) {
	journal := m.underSystemd() && !hasFileOutput(cfg)
	specs := make(map[string]*state)
	sinks := make(map[string]*sink)
	outputsOf := func(lc LoggerConfig) []OutputConfig { return lc.Outputs }
	var root []OutputConfig
	for _, lc := range cfg.Loggers {
		if lc.Name == RootName {
			root = lc.Outputs
		}
	}
	if root == nil {
		root = DefaultConfig().Loggers[0].Outputs
		if !slices.ContainsFunc(cfg.Loggers, func(lc LoggerConfig) bool { return lc.Name == RootName }) {
			cfg.Loggers = append(cfg.Loggers, DefaultConfig().Loggers[0])
		}
	}
	for _, lc := range cfg.Loggers {
		lv, _ := lc.level() // checked
		if cfg.Debug {
			lv = level{sev: SevDebug, dbg: DbgMax}
		}
		outs := outputsOf(lc)
		if len(outs) == 0 {
			outs = root // Kea: a logger without outputs uses the root's
		}
		st := &state{level: lv}
		for _, oc := range outs {
			s, err := m.sinkFor(oc, sinks, journal)
			if err != nil {
				return nil, sinks, err
			}
			p, _ := compilePattern(patternFor(oc, journal)) // checked
			st.outs = append(st.outs, out{s: s, p: p})
		}
		specs[lc.Name] = st
	}
	return specs, sinks, nil
}

// underSystemd reports whether systemd started us with its output going to
// the journal.
func (m *Manager) underSystemd() bool {
	return m.opt.Getenv("JOURNAL_STREAM") != "" || m.opt.Getenv("INVOCATION_ID") != ""
}

func isConsole(output string) bool { return output == "stdout" || output == "stderr" }

func isSyslog(output string) bool {
	return output == "syslog" || len(output) > 7 && output[:7] == "syslog:"
}

func hasFileOutput(cfg Config) bool {
	for _, lc := range cfg.Loggers {
		for _, o := range lc.Outputs {
			if !isConsole(o.Output) && !isSyslog(o.Output) {
				return true
			}
		}
	}
	return false
}

// patternFor is the pattern an output renders with: its own, or Kea's
// default for its kind, without the time stamp on the journal.
func patternFor(o OutputConfig, journal bool) string {
	switch {
	case o.Pattern != "":
		return o.Pattern
	case isSyslog(o.Output):
		return DefaultSyslogPattern
	case journal && isConsole(o.Output):
		return JournalPattern
	default:
		return DefaultPattern
	}
}

// sinkFor returns the sink for o, reusing the running one when its output
// and settings are the same.
func (m *Manager) sinkFor(o OutputConfig, sinks map[string]*sink, journal bool) (*sink, error) {
	key := fmt.Sprintf("%s\x00%d\x00%d\x00%t\x00%t", o.Output, o.MaxSize, o.MaxVer, o.Flush, journal)
	if s, ok := sinks[key]; ok {
		return s, nil
	}
	if s, ok := m.sinks[key]; ok {
		sinks[key] = s
		return s, nil
	}
	var w writer
	switch {
	case o.Output == "stdout":
		w = newConsoleWriter(m.opt.Stdout, o.Flush, journal)
	case o.Output == "stderr":
		w = newConsoleWriter(m.opt.Stderr, o.Flush, journal)
	case isSyslog(o.Output):
		w = &syslogWriter{
			network: m.opt.SyslogNetwork, addr: m.opt.SyslogAddr,
			facility: syslogFacility(o.Output), ident: RootName,
			pid: m.opt.PID, now: m.opt.Now,
		}
	default:
		fw, err := newFileWriter(o)
		if err != nil {
			return nil, err
		}
		w = fw
	}
	s := &sink{w: w, err: m.opt.OnError}
	sinks[key] = s
	return s, nil
}

// resolve finds the state for name: its own entry, else its nearest
// configured ancestor's, else the root's, as log4cplus' hierarchy does.
func (m *Manager) resolve(name string) *state {
	for n := name; n != ""; n = parent(n) {
		if st, ok := m.specs[n]; ok {
			return st
		}
	}
	return m.specs[RootName]
}

// Logger returns the logger called name, e.g. "kea-dhcp4.leases".
func (m *Manager) Logger(name string) *Logger {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.loggers[name]; ok {
		return l
	}
	l := &Logger{name: name, m: m}
	l.st.Store(m.resolve(name))
	m.loggers[name] = l
	return l
}

// Reopen flushes and reopens every output, for SIGHUP after logrotate moved
// the files away.
func (m *Manager) Reopen() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var first error
	for _, s := range m.sinks {
		if err := s.reopen(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close flushes and closes every output. Loggers must not be used after.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var first error
	for _, s := range m.sinks {
		if err := s.close(); err != nil && first == nil {
			first = err
		}
	}
	m.sinks = nil
	return first
}

// Logger writes messages under one name. Its methods are safe for
// concurrent use and cost an atomic load when their level is off.
type Logger struct {
	name string
	m    *Manager
	st   atomic.Pointer[state]
}

// Name returns the logger's name.
func (l *Logger) Name() string { return l.name }

// DebugEnabled reports whether debug messages at level would be written,
// for call sites that must compute arguments first.
func (l *Logger) DebugEnabled(level int) bool {
	st := l.st.Load()
	return st.sev == SevDebug && level <= st.dbg
}

// Debug logs message id at debug level (0..99, see the Dbg constants).
func (l *Logger) Debug(level int, id string, args ...any) {
	if st := l.st.Load(); st.sev == SevDebug && level <= st.dbg {
		l.emit(st, SevDebug, id, args)
	}
}

// InfoEnabled reports whether INFO messages would be written, for call
// sites that must compute arguments first.
func (l *Logger) InfoEnabled() bool { return l.st.Load().sev <= SevInfo }

// Info logs message id at INFO.
func (l *Logger) Info(id string, args ...any) {
	if st := l.st.Load(); st.sev <= SevInfo {
		l.emit(st, SevInfo, id, args)
	}
}

// Warn logs message id at WARN.
func (l *Logger) Warn(id string, args ...any) {
	if st := l.st.Load(); st.sev <= SevWarn {
		l.emit(st, SevWarn, id, args)
	}
}

// Error logs message id at ERROR.
func (l *Logger) Error(id string, args ...any) {
	if st := l.st.Load(); st.sev <= SevError {
		l.emit(st, SevError, id, args)
	}
}

// Fatal logs message id at FATAL. It does not exit: the caller decides how
// to stop.
func (l *Logger) Fatal(id string, args ...any) {
	if st := l.st.Load(); st.sev <= SevFatal {
		l.emit(st, SevFatal, id, args)
	}
}

func (l *Logger) emit(st *state, sev Severity, id string, args []any) {
	mp := l.m.buffer()
	lp := l.m.buffer()
	r := record{
		time: l.m.opt.Now(), sev: sev, logger: l.name,
		pid: l.m.opt.PID, tid: l.m.opt.TID(),
		msg: appendMessage((*mp)[:0], id, args),
	}
	for _, o := range st.outs {
		line := o.p.render((*lp)[:0], &r)
		o.s.write(line, sev)
		*lp = line
	}
	*mp = r.msg
	l.m.bufs.Put(mp)
	l.m.bufs.Put(lp)
}
