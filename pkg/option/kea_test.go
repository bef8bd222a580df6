package option

import (
	"encoding/hex"
	"testing"
)

// TestKeaWire compares Encode with the payloads kea-dhcp4 2.2.0 sent for
// the same option-data entries, recorded from its DHCPACK to a DHCPINFORM
// on the loopback interface.
func TestKeaWire(t *testing.T) {
	d := custom(t)
	tests := []struct {
		name, data string
		csv        bool
		kea        string
	}{
		{"routers", " 1.2.3.4 ,, 5.6.7.8 ", true, "0102030405060708"},
		{"domain-name", `a\,b,c`, true, "612c62"},
		{"interface-mtu", "5dc", true, "05dc"},
		{"time-offset", "-3600", true, "fffff1f0"},
		{"ip-forwarding", "TRUE", true, "01"},
		{"domain-search", "a.example, B.example.", true, "0161076578616d706c65000142076578616d706c6500"},
		{"my-pfx", "2001:db8:ff00::/36", true, "2420010db8f0"},
		{"my-psid", "3/4", true, "043000"},
		{"my-tups", "a, bc", true, "0161026263"},
		{"my-fqdn", "x.y.z", true, "01780179017a00"},
		{"my-i16a", "-1, 0x10", true, "ffff0010"},
		{"my-recarr", "1, 10.0.0.1, 10.0.0.2", true, "00010a0000010a000002"},
		{"slp-directory-agent", "true, 1.2.3.4, 5.6.7.8", true, "010102030405060708"},
		{"option-6rd", "0, 32, 2001:db8::, 1.2.3.4", true, "002020010db800000000000000000000000001020304"},
		{"v4-portparams", "8, 3/4", true, "08043000"},
		{"path-mtu-plateau-table", "68,296", true, "00440128"},
		{"boot-size", "0x1F", true, "001f"},
		{"nis-domain", "'quoted'", false, "71756f746564"},
		{"merit-dump", "61:62", false, "6162"},
		{"root-path", "0x616263", false, "616263"},
		{"extensions-path", "616200", false, "6162"},
		{"default-ip-ttl", "40", false, "40"},
		{"v4-access-domain", "Ex.Com", true, "02457803436f6d00"},
		{"routers", "", true, ""},
		{"subnet-mask", "255.255.255.0, 255.0.0.0", true, "ffffff00"},
		{"domain-name", "a,b", true, "61"},
		{"interface-mtu", "1e3", true, "01e3"},
		{"ip-forwarding", "01", true, "01"},
		{"host-name", `a\\b`, true, "615c62"},
		{"my-bin", "0A0B", true, "0a0b"},
		{"my-str", " spaced  out ", true, "73706163656420206f7574"},
		{"my-rec", "1,0a0b,ff", true, "010a0b"},
		{"my-empty", "0a", false, ""},
		{"name-servers", "0a 0b 0c 0d", false, "0a0b0c0d"},
		{"time-servers", "a:b:c:d", false, "0a0b0c0d"},
		{"path-mtu-plateau-table", "a0b0c0d", false, "0a0b0c0d"},
		{"client-ndi", "1,2,3", true, "010203"},
		{"uuid-guid", "0, 0a0b", true, "000a0b"},
		{"vivso-suboptions", "4491", true, "0000118b00"},
		{"slp-service-scope", "true, scope, extra", true, "0173636f7065"},
		{"v6-only-preferred", "1800", true, "00000708"},
		{"tcode", "Europe/Zurich", true, "4575726f70652f5a7572696368"},
		{"sip-ua-cs-domains", "a.b", true, "0161016200"},
	}
	for _, tt := range tests {
		def, ok := d.ByName(SpaceDHCP4, tt.name)
		if !ok {
			t.Fatalf("no definition for %s", tt.name)
		}
		got, err := Encode(def, tt.data, tt.csv)
		if err != nil || hex.EncodeToString(got) != tt.kea {
			t.Errorf("%s %q: got %x, %v; Kea sent %s", tt.name, tt.data, got, err, tt.kea)
		}
	}
}
