package ctrl

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// scanSeeds are JSON texts, good and bad, for the one-pass readers.
var scanSeeds = []string{
	`{}`, ` { "a" : 1 , "b":[true,false,null,-0.5e+3,"x\u00e9\n"] } `, `{"a":{"b":{"c":[]}}}`,
	`{"a":1,"a":2}`, `{"k\"ey":"v"}`, `[1,{"a":[]}, "s"]`, `[]`, ` [ ] `,
	`{"a":01}`, `{"a":1.}`, `{"a":tru}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"a":1,}`, `{,}`, `{"a" 1}`,
	`{"a":1} x`, `[1,]`, `[1 2]`, `{"a":"\ud800"}`, `{"a":1e}`, `{"a":-}`, `"str"`, `{"a":[`, `{"a":"`,
	`{"command":"lease4-update","service":["dhcp4"],"arguments":{"ip-address":"192.0.2.1"}}`,
}

// ObjectMembers accepts exactly the objects encoding/json does, with the
// same members (the last of a repeated key winning, as in a map).
func FuzzObjectMembers(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[string]string{}
		err := ObjectMembers(b, func(k string, v []byte) error { got[k] = string(v); return nil })
		var want map[string]json.RawMessage
		werr := json.Unmarshal(b, &want)
		if werr == nil && want == nil {
			werr = errSyntax // null is no object
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: ObjectMembers %v, encoding/json %v", b, err, werr)
		}
		if err != nil {
			return
		}
		w := map[string]string{}
		for k, v := range want {
			w[k] = string(v)
		}
		if !maps.Equal(got, w) {
			t.Fatalf("%q: members %v, encoding/json %v", b, got, w)
		}
	})
}

// ArrayElements accepts exactly the arrays encoding/json does, with the
// same elements.
func FuzzArrayElements(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []string
		err := ArrayElements(b, func(v []byte) error { got = append(got, string(v)); return nil })
		var want []json.RawMessage
		werr := json.Unmarshal(b, &want)
		if werr == nil && want == nil {
			werr = errSyntax // null is no array
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: ArrayElements %v, encoding/json %v", b, err, werr)
		}
		if err != nil {
			return
		}
		var w []string
		for _, v := range want {
			w = append(w, string(v))
		}
		if !slices.Equal(got, w) {
			t.Fatalf("%q: elements %q, encoding/json %q", b, got, w)
		}
	})
}

// The one-pass envelope reader agrees with encoding/json's wherever it
// answers at all.
func FuzzParseRequestFast(f *testing.F) {
	for _, s := range append(scanSeeds, `{"command":"x","remote-address":"192.0.2.9"}`, `{"command":"a\tb"}`, `{"command":"","service":[]}`,
		`{"command":"c","remote-address":"x","remote-address":null}`, `{"command":"c"}]junk`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := parseRequestFast(b)
		if !ok {
			return
		}
		slow, err := parseRequestJSON(b)
		if err != nil {
			t.Fatalf("%q: fast path took it, encoding/json refuses: %v", b, err)
		}
		if fast.Command != slow.Command || !slices.Equal(fast.Service, slow.Service) || (fast.Service == nil) != (slow.Service == nil) ||
			!bytes.Equal(fast.Arguments, slow.Arguments) || (fast.Arguments == nil) != (slow.Arguments == nil) || fast.RemoteAddress != slow.RemoteAddress {
			t.Fatalf("%q: fast %+v, encoding/json %+v", b, fast, slow)
		}
	})
}

// Nesting is bounded where encoding/json bounds it.
func TestObjectMembersDepth(t *testing.T) {
	for _, d := range []int{maxDepth, maxDepth + 1} {
		inner := strings.Repeat("[", d-1) + strings.Repeat("]", d-1)
		b := []byte(`{"a":` + inner + `}`)
		err := ObjectMembers(b, func(string, []byte) error { return nil })
		if (err == nil) != json.Valid(b) {
			t.Errorf("depth %d: ObjectMembers %v, json.Valid %v", d, err, json.Valid(b))
		}
		a := []byte("[" + inner + "]")
		err = ArrayElements(a, func([]byte) error { return nil })
		if (err == nil) != json.Valid(a) {
			t.Errorf("depth %d: ArrayElements %v, json.Valid %v", d, err, json.Valid(a))
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	item := `{"command":"lease4-update","arguments":{"client-id":"01:02:00:00:00:00:01","expire":1780000000,"force-create":true,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"","hw-address":"02:00:00:00:00:01","ip-address":"192.0.2.1","origin":"ha-partner","state":0,"subnet-id":1,"valid-lft":3600}}`
	body := []byte(`{"command":"twinleaf-lease4-batch","service":["dhcp4"],"arguments":{"version":1,"commands":[` +
		item + strings.Repeat(","+item, 15) + `]}}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequestParts(b *testing.B) {
	item := `{"command":"lease4-update","arguments":{"client-id":"01:02:00:00:00:00:01","expire":1780000000,"force-create":true,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"","hw-address":"02:00:00:00:00:01","ip-address":"192.0.2.1","origin":"ha-partner","state":0,"subnet-id":1,"valid-lft":3600}}`
	body := []byte(`{"command":"twinleaf-lease4-batch","service":["dhcp4"],"arguments":{"version":1,"commands":[` +
		item + strings.Repeat(","+item, 15) + `]}}`)
	b.Run("strip", func(b *testing.B) {
		for b.Loop() {
			StripComments(body)
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			parseRequestFast(body)
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			parseRequestJSON(body)
		}
	})
}

// ObjectFields reads a struct's fields as encoding/json would, and
// refuses what it would match only by case.
func TestObjectFields(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string // "<nil>" for absent
		ok   bool
	}{
		{`{"a":1,"b":"x","c":null}`, []string{"1", `"x"`}, true},
		{`{"b":1,"b":2}`, []string{"<nil>", "2"}, true},
		{`{"A":1}`, nil, false},
		{`{"a":1,}`, nil, false},
		{`[1]`, nil, false},
	} {
		got, err := ObjectFields([]byte(tt.in), "a", "b")
		if (err == nil) != tt.ok {
			t.Errorf("%s: error %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		for i, w := range tt.want {
			if g := string(got[i]); (got[i] == nil && w != "<nil>") || (got[i] != nil && g != w) {
				t.Errorf("%s: field %d = %q, want %s", tt.in, i, g, w)
			}
		}
	}
}

func TestStringValue(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{`"plain"`, "plain", true},
		{`"a\"b\u00e9"`, `a"bé`, true},
		{"\"\xff\"", "\ufffd", true},
		{`5`, "", false},
		{`null`, "", false},
	} {
		if got, ok := StringValue([]byte(tt.in)); got != tt.want || ok != tt.ok {
			t.Errorf("%s: %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
