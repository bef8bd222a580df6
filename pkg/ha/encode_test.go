package ha

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/twinleaf/twinleaf/pkg/lease"
	"github.com/twinleaf/twinleaf/pkg/leasecmds"
)

// leaseArgsMap is a lease command's arguments as a map, built the way
// they were before appendLeaseArgs: the reference it must match.
func leaseArgsMap(a *leaseArgs) map[string]any {
	m := leasecmds.LeaseJSON(a.l)
	delete(m, "cltt")
	m["expire"] = a.l.Expire().Unix()
	if a.v == Kea3 {
		m["origin"] = "ha-partner"
	} else {
		delete(m, "pool-id")
	}
	if a.force {
		m["force-create"] = true
	}
	return m
}

// argsOf is c's arguments as a map, for a lease command too.
func argsOf(c Command) map[string]any {
	if c.lease != nil {
		return leaseArgsMap(c.lease)
	}
	return c.Arguments
}

// reference is c as encoding/json encodes Kea's envelope, the form
// AppendJSON must reproduce byte for byte.
func reference(c Command) any {
	args := map[string]any{}
	for k, v := range argsOf(c) {
		if cmds, ok := v.([]Command); ok {
			var list []any
			for _, x := range cmds {
				list = append(list, reference(x))
			}
			v = list
		}
		args[k] = v
	}
	if len(args) == 0 {
		args = nil
	}
	return struct {
		Command   string         `json:"command"`
		Service   []string       `json:"service"`
		Arguments map[string]any `json:"arguments,omitempty"`
	}{c.Command, []string{"dhcp4"}, args}
}

func checkEncoding(t *testing.T, c Command) {
	t.Helper()
	want, err := json.Marshal(reference(c))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.AppendJSON([]byte("junk"))
	if err != nil {
		t.Fatalf("AppendJSON: %v", err)
	}
	if !bytes.Equal(got[4:], want) || string(got[:4]) != "junk" {
		t.Fatalf("AppendJSON\n%s\nencoding/json\n%s", got, want)
	}
}

func TestAppendJSON(t *testing.T) {
	full := &lease.Lease{
		Addr: netip.MustParseAddr("192.0.2.7"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 7},
		ClientID: []byte{1, 2, 0, 0, 0, 0, 7}, ValidLft: 3600, CLTT: time.Unix(1700000000, 0),
		SubnetID: 1, PoolID: 2, FqdnFwd: true, Hostname: "a<b>&\"c\"\u2028é",
		UserContext: map[string]any{"ISC": map[string]any{"relay-agent-info": "0x0102"}, "n": 1.5},
	}
	bare := &lease.Lease{Addr: netip.MustParseAddr("192.0.2.8"), CLTT: time.Unix(0, 0)}
	tests := []Command{
		{Command: "ha-heartbeat"},
		{Command: "ha-heartbeat", Arguments: map[string]any{}},
		HeartbeatCommand(Kea3, "server1"),
		LeaseUpdateCommand(Kea3, full), LeaseUpdateCommand(Kea22, full),
		LeaseDeleteCommand(Kea3, bare), LeaseUpdateCommand(Kea22, bare),
		BatchRequest([]Command{LeaseUpdateCommand(Kea3, full), LeaseDeleteCommand(Kea3, bare)}),
		BatchRequest(nil),
		LeaseDeleteCommand(Kea3, &lease.Lease{Addr: netip.MustParseAddr("192.0.2.9"), PoolID: 4, CLTT: time.Unix(5, 0),
			UserContext: map[string]any{}, ClientID: []byte{0}}),
		{Command: "x", Arguments: map[string]any{"list": []any{1, "two"}, "nil": nil, "f": 0.25, "i": -3}},
	}
	for _, c := range tests {
		checkEncoding(t, c)
	}
}

// FuzzAppendLeaseArgs encodes leases of every shape both ways.
func FuzzAppendLeaseArgs(f *testing.F) {
	f.Add(uint32(7), []byte{2, 0, 0, 0, 0, 7}, []byte{1, 2}, "host<&>", int64(1700000000), uint32(3600), uint32(1), uint32(2), uint8(0), true, false, true)
	f.Fuzz(func(t *testing.T, ip uint32, hw, cid []byte, host string, cltt int64, valid, subnet, pool uint32, state uint8, fwd, kea3, ctx bool) {
		l := &lease.Lease{Addr: netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}),
			HWAddr: hw, ClientID: cid, Hostname: host, CLTT: time.Unix(cltt%(1<<40), 0), ValidLft: valid,
			SubnetID: subnet, PoolID: pool, State: lease.State(state % 5), FqdnFwd: fwd, FqdnRev: !fwd}
		if ctx {
			l.UserContext = map[string]any{"ISC": map[string]any{"h": host}}
		}
		v := Kea22
		if kea3 {
			v = Kea3
		}
		checkEncoding(t, LeaseUpdateCommand(v, l))
		checkEncoding(t, LeaseDeleteCommand(v, l))
	})
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("lease4-update", "hostname", "host.example", int64(7))
	f.Add("x", "k<>", "\xff\u2028\"\\\n", int64(-1))
	f.Fuzz(func(t *testing.T, cmd, key, val string, n int64) {
		checkEncoding(t, Command{Command: cmd, Arguments: map[string]any{
			key: val, key + "n": n, "cmds": []Command{{Command: val, Arguments: map[string]any{key: true}}},
		}})
	})
}
