package leasecmds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/memfile"
)

var (
	testNow     = time.Unix(1800000000, 0)
	testSubnets = []SubnetInfo{
		{ID: 1, Prefix: netip.MustParsePrefix("192.0.2.0/24"), ValidLifetime: 4000,
			Pools: []PoolInfo{{ID: 0, First: netip.MustParseAddr("192.0.2.100"), Last: netip.MustParseAddr("192.0.2.199")},
				{ID: 7, First: netip.MustParseAddr("192.0.2.30"), Last: netip.MustParseAddr("192.0.2.39")}}},
		{ID: 2, Prefix: netip.MustParsePrefix("198.51.100.0/24"), ValidLifetime: 7200},
	}
)

func mac(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return hw
}

// seedLeases: an active lease with a client-id and a name, a declined
// lease, and a reclaimed lease of the first client in another subnet.
func seedLeases() []*lease.Lease {
	return []*lease.Lease{
		{Addr: netip.MustParseAddr("192.0.2.10"), HWAddr: mac("08:00:27:00:00:01"), ClientID: []byte{1, 8, 0, 0x27, 0, 0, 1},
			ValidLft: 3600, CLTT: time.Unix(1700000000, 0), SubnetID: 1, Hostname: "host-a", FqdnFwd: true},
		{Addr: netip.MustParseAddr("192.0.2.11"), ValidLft: 86400, CLTT: time.Unix(1700000000, 0), SubnetID: 1, State: lease.StateDeclined},
		{Addr: netip.MustParseAddr("198.51.100.5"), HWAddr: mac("08:00:27:00:00:01"), ValidLft: 7200,
			CLTT: time.Unix(1700000000, 0), SubnetID: 2, Hostname: "host-b", State: lease.StateReclaimed},
	}
}

// statsRec records statistic changes.
type statsRec map[string]int64

func (s statsRec) Add(name string, n int64) { s[name] += n }

type fixture struct {
	h        *handler
	path     string
	journal  *memfile.Journal
	stats    statsRec
	observed []lease.Change
}

