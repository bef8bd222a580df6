package logging

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// Debug levels hclog's Debug and Trace calls map to: Kea's basic and
// detailed tracing levels.
const (
	hclogDebugLevel = DbgTraceBasic
	hclogTraceLevel = DbgTraceDetailData
)

// HCLog returns l as an hclog.Logger, for packages written against hclog.
// The message should start with a Kea message ID; key/value pairs are
// appended as "key=value". Levels come from the loggers configuration, so
// SetLevel does nothing. Unlike l's own methods this path formats with fmt
// and allocates when enabled.
func (l *Logger) HCLog() hclog.Logger { return &hcAdapter{l: l} }

type hcAdapter struct {
	l       *Logger
	implied []any
}

func (h *hcAdapter) Log(level hclog.Level, msg string, args ...any) {
	switch {
	case level <= hclog.Trace:
		h.Trace(msg, args...)
	case level == hclog.Debug:
		h.Debug(msg, args...)
	case level == hclog.Info:
		h.Info(msg, args...)
	case level == hclog.Warn:
		h.Warn(msg, args...)
	default:
		h.Error(msg, args...)
	}
}

func (h *hcAdapter) enabled(sev Severity, dbg int) (*state, bool) {
	st := h.l.st.Load()
	if sev == SevDebug {
		return st, st.sev == SevDebug && dbg <= st.dbg
	}
	return st, st.sev <= sev
}

func (h *hcAdapter) log(sev Severity, dbg int, msg string, args []any) {
	st, ok := h.enabled(sev, dbg)
	if !ok {
		return
	}
	var b strings.Builder
	b.WriteString(msg)
	kv := append(append([]any(nil), h.implied...), args...)
	for i := 0; i < len(kv); i += 2 {
		if i+1 == len(kv) {
			fmt.Fprintf(&b, " EXTRA_VALUE_AT_END=%v", kv[i])
			break
		}
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	// The whole text goes in as the "ID": it has no catalog entry, so
	// appendMessage prints it as it is.
	h.l.emit(st, sev, b.String(), nil)
}

func (h *hcAdapter) Trace(msg string, args ...any) { h.log(SevDebug, hclogTraceLevel, msg, args) }
func (h *hcAdapter) Debug(msg string, args ...any) { h.log(SevDebug, hclogDebugLevel, msg, args) }
func (h *hcAdapter) Info(msg string, args ...any)  { h.log(SevInfo, 0, msg, args) }
func (h *hcAdapter) Warn(msg string, args ...any)  { h.log(SevWarn, 0, msg, args) }
func (h *hcAdapter) Error(msg string, args ...any) { h.log(SevError, 0, msg, args) }

func (h *hcAdapter) IsTrace() bool { _, ok := h.enabled(SevDebug, hclogTraceLevel); return ok }
func (h *hcAdapter) IsDebug() bool { _, ok := h.enabled(SevDebug, hclogDebugLevel); return ok }
func (h *hcAdapter) IsInfo() bool  { _, ok := h.enabled(SevInfo, 0); return ok }
func (h *hcAdapter) IsWarn() bool  { _, ok := h.enabled(SevWarn, 0); return ok }
func (h *hcAdapter) IsError() bool { _, ok := h.enabled(SevError, 0); return ok }

func (h *hcAdapter) ImpliedArgs() []any { return h.implied }

func (h *hcAdapter) With(args ...any) hclog.Logger {
	return &hcAdapter{l: h.l, implied: append(append([]any(nil), h.implied...), args...)}
}

func (h *hcAdapter) Name() string { return h.l.name }

// Named returns the child logger, e.g. kea-dhcp4 → kea-dhcp4.leases, which
// takes its settings from its own loggers entry or inherits them.
func (h *hcAdapter) Named(name string) hclog.Logger {
	return &hcAdapter{l: h.l.m.Logger(h.l.name + "." + name), implied: h.implied}
}

func (h *hcAdapter) ResetNamed(name string) hclog.Logger {
	return &hcAdapter{l: h.l.m.Logger(name), implied: h.implied}
}

// SetLevel does nothing: levels are the loggers configuration's.
func (h *hcAdapter) SetLevel(hclog.Level) {}

func (h *hcAdapter) GetLevel() hclog.Level {
	switch st := h.l.st.Load(); {
	case st.sev == SevDebug && st.dbg >= hclogTraceLevel:
		return hclog.Trace
	case st.sev == SevDebug:
		return hclog.Debug
	case st.sev == SevInfo:
		return hclog.Info
	case st.sev == SevWarn:
		return hclog.Warn
	case st.sev == SevNone:
		return hclog.Off
	default:
		return hclog.Error
	}
}

func (h *hcAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

// StandardWriter logs each write as one INFO message.
func (h *hcAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return stdWriter{h}
}

type stdWriter struct{ h *hcAdapter }

func (w stdWriter) Write(p []byte) (int, error) {
	w.h.Info(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
