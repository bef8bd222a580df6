package netio

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestRawRealClient serves busybox udhcpc, a client that takes unicast
// replies to the address it is being offered, with a two-message
// responder over a RawConn: udhcpc obtaining its lease shows that the
// frames reach a real client stack.
func TestRawRealClient(t *testing.T) {
	l, c, _ := rawLab(t, DefaultPorts)
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("needs busybox for udhcpc (apt-get install busybox): %v", err)
	}
	serverIP := net.IPv4(10, 200, 1, 1)
	offered := netip.MustParseAddr("10.200.1.77")
	served := make(chan error, 1)
	unicast := 0
	go func() {
		p := Packet{Buf: make([]byte, 1500)}
		for range 2 {
			if err := c.Read(&p); err != nil {
				served <- err
				return
			}
			q, err := dhcpv4.FromBytes(p.Buf[:p.N])
			if err != nil {
				served <- err
				return
			}
			typ := dhcpv4.MessageTypeOffer
			if q.MessageType() == dhcpv4.MessageTypeRequest {
				typ = dhcpv4.MessageTypeAck
			}
			r, err := dhcpv4.NewReplyFromRequest(q, dhcpv4.WithMessageType(typ), dhcpv4.WithYourIP(offered.AsSlice()),
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverIP)), dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
				dhcpv4.WithLeaseTime(3600))
			if err != nil {
				served <- err
				return
			}
			reply := &Reply{Payload: r.ToBytes(), Dst: netip.AddrPortFrom(offered, 68), DstMAC: p.SrcMAC, ToClient: true}
			if q.IsBroadcast() {
				reply = &Reply{Payload: r.ToBytes(), Dst: netip.MustParseAddrPort("255.255.255.255:68"), Broadcast: true}
			} else {
				unicast++
			}
			if err := c.Send(reply); err != nil {
				served <- err
				return
			}
		}
		served <- nil
	}()
	// The context only bounds a broken run; udhcpc's own -t/-T decide.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.client, busybox, "udhcpc",
		"-f", "-q", "-n", "-i", "tl0c", "-s", "/bin/true", "-t", "5", "-T", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "10.200.1.77") {
		t.Errorf("udhcpc did not report the lease:\n%s", out)
	}
	if err := recvWithin(t, served, "responder finishing"); err != nil {
		t.Fatal(err)
	}
	if unicast != 2 {
		t.Errorf("%d of 2 replies were unicast to the offered address; udhcpc set the broadcast flag", unicast)
	}
}