// newFixture is a handler over a real store and lease file in t.TempDir,
// seeded with seedLeases (written through the journal).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "leases4.csv"), stats: statsRec{}}
	j, err := memfile.Open(memfile.Options{Path: f.path, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	store := lease.NewStore()
	if _, err := j.Load(store); err != nil {
		t.Fatal(err)
	}
	for _, l := range seedLeases() {
		if err := j.Commit(lease.Change{New: l}); err != nil {
			t.Fatal(err)
		}
		store.Put(l)
	}
	f.journal = j
	f.h, err = newHandler(Deps{Store: store, Commit: j.Commit,
		Observe: func(c lease.Change) { f.observed = append(f.observed, c) },
		Subnets: func() []SubnetInfo { return testSubnets },
		Now:     func() time.Time { return testNow }, Stats: f.stats})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) call(t *testing.T, cmd, args string) ctrl.Answer {
	t.Helper()
	h, ok := f.h.handlers()[cmd]
	if !ok {
		t.Fatalf("no handler for %s", cmd)
	}
	var raw json.RawMessage
	if args != "" {
		raw = json.RawMessage(args)
	}
	return h(context.Background(), raw)
}

// checkDurable reloads the lease file into a fresh store and checks that
// it holds exactly what the handler's store holds.
func (f *fixture) checkDurable(t *testing.T) {
	t.Helper()
	got := lease.NewStore()
	jr, err := memfile.Open(memfile.Options{Path: f.path, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer jr.Close()
	if _, err := jr.Load(got); err != nil {
		t.Fatal(err)
	}
	want := f.h.Store.All()
	have := got.All()
	if len(want) != len(have) {
		t.Fatalf("lease file holds %d leases, store %d", len(have), len(want))
	}
	for i := range want {
		if !lease.Equal(want[i], have[i]) {
			t.Errorf("lease file has %+v, store %+v", have[i], want[i])
		}
	}
}

// TestCommands checks every command's answer (result code and text) for
// good and bad arguments against the seeded leases, and that the lease
// file always ends up holding what the store holds.
func TestCommands(t *testing.T) {
	tests := []struct {
		name, cmd, args string
		rc              int
		text            string // exact; a trailing "*" matches a prefix
	}{
		// lease4-add
		{"add", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"1a:1b:1c:1d:1e:1f"}`, 0, "Lease for address 192.0.2.20, subnet-id 1 added."},
		{"add in subnet 2", "lease4-add", `{"ip-address":"198.51.100.9","hw-address":"1:2:3:4:5:6","subnet-id":2}`, 0, "Lease for address 198.51.100.9, subnet-id 2 added."},
		{"add no args", "lease4-add", ``, 1, "no parameters specified for the command"},
		{"add exists", "lease4-add", `{"ip-address":"192.0.2.10","hw-address":"1a:1b:1c:1d:1e:1f"}`, 4, "IPv4 lease already exists."},
		{"add no address", "lease4-add", `{"hw-address":"1a:1b:1c:1d:1e:1f"}`, 1, "missing parameter 'ip-address'"},
		{"add address type", "lease4-add", `{"ip-address":7,"hw-address":""}`, 1, "invalid type specified for parameter 'ip-address'"},
		{"add bad address", "lease4-add", `{"ip-address":"192.0.2.300","hw-address":""}`, 1, "Failed to convert '192.0.2.300' to address: Failed to convert string to address '192.0.2.300': Invalid argument"},
		{"add v6 address", "lease4-add", `{"ip-address":"2001:db8::1","hw-address":""}`, 1, "Non-IPv4 address specified: 2001:db8::1"},
		{"add no hw", "lease4-add", `{"ip-address":"192.0.2.20"}`, 1, "missing parameter 'hw-address'"},
		{"add bad hw", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"1a::1c"}`, 1, "two consecutive separators (':') specified in a decoded string '1a::1c'"},
		{"add hw digit", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"1g:00"}`, 1, "'g' is not a valid hexadecimal digit in decoded string '1g:00'"},
		{"add hw long octet", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"123:00"}`, 1, "invalid format of the decoded string '123:00'"},
		{"add hw too long", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"` + strings.Repeat("1:", 20) + `1"}`, 1, "address vector size exceeds MAX_HWADDR_LEN"},
		{"add unknown subnet", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","subnet-id":9}`, 4, "Invalid subnet-id: No IPv4 subnet with subnet-id=9 currently configured."},
		{"add wrong subnet", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","subnet-id":2}`, 4, "The address 192.0.2.20 does not belong to subnet 198.51.100.0/24, subnet-id=2"},
		{"add no subnet", "lease4-add", `{"ip-address":"203.0.113.1","hw-address":""}`, 4, "subnet-id not specified and failed to find a subnet for address 203.0.113.1"},
		{"add subnet range", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","subnet-id":-1}`, 1, "out of range value (-1) specified for parameter 'subnet-id'"},
		{"add subnet real", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","subnet-id":1.0}`, 1, "invalid type specified for parameter 'subnet-id'"},
		{"add short client-id", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","client-id":"01"}`, 1, "identifier is too short (1), at least 2 is required"},
		{"add bad client-id", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","client-id":"xyz"}`, 1, "'xyz' is not a valid string of hexadecimal digits"},
		{"add expire zero", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","expire":0}`, 1, "expiration time must be positive for address 192.0.2.20"},
		{"add expire short", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","expire":100,"valid-lft":200}`, 1, "expiration time must be greater than valid lifetime for address 192.0.2.20"},
		{"add fqdn no name", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","fqdn-rev":true}`, 1, "No hostname specified and either forward or reverse fqdn was set to true."},
		{"add fqdn type", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","fqdn-fwd":"yes"}`, 1, "invalid type specified for parameter 'fqdn-fwd'"},
		{"add state", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","state":5}`, 1, "Invalid state value: 5, supported values are: 0 (default), 1 (declined), 2 (expired-reclaimed), 3 (released) and 4 (registered)"},
		{"add state range", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","state":256}`, 1, "out of range value (256) specified for parameter 'state'"},
		{"add context", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","user-context":[1]}`, 1, "Invalid user context '[ 1 ]' is not a JSON map."},
		{"add comment twice", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","user-context":{"comment":"a"},"comment":"b"}`, 1, `Duplicated comment entry '"b"' in user context '{ "comment": "a" }'`},
		{"add not a map", "lease4-add", `[1]`, 1, "Parameters missing or are not a map."},
		{"add no identity", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":""}`, 1, "Lease4: 192.0.2.20, state: default has neither hardware address or client id"},
		{"add declined no identity", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","state":1}`, 0, "Lease for address 192.0.2.20, subnet-id 1 added."},
		{"add client-id only", "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"","client-id":"ff:01"}`, 0, "Lease for address 192.0.2.20, subnet-id 1 added."},
		{"update no identity", "lease4-update", `{"ip-address":"192.0.2.10","hw-address":"","state":2}`, 1, "Lease4: 192.0.2.10, state: expired-reclaimed has neither hardware address or client id"},
		// lease4-update
		{"update", "lease4-update", `{"ip-address":"192.0.2.10","hw-address":"1a:1b:1c:1d:1e:1f"}`, 0, "IPv4 lease updated."},
		{"update missing", "lease4-update", `{"ip-address":"192.0.2.20","hw-address":"1a:1b:1c:1d:1e:1f"}`, 4, "failed to update the lease with address 192.0.2.20 either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed"},
		{"update force", "lease4-update", `{"ip-address":"192.0.2.20","hw-address":"1a:1b:1c:1d:1e:1f","force-create":true}`, 0, "IPv4 lease added."},
		{"update force type", "lease4-update", `{"ip-address":"192.0.2.20","hw-address":"","force-create":1}`, 1, "invalid type specified for parameter 'force-create'"},
		{"update no args", "lease4-update", ``, 1, "no parameters specified for lease4-update command"},
		{"update unknown subnet", "lease4-update", `{"ip-address":"192.0.2.10","hw-address":"","subnet-id":7}`, 4, "Invalid subnet-id: No IPv4 subnet with subnet-id=7 currently configured."},
		// lease4-get
		{"get by address", "lease4-get", `{"ip-address":"192.0.2.10"}`, 0, "IPv4 lease found."},
		{"get missing", "lease4-get", `{"ip-address":"192.0.2.99"}`, 3, "Lease not found."},
		{"get by hw", "lease4-get", `{"identifier-type":"hw-address","identifier":"08:00:27:00:00:01","subnet-id":2}`, 0, "IPv4 lease found."},
		{"get by hw other subnet", "lease4-get", `{"identifier-type":"hw-address","identifier":"08:00:27:00:00:01","subnet-id":3}`, 3, "Lease not found."},
		{"get by client-id", "lease4-get", `{"identifier-type":"client-id","identifier":"01:08:00:27:00:00:01","subnet-id":1}`, 0, "IPv4 lease found."},
		{"get by duid", "lease4-get", `{"identifier-type":"duid","identifier":"00:01:02:03","subnet-id":1}`, 1, "Query by duid is not allowed in v4."},
		{"get no args", "lease4-get", ``, 1, "Parameters missing or are not a map."},
		{"get address type", "lease4-get", `{"ip-address":1}`, 1, "'ip-address' is not a string."},
		{"get bad address", "lease4-get", `{"ip-address":"foo"}`, 1, "Failed to convert string to address 'foo': Invalid argument"},
		{"get v6", "lease4-get", `{"ip-address":"::1"}`, 1, "Invalid IPv4 address specified: ::1"},
		{"get no subnet", "lease4-get", `{"identifier-type":"hw-address","identifier":"01:02"}`, 1, "Mandatory 'subnet-id' parameter missing."},
		{"get subnet type", "lease4-get", `{"identifier-type":"hw-address","identifier":"01:02","subnet-id":"1"}`, 1, "'subnet-id' parameter is not integer."},
		{"get no type", "lease4-get", `{"identifier":"01:02","subnet-id":1}`, 1, "No 'ip-address' provided and 'identifier-type' is either missing or not a string."},
		{"get no identifier", "lease4-get", `{"identifier-type":"hw-address","subnet-id":1}`, 1, "No 'ip-address' provided and 'identifier' is either missing or not a string."},
		{"get bad type", "lease4-get", `{"identifier-type":"mac","identifier":"01:02","subnet-id":1}`, 1, "Incorrect identifier type: mac, the only supported values are: address, hw-address, duid"},
		{"get bad lease type", "lease4-get", `{"type":"X","ip-address":"192.0.2.10"}`, 1, "Invalid lease type specified: X, only supported values are: IA_NA, IA_TA, IA_PD and V4"},
		{"get bad ddns", "lease4-get", `{"update-ddns":1,"ip-address":"192.0.2.10"}`, 1, "'update-ddns' is not a boolean"},
		// lease4-get-all
		{"get-all", "lease4-get-all", ``, 0, "3 IPv4 lease(s) found."},
		{"get-all subnets", "lease4-get-all", `{"subnets":[2,1]}`, 0, "3 IPv4 lease(s) found."},
		{"get-all empty subnet", "lease4-get-all", `{"subnets":[5]}`, 3, "0 IPv4 lease(s) found."},
		{"get-all no subnets", "lease4-get-all", `{}`, 1, "'subnets' parameter not specified"},
		{"get-all subnets type", "lease4-get-all", `{"subnets":1}`, 1, "'subnets' parameter must be a list"},
		{"get-all subnet ids", "lease4-get-all", `{"subnets":["1"]}`, 1, "listed subnet identifiers must be numbers"},
		// lease4-get-page
		{"page start", "lease4-get-page", `{"from":"start","limit":2}`, 0, "2 IPv4 lease(s) found."},
		{"page from", "lease4-get-page", `{"from":"192.0.2.11","limit":10}`, 0, "1 IPv4 lease(s) found."},
		{"page end", "lease4-get-page", `{"from":"198.51.100.5","limit":10}`, 3, "0 IPv4 lease(s) found."},
		{"page no args", "lease4-get-page", ``, 1, "no parameters specified for the lease4-get-page command"},
		{"page no from", "lease4-get-page", `{"limit":1}`, 1, "'from' parameter not specified"},
		{"page from type", "lease4-get-page", `{"from":1,"limit":1}`, 1, "'from' parameter must be a string"},
		{"page bad from", "lease4-get-page", `{"from":"begin","limit":1}`, 1, "'from' parameter value is neither 'start' keyword nor a valid IPv4 address"},
		{"page v6 from", "lease4-get-page", `{"from":"::","limit":1}`, 1, "'from' parameter value :: is not an IPv4 address"},
		{"page no limit", "lease4-get-page", `{"from":"start"}`, 1, "'limit' parameter not specified"},
		{"page limit type", "lease4-get-page", `{"from":"start","limit":"1"}`, 1, "'limit' parameter must be a number"},
		{"page limit 0", "lease4-get-page", `{"from":"start","limit":0}`, 1, "page size of retrieved leases must not be 0"},
		{"page limit negative", "lease4-get-page", `{"from":"start","limit":-1}`, 1, "page size of retrieved leases must not be greater than 4294967295"},
		// lease4-get-by-*
		{"by hw", "lease4-get-by-hw-address", `{"hw-address":"08:00:27:00:00:01"}`, 0, "2 IPv4 lease(s) found."},
		{"by hw none", "lease4-get-by-hw-address", `{"hw-address":"08:00:27:00:00:09"}`, 3, "0 IPv4 lease(s) found."},
		{"by hw no args", "lease4-get-by-hw-address", ``, 1, "Command arguments missing or a not a map."},
		{"by hw missing", "lease4-get-by-hw-address", `{}`, 1, "'hw-address' parameter not specified"},
		{"by hw type", "lease4-get-by-hw-address", `{"hw-address":1}`, 1, "'hw-address' parameter must be a string"},
		{"by hw bad", "lease4-get-by-hw-address", `{"hw-address":"zz"}`, 1, "'z' is not a valid hexadecimal digit in decoded string 'zz'"},
		{"by client-id", "lease4-get-by-client-id", `{"client-id":"01:08:00:27:00:00:01"}`, 0, "1 IPv4 lease(s) found."},
		{"by client-id plain hex", "lease4-get-by-client-id", `{"client-id":"0x01080027000001"}`, 0, "1 IPv4 lease(s) found."},
		{"by client-id short", "lease4-get-by-client-id", `{"client-id":""}`, 1, "identifier is too short (0), at least 2 is required"},
		{"by client-id missing", "lease4-get-by-client-id", `{}`, 1, "'client-id' parameter not specified"},
		{"by hostname", "lease4-get-by-hostname", `{"hostname":"HOST-A"}`, 0, "1 IPv4 lease(s) found."},
		{"by hostname none", "lease4-get-by-hostname", `{"hostname":"nobody"}`, 3, "0 IPv4 lease(s) found."},
		{"by hostname empty", "lease4-get-by-hostname", `{"hostname":""}`, 1, "'hostname' parameter is empty"},
		{"by hostname type", "lease4-get-by-hostname", `{"hostname":[]}`, 1, "'hostname' parameter must be a string"},
		// lease4-del
		{"del", "lease4-del", `{"ip-address":"192.0.2.10"}`, 0, "IPv4 lease deleted."},
		{"del missing", "lease4-del", `{"ip-address":"192.0.2.99"}`, 3, "IPv4 lease not found."},
		{"del by hw", "lease4-del", `{"identifier-type":"hw-address","identifier":"08:00:27:00:00:01","subnet-id":1}`, 0, "IPv4 lease deleted."},
		{"del by client-id missing", "lease4-del", `{"identifier-type":"client-id","identifier":"01:02","subnet-id":1}`, 3, "IPv4 lease not found."},
		{"del by duid", "lease4-del", `{"identifier-type":"duid","identifier":"00:01:02:03","subnet-id":1}`, 1, "Delete by duid is not allowed in v4."},
		{"del bad duid", "lease4-del", `{"identifier-type":"duid","identifier":"00:01","subnet-id":1}`, 1, "identifier is too short (2), at least 3 is required"},
		{"del update-ddns", "lease4-del", `{"ip-address":"192.0.2.10","update-ddns":true}`, 0, "IPv4 lease deleted."},
		{"del no args", "lease4-del", ``, 1, "Parameters missing or are not a map."},
		// lease4-wipe
		{"wipe all", "lease4-wipe", ``, 0, "Deleted 3 IPv4 lease(s) from subnet(s) 1 2"},
		{"wipe zero", "lease4-wipe", `{"subnet-id":0}`, 0, "Deleted 3 IPv4 lease(s) from subnet(s) 1 2"},
		{"wipe subnet", "lease4-wipe", `{"subnet-id":1}`, 0, "Deleted 2 IPv4 lease(s) from subnet(s) 1"},
		{"wipe empty subnet", "lease4-wipe", `{"subnet-id":5}`, 3, "Deleted 0 IPv4 lease(s) from subnet(s) 5"},
		{"wipe subnet type", "lease4-wipe", `{"subnet-id":"1"}`, 1, "invalid type specified for parameter 'subnet-id'"},
		// lease4-resend-ddns
		{"resend", "lease4-resend-ddns", `{"ip-address":"192.0.2.10"}`, 4, "DDNS updating is not enabled"},
		{"resend missing", "lease4-resend-ddns", `{}`, 1, "'ip-address' parameter is missing."},
		{"resend type", "lease4-resend-ddns", `{"ip-address":true}`, 1, "'ip-address' is not a string."},
		{"resend bad", "lease4-resend-ddns", `{"ip-address":"x"}`, 1, "'x' is not a valid IP address."},
		{"resend v6", "lease4-resend-ddns", `{"ip-address":"::"}`, 1, "Invalid IPv4 address specified: ::"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			got := f.call(t, tt.cmd, tt.args)
			if got.Result != tt.rc {
				t.Errorf("%s %s: result %d, want %d (text %q)", tt.cmd, tt.args, got.Result, tt.rc, got.Text)
			}
			if prefix, ok := strings.CutSuffix(tt.text, "*"); ok && !strings.HasPrefix(got.Text, prefix) || !ok && got.Text != tt.text {
				t.Errorf("%s %s: text\n%q, want\n%q", tt.cmd, tt.args, got.Text, tt.text)
			}
			f.checkDurable(t)
		})
	}
}

// TestAddThenGet checks the lease an add stores: Kea's defaults (valid-lft
// from the subnet, cltt now), a lower-cased name, the comment folded into
// the user context, and the JSON lease4-get shows it as.
func TestAddThenGet(t *testing.T) {
	f := newFixture(t)
	if a := f.call(t, "lease4-add", `{"ip-address":"192.0.2.20","hw-address":"1A:b:1c:1d:1e:1f","client-id":"01 02 03",
		"hostname":"Laptop.Example.","fqdn-fwd":true,"comment":"lab","user-context":{"x":1},"pool-id":3,"origin":"ha-partner"}`); a.Result != 0 {
		t.Fatalf("add: %+v", a)
	}
	a := f.call(t, "lease4-get", `{"ip-address":"192.0.2.20"}`)
	got, _ := json.Marshal(a.Arguments)
	want := `{"client-id":"01:02:03","cltt":1800000000,"fqdn-fwd":true,"fqdn-rev":false,"hostname":"laptop.example.",` +
		`"hw-address":"1a:0b:1c:1d:1e:1f","ip-address":"192.0.2.20","pool-id":3,"state":0,"subnet-id":1,` +
		`"user-context":{"comment":"lab","x":1},"valid-lft":4000}`
	if string(got) != want {
		t.Errorf("lease4-get arguments\n%s, want\n%s", got, want)
	}
	f.checkDurable(t)
}

// TestUpdateReplacesLease checks that fields an update leaves out fall back
// to their defaults, and that expire sets cltt.
func TestUpdateReplacesLease(t *testing.T) {
	f := newFixture(t)
	a := f.call(t, "lease4-update", `{"ip-address":"192.0.2.10","hw-address":"08:00:27:00:00:01","valid-lft":600,"expire":1800000600}`)
	if a.Result != 0 {
		t.Fatalf("update: %+v", a)
	}
	l, _ := f.h.Store.Get(netip.MustParseAddr("192.0.2.10"))
	if l.Hostname != "" || l.FqdnFwd || l.ClientID != nil || l.ValidLft != 600 || l.CLTT.Unix() != 1800000000 {
		t.Errorf("updated lease %+v: want no name, no client-id, valid 600, cltt 1800000000", l)
	}
	f.checkDurable(t)
}

// TestStatsAndObserve follows a lease through add, update to declined,
// update to reclaimed and delete, checking the engine hears of each change
// and the counters move as Kea's do.
func TestStatsAndObserve(t *testing.T) {
	f := newFixture(t)
	steps := []struct {
		cmd, args string
		want      statsRec
	}{
		{"lease4-add", `{"ip-address":"192.0.2.30","hw-address":"01:02:03:04:05:06"}`,
			statsRec{"subnet[1].assigned-addresses": 1, "subnet[1].pool[7].assigned-addresses": 1}},
		{"lease4-update", `{"ip-address":"192.0.2.30","hw-address":"","state":1}`,
			statsRec{"subnet[1].assigned-addresses": 1, "subnet[1].pool[7].assigned-addresses": 1,
				"subnet[1].declined-addresses": 1, "subnet[1].pool[7].declined-addresses": 1, "declined-addresses": 1}},
		{"lease4-update", `{"ip-address":"192.0.2.30","hw-address":"","client-id":"01:02","state":2}`,
			statsRec{"subnet[1].assigned-addresses": 0, "subnet[1].pool[7].assigned-addresses": 0,
				"subnet[1].declined-addresses": 0, "subnet[1].pool[7].declined-addresses": 0, "declined-addresses": 0}},
		{"lease4-update", `{"ip-address":"192.0.2.30","hw-address":"01:02:03:04:05:06"}`,
			statsRec{"subnet[1].assigned-addresses": 1, "subnet[1].pool[7].assigned-addresses": 1,
				"subnet[1].declined-addresses": 0, "subnet[1].pool[7].declined-addresses": 0, "declined-addresses": 0}},
		{"lease4-del", `{"ip-address":"192.0.2.30"}`,
			statsRec{"subnet[1].assigned-addresses": 0, "subnet[1].pool[7].assigned-addresses": 0,
				"subnet[1].declined-addresses": 0, "subnet[1].pool[7].declined-addresses": 0, "declined-addresses": 0}},
	}
	for i, s := range steps {
		if a := f.call(t, s.cmd, s.args); a.Result != 0 {
			t.Fatalf("step %d %s: %+v", i, s.cmd, a)
		}
		if !reflect.DeepEqual(f.stats, s.want) {
			t.Errorf("step %d %s: stats %v, want %v", i, s.cmd, f.stats, s.want)
		}
		if len(f.observed) != i+1 {
			t.Fatalf("step %d: engine observed %d changes, want %d", i, len(f.observed), i+1)
		}
		c := f.observed[i]
		cur, _ := f.h.Store.Get(netip.MustParseAddr("192.0.2.30"))
		if c.New != cur {
			t.Errorf("step %d: observed New %+v, store holds %+v", i, c.New, cur)
		}
	}
	f.checkDurable(t)
}

// TestWipeStats checks that a wipe takes the wiped leases out of the
// counters: the seed's active and declined leases of subnet 1.
func TestWipeStats(t *testing.T) {
	f := newFixture(t)
	if a := f.call(t, "lease4-wipe", `{"subnet-id":1}`); a.Result != 0 {
		t.Fatalf("wipe: %+v", a)
	}
	want := statsRec{"subnet[1].assigned-addresses": -2, "subnet[1].declined-addresses": -1, "declined-addresses": -1}
	if !reflect.DeepEqual(f.stats, want) {
		t.Errorf("stats %v, want %v", f.stats, want)
	}
	if f.h.Store.Len() != 1 || len(f.observed) != 2 {
		t.Errorf("store holds %d leases, engine saw %d changes; want 1 and 2", f.h.Store.Len(), len(f.observed))
	}
	f.checkDurable(t)
}

// TestListings checks the leases the listings return, in address order.
func TestListings(t *testing.T) {
	f := newFixture(t)
	addrs := func(a ctrl.Answer) []string {
		var out []string
		for _, l := range a.Arguments.(map[string]any)["leases"].([]any) {
			out = append(out, l.(map[string]any)["ip-address"].(string))
		}
		return out
	}
	tests := []struct {
		cmd, args string
		want      []string
	}{
		{"lease4-get-all", ``, []string{"192.0.2.10", "192.0.2.11", "198.51.100.5"}},
		{"lease4-get-all", `{"subnets":[2,1]}`, []string{"198.51.100.5", "192.0.2.10", "192.0.2.11"}},
		{"lease4-get-page", `{"from":"start","limit":2}`, []string{"192.0.2.10", "192.0.2.11"}},
		{"lease4-get-page", `{"from":"192.0.2.11","limit":2}`, []string{"198.51.100.5"}},
		{"lease4-get-page", `{"from":"198.51.100.5","limit":2}`, nil},
		{"lease4-get-by-hw-address", `{"hw-address":"8:0:27:0:0:1"}`, []string{"192.0.2.10", "198.51.100.5"}},
		{"lease4-get-by-client-id", `{"client-id":"01:08:00:27:00:00:01"}`, []string{"192.0.2.10"}},
		{"lease4-get-by-hostname", `{"hostname":"Host-B"}`, []string{"198.51.100.5"}},
	}
	for _, tt := range tests {
		a := f.call(t, tt.cmd, tt.args)
		if got := addrs(a); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %s: %v, want %v", tt.cmd, tt.args, got, tt.want)
		}
		if tt.cmd == "lease4-get-page" && a.Arguments.(map[string]any)["count"] != len(tt.want) {
			t.Errorf("%s %s: count %v, want %d", tt.cmd, tt.args, a.Arguments.(map[string]any)["count"], len(tt.want))
		}
	}
}

// TestConcurrentChange has a DHCP worker take the address between the
// command's write and its swap: the command answers Kea's ResourceBusy
// conflict, the store keeps the worker's lease, and the lease file ends
// with it too.
func TestConcurrentChange(t *testing.T) {
	f := newFixture(t)
	worker := &lease.Lease{Addr: netip.MustParseAddr("192.0.2.40"), HWAddr: mac("02:00:00:00:00:01"),
		ValidLft: 4000, CLTT: testNow, SubnetID: 1}
	commit := f.h.Commit
	raced := false
	f.h.Commit = func(c ...lease.Change) error {
		if err := commit(c...); err != nil {
			return err
		}
		if !raced {
			raced = true
			if err := commit(lease.Change{New: worker}); err != nil {
				return err
			}
			f.h.Store.Put(worker)
		}
		return nil
	}
	a := f.call(t, "lease4-add", `{"ip-address":"192.0.2.40","hw-address":"01:02:03:04:05:06"}`)
	if a.Result != 4 || a.Text != "ResourceBusy: IP address:192.0.2.40 could not be added." {
		t.Errorf("answer %+v", a)
	}
	if l, _ := f.h.Store.Get(worker.Addr); l != worker {
		t.Errorf("store holds %+v, want the worker's lease", l)
	}
	if len(f.observed) != 0 || len(f.stats) != 0 {
		t.Errorf("a lost race was reported: observed %v, stats %v", f.observed, f.stats)
	}
	f.checkDurable(t)
}

// TestCommitFailure checks that a lease file that cannot be written leaves
// the store as it was and says why.
func TestCommitFailure(t *testing.T) {
	f := newFixture(t)
	f.h.Commit = func(...lease.Change) error { return errors.New("disk full") }
	a := f.call(t, "lease4-del", `{"ip-address":"192.0.2.10"}`)
	if a.Result != 1 || !strings.Contains(a.Text, "disk full") {
		t.Errorf("answer %+v", a)
	}
	if _, ok := f.h.Store.Get(netip.MustParseAddr("192.0.2.10")); !ok {
		t.Error("lease deleted from the store although the file was not written")
	}
}

func TestRegister(t *testing.T) {
	reg := ctrl.NewRegistry()
	f := newFixture(t)
	if err := Register(reg, f.h.Deps); err != nil {
		t.Fatal(err)
	}
	if got := reg.Commands(); len(got) != len(Names())+1 {
		t.Errorf("registry has %v, want list-commands and %v", got, Names())
	}
	for _, c := range Names() {
		a := reg.Handle(context.Background(), &ctrl.Request{Command: c})
		if a.Result == ctrl.ResultUnsupported {
			t.Errorf("%s not registered", c)
		}
	}
	if err := Register(reg, f.h.Deps); err == nil {
		t.Error("registering twice succeeded")
	}
	if err := Register(ctrl.NewRegistry(), Deps{}); err == nil {
		t.Error("empty Deps accepted")
	}
}

// lockedStats is a statsRec safe for concurrent commands.
type lockedStats struct {
	mu sync.Mutex
	m  statsRec
}

func (s *lockedStats) Add(name string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.Add(name, n)
}

// TestConcurrentCommands runs adds, forced updates and deletes of a few
// addresses from many goroutines (as HA's parallel lease updates do):
// the lease file must end with what the store holds, and the counters
// must match the leases stored.
func TestConcurrentCommands(t *testing.T) {
	f := newFixture(t)
	st := &lockedStats{m: statsRec{}}
	f.h.Stats = st
	f.h.Observe = nil
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				addr := fmt.Sprintf("192.0.2.%d", 30+(g+i)%4)
				var a ctrl.Answer
				switch (g * i) % 3 {
				case 0:
					a = f.call(t, "lease4-add", `{"ip-address":"`+addr+`","hw-address":"01:02:03:04:05:06"}`)
				case 1:
					a = f.call(t, "lease4-update", fmt.Sprintf(`{"ip-address":%q,"hw-address":"0%d","state":%d,"force-create":true}`, addr, g, i%3))
				default:
					a = f.call(t, "lease4-del", `{"ip-address":"`+addr+`"}`)
				}
				if a.Result == ctrl.ResultError {
					t.Errorf("%+v", a)
				}
			}
		}(g)
	}
	wg.Wait()
	f.checkDurable(t)
	var assigned, declinedN int64
	for _, l := range f.h.Store.All() {
		if l.SubnetID == 1 && l.Addr.Compare(netip.MustParseAddr("192.0.2.30")) >= 0 {
			if counted(l) {
				assigned++
			}
			if declined(l) {
				declinedN++
			}
		}
	}
	if st.m["subnet[1].assigned-addresses"] != assigned || st.m["subnet[1].declined-addresses"] != declinedN {
		t.Errorf("counters %v; store holds %d assigned, %d declined", st.m, assigned, declinedN)
	}
}
