package option

import (
	"bytes"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	d := Std()
	tests := []struct {
		name, data string
		csv        bool
		want       []byte
		wantErr    string
	}{
		{name: "routers", data: "192.0.2.1", csv: true, want: []byte{192, 0, 2, 1}},
		{name: "domain-name-servers", data: "1.1.1.1, 9.9.9.9", csv: true, want: []byte{1, 1, 1, 1, 9, 9, 9, 9}},
		{name: "routers", data: "1.2.3", csv: true, wantErr: `"1.2.3" is not an IPv4 address; expected a comma-separated list`},
		{name: "subnet-mask", data: "255.255.255.0,255.0.0.0", csv: true, wantErr: "want exactly one"},
		{name: "domain-name", data: "lab.example", csv: true, want: []byte("lab.example")},
		{name: "interface-mtu", data: "1500", csv: true, want: []byte{0x05, 0xdc}},
		{name: "interface-mtu", data: "70000", csv: true, wantErr: "not a uint16"},
		{name: "time-offset", data: "-3600", csv: true, want: []byte{0xff, 0xff, 0xf1, 0xf0}},
		{name: "ip-forwarding", data: "true", csv: true, want: []byte{1}},
		{name: "ip-forwarding", data: "yes", csv: true, wantErr: "not a boolean"},
		{name: "domain-search", data: "a.example, b.example.", csv: true,
			want: []byte("\x01a\x07example\x00\x01b\x07example\x00")},
		{name: "routers", data: "c0:00:02:01", csv: false, want: []byte{192, 0, 2, 1}},
		{name: "routers", data: "0xC0000201", csv: false, want: []byte{192, 0, 2, 1}},
		{name: "routers", data: "zz", csv: false, wantErr: "not hex"},
		{name: "classless-static-route", data: "10.0.0.0/8 - 192.0.2.1, 0.0.0.0/0 - 192.0.2.2", csv: true,
			want: []byte{8, 10, 192, 0, 2, 1, 0, 192, 0, 2, 2}},
		{name: "slp-service-scope", data: "true, scope", csv: true, want: []byte("\x01scope")},
		{name: "slp-service-scope", data: "true", csv: true, wantErr: "1 values for a record of 2 fields"},
		{name: "vendor-encapsulated-options", data: "", csv: true, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.data, func(t *testing.T) {
			def, ok := d.ByName(SpaceDHCP4, tt.name)
			if !ok {
				t.Fatalf("no definition for %s", tt.name)
			}
			got, err := Encode(def, tt.data, tt.csv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}

func TestDefs(t *testing.T) {
	d := Std()
	if def, ok := d.ByCode(SpaceDHCP4, 6); !ok || def.Name != "domain-name-servers" {
		t.Errorf("code 6 = %+v", def)
	}
	if def, ok := d.ByName(SpaceAgent, "circuit-id"); !ok || def.Code != 1 {
		t.Errorf("circuit-id = %+v", def)
	}
	if err := d.Add(Def{Name: "routers", Code: 222, Type: Uint8}); err == nil {
		t.Error("redefining a standard name was accepted")
	}
	if err := d.Add(Def{Name: "my-opt", Code: 3, Type: Uint8}); err == nil {
		t.Error("reusing a standard code was accepted")
	}
	if err := d.Add(Def{Name: "my-opt", Code: 222, Type: Uint16, Array: true}); err != nil {
		t.Fatal(err)
	}
	if def, _ := d.ByCode(SpaceDHCP4, 222); def.Name != "my-opt" {
		t.Error("custom definition not found by code")
	}
	if _, err := ParseType("ipv4"); err == nil {
		t.Error("ParseType accepted ipv4")
	}
}

func FuzzEncode(f *testing.F) {
	f.Add("routers", "192.0.2.1", true)
	f.Add("domain-search", "a.b,c", true)
	f.Add("classless-static-route", "0.0.0.0/0 - 1.2.3.4", true)
	f.Add("fqdn", "1,2,3,x.y", true)
	f.Fuzz(func(t *testing.T, name, data string, csv bool) {
		d := Std()
		def, ok := d.ByName(SpaceDHCP4, name)
		if !ok {
			def = Def{Name: name, Code: 250, Space: SpaceDHCP4, Type: String}
		}
		b, err := Encode(def, data, csv)
		if err == nil && len(b) > 4*len(data)+300 {
			t.Fatalf("payload of %d bytes from %d bytes of text", len(b), len(data))
		}
	})
}
