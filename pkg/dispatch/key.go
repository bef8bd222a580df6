package dispatch

// Offsets in a BOOTP/DHCPv4 message (RFC 2131 §2).
const (
	offHlen    = 2
	offChaddr  = 28
	offOptions = 240 // after the 4-byte magic cookie at 236
	optPad     = 0
	optEnd     = 255
	optCID     = 61
)

// ClientKey hashes a raw DHCPv4 message to the identity Kea serialises
// clients by: the client identifier (option 61) when present, else chaddr.
// It reads the bytes in place without allocating; a message too short to
// carry either hashes its whole self, so malformed input still goes to one
// worker deterministically and the engine rejects it there.
func ClientKey(b []byte) uint64 {
	if cid := findOption(b, optCID); len(cid) > 0 {
		return fnv(cid)
	}
	if len(b) >= offChaddr+16 {
		n := int(b[offHlen])
		if n == 0 || n > 16 {
			n = 16
		}
		return fnv(b[offChaddr : offChaddr+n])
	}
	return fnv(b)
}

// findOption returns the payload of the first option code in the options
// field, or nil.
func findOption(b []byte, code byte) []byte {
	if len(b) < offOptions {
		return nil
	}
	for i := offOptions; i < len(b); {
		switch c := b[i]; c {
		case optPad:
			i++
			continue
		case optEnd:
			return nil
		default:
			if i+1 >= len(b) {
				return nil
			}
			n := int(b[i+1])
			if i+2+n > len(b) {
				return nil
			}
			if c == code {
				return b[i+2 : i+2+n]
			}
			i += 2 + n
		}
	}
	return nil
}

// fnv is 64-bit FNV-1a.
func fnv(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
