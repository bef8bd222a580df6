package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pos is where a value starts: file, line and column (both from 1, column
// counted in characters).
type Pos struct {
	File      string
	Line, Col int
}

// String formats the position as file:line:col, as editors expect.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Kind is a JSON value's kind.
type Kind int

// The JSON kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// String names the kind as error messages do.
func (k Kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "list", "map"}[k]
}

// Node is one parsed JSON value with its position; objects keep their
// members in file order.
type Node struct {
	Kind    Kind
	Pos     Pos
	Bool    bool
	Text    string // the string's value, or the number's literal text
	Items   []*Node
	Members []Member
}

// Member is one key of an object.
type Member struct {
	Key    string
	KeyPos Pos
	Value  *Node
}

// Get returns the member named key, or nil.
func (n *Node) Get(key string) *Node {
	for _, m := range n.Members {
		if m.Key == key {
			return m.Value
		}
	}
	return nil
}

// source is one file being read; includes push more.
type source struct {
	file string
	data []byte
	off  int
	line int
	col  int
}

// parser reads Kea's JSON: standard JSON plus #, // and /* */ comments and
// the <?include "file"?> directive, which splices another file in place.
type parser struct {
	stack []*source
	// seen holds the absolute paths of the files on the include stack, to
	// catch include loops.
	seen map[string]bool
	// depth counts the maps and lists we are inside, so hostile input
	// cannot exhaust the stack.
	depth int
}

// maxDepth is far beyond any real configuration's nesting.
const maxDepth = 200

// parseJSON parses data (named file) into a tree.
func parseJSON(file string, data []byte) (*Node, error) {
	p := &parser{seen: map[string]bool{}}
	abs, _ := filepath.Abs(file)
	p.seen[abs] = true
	p.stack = []*source{{file: file, data: data, line: 1, col: 1}}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	if err := p.skip(); err != nil {
		return nil, err
	}
	if !p.eof() {
		return nil, p.errf("unexpected %s after the end of the configuration", p.describe())
	}
	return n, nil
}

func (p *parser) src() *source { return p.stack[len(p.stack)-1] }

func (p *parser) pos() Pos { s := p.src(); return Pos{s.file, s.line, s.col} }

func (p *parser) errf(format string, a ...any) error {
	return &Error{Pos: p.pos(), Msg: fmt.Sprintf(format, a...)}
}

// eof reports whether every source is used up (popping finished includes).
func (p *parser) eof() bool {
	for {
		s := p.src()
		if s.off < len(s.data) {
			return false
		}
		if len(p.stack) == 1 {
			return true
		}
		abs, _ := filepath.Abs(s.file)
		delete(p.seen, abs)
		p.stack = p.stack[:len(p.stack)-1]
	}
}

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	s := p.src()
	return s.data[s.off]
}

func (p *parser) next() byte {
	s := p.src()
	c := s.data[s.off]
	s.off++
	if c == '\n' {
		s.line++
		s.col = 1
	} else if c < 0x80 || c >= 0xc0 {
		s.col++ // count characters, not UTF-8 continuation bytes
	}
	return c
}

func (p *parser) hasPrefix(pre string) bool {
	s := p.src()
	return strings.HasPrefix(string(s.data[s.off:min(len(s.data), s.off+len(pre))]), pre)
}

