package dhcp4

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Parse and Marshal are the packet path's codec: the same messages as
// dhcpv4.FromBytes and (*dhcpv4.DHCPv4).ToBytes, with a handful of
// allocations instead of one per address, option and buffer. The
// library's decoder copies every field and option on its own; Parse
// copies the datagram once and points into that copy. FuzzCodec checks
// both against the library byte for byte.

// Sizes of the fixed BOOTP part of a message.
const (
	headerLen = 236 // op through file
	cookieLen = 4
	snameLen  = 64
	fileLen   = 128
	chaddrLen = 16
	// bootpMinLen is the shortest message sent: relays and old servers
	// drop anything shorter than BOOTP's 300 bytes (RFC 951).
	bootpMinLen = 300
)

var magicCookie = [cookieLen]byte{99, 130, 83, 99}

// errNoEnd is a message whose options do not finish with the End option.
var errNoEnd = errors.New("dhcp4: options do not end with the End option (255)")

// Parse decodes a DHCPv4 message. b is not kept: the message points into
// one copy of it.
func Parse(b []byte) (*dhcpv4.DHCPv4, error) {
	if err := checkHeader(b); err != nil {
		return nil, err
	}
	m := new(dhcpv4.DHCPv4)
	if err := decode(m, slices.Clone(b), make(dhcpv4.Options, 8)); err != nil {
		return nil, err
	}
	return m, nil
}

// checkHeader rejects what is too short to be a message or lacks the
// magic cookie.
func checkHeader(b []byte) error {
	if len(b) < headerLen+cookieLen {
		return fmt.Errorf("dhcp4: message of %d bytes is shorter than the %d-byte BOOTP header and magic cookie", len(b), headerLen+cookieLen)
	}
	if [cookieLen]byte(b[headerLen:]) != magicCookie {
		return fmt.Errorf("dhcp4: magic cookie %v, want %v", b[headerLen:headerLen+cookieLen], magicCookie)
	}
	return nil
}

// decode fills m from b, which checkHeader accepted and which m keeps
// pointing into, and reads the options into opts, which must be empty.
func decode(m *dhcpv4.DHCPv4, b []byte, opts dhcpv4.Options) error {
	*m = dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeType(b[0]),
		HWType:        iana.HWType(b[1]),
		HopCount:      b[3],
		TransactionID: dhcpv4.TransactionID(b[4:8]),
		NumSeconds:    uint16(b[8])<<8 | uint16(b[9]),
		Flags:         uint16(b[10])<<8 | uint16(b[11]),
		ClientIPAddr:  net.IP(b[12:16:16]),
		YourIPAddr:    net.IP(b[16:20:20]),
		ServerIPAddr:  net.IP(b[20:24:24]),
		GatewayIPAddr: net.IP(b[24:28:28]),
	}
	hlen := min(int(b[2]), chaddrLen)
	m.ClientHWAddr = net.HardwareAddr(b[28 : 28+hlen : 28+chaddrLen])
	m.ServerHostName = cString(b[44 : 44+snameLen])
	m.BootFileName = cString(b[108 : 108+fileLen])
	if err := parseOptions(opts, b[headerLen+cookieLen:]); err != nil {
		return err
	}
	m.Options = opts
	return nil
}

// cString is a fixed-size field up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// parseOptions reads code-length-value options into opts up to End,
// skipping Pad.
// An option that appears more than once has its values concatenated
// (RFC 3396). A message that stops right after the cookie has no options
// and needs no End, as the library reads it.
func parseOptions(opts dhcpv4.Options, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	for len(b) > 0 {
		code := b[0]
		switch code {
		case 0: // Pad
			b = b[1:]
			continue
		case 255: // End
			return nil
		}
		if len(b) < 2 {
			return fmt.Errorf("dhcp4: option %d has no length", code)
		}
		n := int(b[1])
		if len(b) < 2+n {
			return fmt.Errorf("dhcp4: option %d claims %d bytes, %d remain", code, n, len(b)-2)
		}
		v := b[2 : 2+n : 2+n]
		if old, ok := opts[code]; ok || n == 0 {
			// A repeat is appended (a fresh array, v's capacity being
			// capped); an empty first value is nil, as the library has it.
			v = append(old, v...)
		}
		opts[code] = v
		b = b[2+n:]
	}
	return errNoEnd
}

// Marshal encodes m exactly as (*dhcpv4.DHCPv4).ToBytes does: options in
// code order with the relay agent information (82) last, values over 255
// bytes split into several options, End, then Pad up to 300 bytes.
func Marshal(m *dhcpv4.DHCPv4) []byte {
	return AppendMarshal(nil, m)
}

// AppendMarshal is Marshal into dst's storage, reused from its start: a
// server sending thousands of replies a second keeps one buffer per
// reply in flight instead of allocating each.
func AppendMarshal(dst []byte, m *dhcpv4.DHCPv4) []byte {
	var codes [256]bool
	size := headerLen + cookieLen + 1
	for code, v := range m.Options {
		codes[code] = true
		size += 2*max(1, (len(v)+254)/255) + len(v)
	}
	b := slices.Grow(dst[:0], max(size, bootpMinLen))[:headerLen]
	clear(b)
	b[0], b[1], b[2], b[3] = byte(m.OpCode), byte(m.HWType), byte(len(m.ClientHWAddr)), m.HopCount
	copy(b[4:8], m.TransactionID[:])
	b[8], b[9] = byte(m.NumSeconds>>8), byte(m.NumSeconds)
	b[10], b[11] = byte(m.Flags>>8), byte(m.Flags)
	putIP(b[12:16], m.ClientIPAddr)
	putIP(b[16:20], m.YourIPAddr)
	putIP(b[20:24], m.ServerIPAddr)
	putIP(b[24:28], m.GatewayIPAddr)
	copy(b[28:28+chaddrLen], m.ClientHWAddr)
	copy(b[44:44+snameLen-1], m.ServerHostName)
	copy(b[108:108+fileLen-1], m.BootFileName)
	b = append(b, magicCookie[:]...)
	for code := 1; code < 255; code++ {
		if codes[code] && code != optAgentInfo {
			b = appendOption(b, uint8(code), m.Options[uint8(code)])
		}
	}
	if codes[optAgentInfo] {
		b = appendOption(b, optAgentInfo, m.Options[optAgentInfo])
	}
	b = append(b, 255)
	for len(b) < bootpMinLen {
		b = append(b, 0)
	}
	return b
}

// appendOption appends one option, split in pieces of 255 bytes; an empty
// value is still sent, with length 0.
func appendOption(b []byte, code uint8, v []byte) []byte {
	if len(v) == 0 {
		return append(b, code, 0)
	}
	for len(v) > 0 {
		n := min(len(v), 255)
		b = append(b, code, byte(n))
		b = append(b, v[:n]...)
		v = v[n:]
	}
	return b
}

// putIP writes an address field: zero for nil or a non-IPv4 address.
func putIP(dst []byte, ip net.IP) {
	if v4 := ip.To4(); v4 != nil {
		copy(dst, v4)
	}
}
