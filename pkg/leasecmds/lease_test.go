package leasecmds

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// syncLease is a lease as a Kea partner sends it in lease4-get-page.
const syncLease = `{"client-id":"01:02:03","cltt":1800000000,"fqdn-fwd":true,"fqdn-rev":false,"hostname":"pc.example.",` +
	`"hw-address":"1a:1b:1c:1d:1e:1f","ip-address":"192.0.2.1","pool-id":2,"state":0,"subnet-id":1,` +
	`"user-context":{"a":[1,2]},"valid-lft":3600}`

// TestParseLeaseRoundTrip reads a lease with both kinds of number
// decoding and checks LeaseJSON gives the same map back.
func TestParseLeaseRoundTrip(t *testing.T) {
	for _, useNumber := range []bool{false, true} {
		dec := json.NewDecoder(strings.NewReader(syncLease))
		if useNumber {
			dec.UseNumber()
		}
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		l, err := ParseLease(m)
		if err != nil {
			t.Fatalf("UseNumber %v: %v", useNumber, err)
		}
		if l.CLTT.Unix() != 1800000000 || l.ValidLft != 3600 || l.PoolID != 2 || l.SubnetID != 1 || len(l.ClientID) != 3 {
			t.Errorf("UseNumber %v: lease %+v", useNumber, l)
		}
		got, _ := json.Marshal(LeaseJSON(l))
		var want bytes.Buffer
		json.Compact(&want, []byte(syncLease))
		if string(got) != want.String() {
			t.Errorf("UseNumber %v: LeaseJSON\n%s, want\n%s", useNumber, got, want.String())
		}
	}
}

// TestLeaseJSONOptionalKeys checks the keys Kea leaves out.
func TestLeaseJSONOptionalKeys(t *testing.T) {
	m := LeaseJSON(&lease.Lease{CLTT: time.Unix(1, 0), State: lease.StateDeclined})
	for _, k := range []string{"client-id", "pool-id", "user-context"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present in %v", k, m)
		}
	}
	if m["hw-address"] != "" || m["state"] != uint32(1) {
		t.Errorf("LeaseJSON = %v", m)
	}
}

func TestParseLeaseErrors(t *testing.T) {
	tests := []struct{ change, want string }{
		{`"ip-address":null`, "ip-address not present in the parsed lease or it is not a string"},
		{`"ip-address":"x"`, "invalid IP address x in the parsed lease"},
		{`"ip-address":"::1"`, "address ::1 it not an IPv4 address"},
		{`"subnet-id":0`, "subnet-id 0 is not a positive integer"},
		{`"subnet-id":4294967296`, "subnet-id 4294967296 is not a 32 bit unsigned integer"},
		{`"subnet-id":1.5`, "subnet-id not present in the parsed lease or it is not an integer"},
		{`"pool-id":"2"`, "pool-id is not an integer"},
		{`"pool-id":-2`, "pool-id -2 is not a positive integer"},
		{`"hw-address":null`, "hw-address not present in the parsed lease"},
		{`"hw-address":7`, "hw-address is not a string in the parsed lease"},
		{`"hw-address":"1::2"`, "invalid hardware address 1::2 in the parsed lease"},
		{`"cltt":0`, "cltt 0 is not a positive integer in the parsed lease"},
		{`"valid-lft":-1`, "valid-lft -1 is negative in the parsed lease"},
		{`"fqdn-fwd":1`, "fqdn-fwd is not present in the parsed lease or it is not a boolean value"},
		{`"fqdn-rev":null`, "fqdn-rev is not present in the parsed lease or it is not a boolean value"},
		{`"hostname":false`, "hostname is not present in the parsed lease or it is not a string value"},
		{`"state":5`, "state 5 must be in range [0..4]"},
		{`"user-context":"x"`, "user context is not a map"},
		{`"client-id":3`, "client identifier is not a string in the parsed lease"},
		{`"client-id":"01"`, "invalid client identifier 01 in the parsed lease"},
	}
	for _, tt := range tests {
		var m map[string]any
		if err := json.Unmarshal([]byte(syncLease), &m); err != nil {
			t.Fatal(err)
		}
		var change map[string]any
		if err := json.Unmarshal([]byte("{"+tt.change+"}"), &change); err != nil {
			t.Fatal(err)
		}
		for k, v := range change {
			m[k] = v
			if v == nil {
				delete(m, k)
			}
		}
		_, err := ParseLease(m)
		if err == nil || err.Error() != "leasecmds: "+tt.want {
			t.Errorf("%s: error %v, want %q", tt.change, err, tt.want)
		}
	}
	if _, err := ParseLease(nil); err == nil {
		t.Error("nil map accepted")
	}
}