// skip passes white space, comments and include directives.
func (p *parser) skip() error {
	for !p.eof() {
		switch c := p.peek(); {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.next()
		case c == '#' || p.hasPrefix("//"):
			for !p.eof() && p.peek() != '\n' {
				p.next()
			}
		case p.hasPrefix("/*"):
			start := p.pos()
			p.next()
			p.next()
			for {
				if p.src().off >= len(p.src().data) {
					return &Error{Pos: start, Msg: "comment opened here is never closed with */"}
				}
				if p.hasPrefix("*/") {
					p.next()
					p.next()
					break
				}
				p.next()
			}
		case p.hasPrefix("<?include"):
			if err := p.include(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// include handles <?include "path"?>: the path is relative to the
// including file's directory.
func (p *parser) include() error {
	start := p.pos()
	for range len("<?include") {
		p.next()
	}
	for p.peek() == ' ' || p.peek() == '\t' {
		p.next()
	}
	if p.peek() != '"' {
		return &Error{Pos: start, Msg: `include directive needs a quoted file name: <?include "file.json"?>`}
	}
	name, err := p.str()
	if err != nil {
		return err
	}
	for p.peek() == ' ' || p.peek() == '\t' {
		p.next()
	}
	if !p.hasPrefix("?>") {
		return &Error{Pos: start, Msg: `include directive is not closed with ?>`}
	}
	p.next()
	p.next()
	path := name.Text
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(p.src().file), path)
	}
	abs, _ := filepath.Abs(path)
	if p.seen[abs] {
		return &Error{Pos: start, Msg: fmt.Sprintf("include loop: %s includes itself, directly or through other files", path)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{Pos: start, Msg: fmt.Sprintf("cannot include %s: %v", path, unwrapPathErr(err))}
	}
	p.seen[abs] = true
	p.stack = append(p.stack, &source{file: path, data: data, line: 1, col: 1})
	return nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// describe names the next token for error messages.
func (p *parser) describe() string {
	if p.eof() {
		return "end of file"
	}
	s := p.src()
	r, _ := utf8.DecodeRune(s.data[s.off:])
	return strconv.QuoteRune(r)
}

func (p *parser) value() (*Node, error) {
	if err := p.skip(); err != nil {
		return nil, err
	}
	if p.depth >= maxDepth {
		return nil, p.errf("maps and lists are nested more than %d deep", maxDepth)
	}
	if p.eof() {
		return nil, p.errf("unexpected end of file; a value was expected")
	}
	pos := p.pos()
	switch c := p.peek(); {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == '-' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	case p.hasPrefix("true"):
		p.advance(4)
		return &Node{Kind: Bool, Pos: pos, Bool: true}, nil
	case p.hasPrefix("false"):
		p.advance(5)
		return &Node{Kind: Bool, Pos: pos}, nil
	case p.hasPrefix("null"):
		p.advance(4)
		return &Node{Kind: Null, Pos: pos}, nil
	}
	return nil, p.errf("unexpected %s; a value (map, list, string, number, true, false or null) was expected", p.describe())
}

func (p *parser) advance(n int) {
	for range n {
		p.next()
	}
}

func (p *parser) object() (*Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	n := &Node{Kind: Object, Pos: p.pos()}
	p.next() // {
	first := true
	for {
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.peek() == '}' {
			if !first {
				return nil, p.errf("trailing comma before }: remove the comma after the last entry")
			}
			p.next()
			return n, nil
		}
		if p.peek() != '"' {
			return nil, p.errf("unexpected %s; a quoted key was expected", p.describe())
		}
		keyPos := p.pos()
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if n.Get(k.Text) != nil {
			return nil, &Error{Pos: keyPos, Msg: fmt.Sprintf("duplicate key %q in the same map", k.Text)}
		}
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.peek() != ':' {
			return nil, p.errf("unexpected %s after key %q; a colon was expected", p.describe(), k.Text)
		}
		p.next()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.Members = append(n.Members, Member{Key: k.Text, KeyPos: keyPos, Value: v})
		if err := p.skip(); err != nil {
			return nil, err
		}
		switch p.peek() {
		case ',':
			p.next()
			first = false
		case '}':
			p.next()
			return n, nil
		default:
			return nil, p.errf("unexpected %s after the value of %q; a comma or } was expected", p.describe(), k.Text)
		}
	}
}

func (p *parser) array() (*Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	n := &Node{Kind: Array, Pos: p.pos()}
	p.next() // [
	first := true
	for {
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.peek() == ']' {
			if !first {
				return nil, p.errf("trailing comma before ]: remove the comma after the last element")
			}
			p.next()
			return n, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.Items = append(n.Items, v)
		if err := p.skip(); err != nil {
			return nil, err
		}
		switch p.peek() {
		case ',':
			p.next()
			first = false
		case ']':
			p.next()
			return n, nil
		default:
			return nil, p.errf("unexpected %s in a list; a comma or ] was expected", p.describe())
		}
	}
}

func (p *parser) str() (*Node, error) {
	pos := p.pos()
	p.next() // opening quote
	var b strings.Builder
	for {
		s := p.src()
		if s.off >= len(s.data) || s.data[s.off] == '\n' {
			return nil, &Error{Pos: pos, Msg: "string opened here is never closed with \""}
		}
		c := p.next()
		switch {
		case c == '"':
			return &Node{Kind: String, Pos: pos, Text: b.String()}, nil
		case c == '\\':
			if p.src().off >= len(p.src().data) {
				return nil, &Error{Pos: pos, Msg: "string opened here is never closed with \""}
			}
			e := p.next()
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				s := p.src()
				if s.off+4 > len(s.data) {
					return nil, p.errf("incomplete \\u escape")
				}
				v, err := strconv.ParseUint(string(s.data[s.off:s.off+4]), 16, 16)
				if err != nil {
					return nil, p.errf("bad \\u escape %q", s.data[s.off:s.off+4])
				}
				p.advance(4)
				b.WriteRune(rune(v))
			default:
				return nil, p.errf("unknown escape \\%c in a string", e)
			}
		case c < 0x20:
			return nil, p.errf("control character in a string")
		default:
			b.WriteByte(c)
		}
	}
}

func (p *parser) number() (*Node, error) {
	pos := p.pos()
	var b strings.Builder
	for !p.eof() {
		c := p.peek()
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			b.WriteByte(p.next())
			continue
		}
		break
	}
	text := b.String()
	if _, err := strconv.ParseFloat(text, 64); err != nil {
		return nil, &Error{Pos: pos, Msg: fmt.Sprintf("%q is not a number", text)}
	}
	// Kea's lexer takes ".5" (its all-keys example has "t1-percent": .5);
	// store it as JSON spells it.
	if rest, neg := strings.CutPrefix(text, "-"); strings.HasPrefix(rest, ".") {
		text = "0" + rest
		if neg {
			text = "-" + text
		}
	}
	if !json.Valid([]byte(text)) {
		return nil, &Error{Pos: pos, Msg: fmt.Sprintf("%q is not a number as JSON writes them", b.String())}
	}
	return &Node{Kind: Number, Pos: pos, Text: text}, nil
}
