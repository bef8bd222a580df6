package logging

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Kea's default patterns (output_option.cc), and the one we use on the
// console under systemd, where journald stamps each line itself.
const (
	DefaultPattern       = "%D{%Y-%m-%d %H:%M:%S.%q} %-5p [%c/%i.%t] %m\n"
	DefaultSyslogPattern = "%-5p [%c.%t] %m\n"
	JournalPattern       = "%-5p [%c/%i.%t] %m\n"
)

// errPattern is wrapped by every pattern error.
var errPattern = errors.New("bad pattern")

// record is what a pattern renders: one message, already expanded.
type record struct {
	time   time.Time
	sev    Severity
	logger string
	pid    int
	tid    int
	msg    []byte // "ID text", no newline
}

// piece is one element of a compiled pattern: literal text, or a conversion
// with an optional width (negative: pad on the right).
type piece struct {
	conv    byte // 0 for literal
	lit     string
	width   int
	timeFmt []piece // for %d and %D: literal and strftime pieces
}

// pattern is a compiled log4cplus pattern.
type pattern []piece

// compilePattern compiles a log4cplus pattern; "" is Kea's default.
func compilePattern(s string) (pattern, error) {
	if s == "" {
		s = DefaultPattern
	}
	var p pattern
	lit := func(b []byte) []byte {
		if len(b) > 0 {
			p = append(p, piece{lit: string(b)})
		}
		return b[:0]
	}
	var text []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			text = append(text, c)
			continue
		}
		i++
		if i == len(s) {
			return nil, fmt.Errorf("%w %q: ends with a lone %%", errPattern, s)
		}
		if s[i] == '%' {
			text = append(text, '%')
			continue
		}
		// Width: %-5p, %20c.
		j := i
		if s[j] == '-' {
			j++
		}
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		width := 0
		if j > i {
			w, err := strconv.Atoi(s[i:j])
			if err != nil || w < -1000 || w > 1000 {
				return nil, fmt.Errorf("%w %q: bad width %q", errPattern, s, s[i:j])
			}
			width = w
		}
		if j == len(s) {
			return nil, fmt.Errorf("%w %q: conversion missing after %%%s", errPattern, s, s[i:j])
		}
		text = lit(text)
		pc := piece{conv: s[j], width: width}
		switch s[j] {
		case 'p', 'c', 'i', 't', 'm':
		case 'n':
			pc = piece{lit: "\n"}
		case 'd', 'D':
			tf := "%Y-%m-%d %H:%M:%S"
			if j+1 < len(s) && s[j+1] == '{' {
				end := j + 2
				for end < len(s) && s[end] != '}' {
					end++
				}
				if end == len(s) {
					return nil, fmt.Errorf("%w %q: %%%c{ is not closed", errPattern, s, s[j])
				}
				tf = s[j+2 : end]
				j = end
			}
			t, err := compileTime(tf)
			if err != nil {
				return nil, fmt.Errorf("%w %q: %w", errPattern, s, err)
			}
			pc.timeFmt = t
		default:
			return nil, fmt.Errorf("%w %q: %%%c is not supported: use %%D{...}, %%d{...}, %%p, %%c, %%i, %%t, %%m or %%n", errPattern, s, s[j])
		}
		p = append(p, pc)
		i = j
	}
	lit(text)
	return p, nil
}

// compileTime compiles the strftime subset inside %D{...}.
func compileTime(s string) ([]piece, error) {
	var out []piece
	var text []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			text = append(text, s[i])
			continue
		}
		i++
		if i == len(s) {
			return nil, fmt.Errorf("time format %q ends with a lone %%", s)
		}
		switch c := s[i]; c {
		case '%':
			text = append(text, '%')
		case 'Y', 'y', 'm', 'd', 'H', 'M', 'S', 'q', 'Q':
			if len(text) > 0 {
				out = append(out, piece{lit: string(text)})
				text = text[:0]
			}
			out = append(out, piece{conv: c})
		default:
			return nil, fmt.Errorf("time format %q: %%%c is not supported: use %%Y %%y %%m %%d %%H %%M %%S %%q or %%Q", s, c)
		}
	}
	if len(text) > 0 {
		out = append(out, piece{lit: string(text)})
	}
	return out, nil
}

// render appends r formatted by p to b.
func (p pattern) render(b []byte, r *record) []byte {
	for i := range p {
		pc := &p[i]
		if pc.conv == 0 {
			b = append(b, pc.lit...)
			continue
		}
		start := len(b)
		switch pc.conv {
		case 'p':
			b = append(b, r.sev.String()...)
		case 'c':
			b = append(b, r.logger...)
		case 'i':
			b = strconv.AppendInt(b, int64(r.pid), 10)
		case 't':
			b = strconv.AppendInt(b, int64(r.tid), 10)
		case 'm':
			b = append(b, r.msg...)
		case 'D':
			b = appendTime(b, pc.timeFmt, r.time.Local())
		case 'd':
			b = appendTime(b, pc.timeFmt, r.time.UTC())
		}
		b = pad(b, start, pc.width)
	}
	return b
}

// pad pads b[start:] with spaces to |width|, on the right when width < 0.
func pad(b []byte, start, width int) []byte {
	left := width > 0
	if width < 0 {
		width = -width
	}
	n := width - (len(b) - start)
	if n <= 0 {
		return b
	}
	for range n {
		b = append(b, ' ')
	}
	if left {
		copy(b[start+n:], b[start:len(b)-n])
		for k := start; k < start+n; k++ {
			b[k] = ' '
		}
	}
	return b
}

func appendTime(b []byte, f []piece, t time.Time) []byte {
	for _, pc := range f {
		switch pc.conv {
		case 0:
			b = append(b, pc.lit...)
		case 'Y':
			b = appendInt(b, t.Year(), 4)
		case 'y':
			b = appendInt(b, t.Year()%100, 2)
		case 'm':
			b = appendInt(b, int(t.Month()), 2)
		case 'd':
			b = appendInt(b, t.Day(), 2)
		case 'H':
			b = appendInt(b, t.Hour(), 2)
		case 'M':
			b = appendInt(b, t.Minute(), 2)
		case 'S':
			b = appendInt(b, t.Second(), 2)
		case 'q':
			b = appendInt(b, t.Nanosecond()/1e6, 3)
		case 'Q':
			b = appendInt(b, t.Nanosecond()/1e6, 3)
			b = append(b, '.')
			b = appendInt(b, t.Nanosecond()/1e3%1000, 3)
		}
	}
	return b
}

// appendInt appends n zero-padded to at least width digits.
func appendInt(b []byte, n, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