// FuzzLeaseArgs feeds arbitrary arguments to every argument parser: bad
// input must give an error, never a panic, and a lease parsed by
// lease4-add's rules must come back the same through LeaseJSON and the
// strict sync parser.
func FuzzLeaseArgs(f *testing.F) {
	for _, s := range []string{
		`{"ip-address":"192.0.2.20","hw-address":"1a:1b:1c:1d:1e:1f"}`,
		`{"ip-address":"192.0.2.20","hw-address":"","client-id":"0x0102","expire":1800000000,"valid-lft":60,"state":1}`,
		`{"ip-address":"192.0.2.20","hw-address":"1:2","hostname":"A","fqdn-rev":true,"comment":"c","user-context":{"k":[1]}}`,
		`{"ip-address":"192.0.2.20","hw-address":"1:2","subnet-id":2,"pool-id":4294967295}`,
		`{"identifier-type":"client-id","identifier":"01 02","subnet-id":1}`,
		`{"identifier-type":"duid","identifier":"000102","subnet-id":1,"update-ddns":true}`,
		`{"from":"start","limit":10}`, `{"from":"192.0.2.1","limit":-1}`,
		`{"subnets":[1,2]}`, `[]`, `null`, ``, `{"ip-address":"1.2.3.4","hw-address":"::"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, present, err := decodeArgs(raw)
		parseQuery(a, present)
		parsePage(a, present)
		if err != nil || !present {
			return
		}
		p, err := parseAddArgs(a, testSubnets, testNow)
		if err != nil {
			return
		}
		b, err := json.Marshal(LeaseJSON(p.lease))
		if err != nil {
			t.Fatalf("LeaseJSON of %+v: %v", p.lease, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		back, err := ParseLease(m)
		if err != nil {
			t.Fatalf("ParseLease(%s): %v", b, err)
		}
		b2, _ := json.Marshal(LeaseJSON(back))
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the lease:\n%s\n%s", b, b2)
		}
	})
}

// FuzzDecodeFlat checks the one-pass reader of flat arguments against
// encoding/json: whatever it accepts, encoding/json reads the same way,
// also when it reuses a batch's map that held another item's arguments.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range []string{
		`{"ip-address":"192.0.2.20","hw-address":"1a:1b:1c:1d:1e:1f","valid-lft":3600,"expire":1800000000,"fqdn-fwd":false,"fqdn-rev":true,"hostname":"","force-create":true,"state":0}`,
		`{}`, ` { "a" : -0.5e+3 , "b" : null } `, `{"a":01}`, `{"a":1.}`, `{"a":"\u0041"}`, `{"a":"é"}`,
		`{"a":1,"a":2}`, `{"a":tru}`, `{"a":1}x`, `{"a":{"b":1}}`, `{"a":[1]}`, `{"a" 1}`, `{"a":1,}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		flat, ok := decodeFlat(nil, raw)
		if !ok {
			return
		}
		slow, present, err := decodeAny(raw)
		if err != nil || !present || !reflect.DeepEqual(flat, slow) {
			t.Fatalf("one pass read %#v; encoding/json %#v, %v", flat, slow, err)
		}
		used := args{"ip-address": "192.0.2.9", "hw-address": "00:00:00:00:00:09", "valid-lft": json.Number("60")}
		if again, ok := decodeFlat(used, raw); !ok || !reflect.DeepEqual(again, slow) {
			t.Fatalf("into a used map: %#v (ok %v); encoding/json %#v", again, ok, slow)
		}
	})
}

// BenchmarkDecodeArgs reads a partner's lease update, as a standby does
// thousands of times a second, in one pass and through encoding/json.
func BenchmarkDecodeArgs(b *testing.B) {
	raw := []byte(`{"expire":1800003600,"force-create":true,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"","hw-address":"1a:1b:1c:1d:1e:1f","ip-address":"192.0.2.20","state":0,"subnet-id":1,"valid-lft":3600}`)
	for name, decode := range map[string]func(json.RawMessage) (args, bool, error){"flat": decodeArgs, "encoding-json": decodeAny} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				decode(raw)
			}
		})
	}
}
