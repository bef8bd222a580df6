package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// A Kea 2.x partner refuses 3.x's released-lease update (state 3), so the
// wire form of lease updates depends on who the partner is. Identify finds
// out before the machine leaves waiting; see README "Speaking 2.2 and 3.x".

// keaTwoRelease is version-get's text on a Kea 2.x server ("2.2.0").
var keaTwoRelease = regexp.MustCompile(`^2\.[0-9]+\.[0-9]+`)

// Partner is what Identify learnt of the partner.
type Partner struct {
	// Version is the wire form of lease updates the partner takes.
	Version Version
	// Text is what the partner said, for the log.
	Text string
	// Batch is the twinleaf-lease4-batch protocol the partner accepts
	// (Capabilities), 0 for Kea and for a twinleaf that offers none.
	Batch int
	// LBConflicts is the load-balancing conflict rule the partner applies
	// (Capabilities, LBConflictProtocol), 0 for Kea.
	LBConflicts int
}

// Identify asks peer which wire form it speaks. version-get comes first:
// its text is Kea's release. A dedicated listener with restrict-commands
// refuses version-get (HTTP 403); then status-get, which every listener
// allows, tells by its HA entry: Kea 2.2's local server has no
// server-name. Both answers carry twinleaf's capabilities (Capabilities)
// when the partner is a twinleaf. An error means the partner could not be
// identified yet (it did not answer, or answered neither command); the
// caller tries again later.
func Identify(ctx context.Context, t Transport, peer string) (Partner, error) {
	body, err := call(ctx, t, peer, Command{Command: "version-get"})
	var se *StatusError
	switch {
	case err == nil:
		if p, err := ParseVersion(body); err == nil {
			return p, nil
		}
	case errors.As(err, &se) && se.Code == http.StatusForbidden:
		// A listener with restrict-commands: status-get is allowed.
	default:
		return Partner{Version: Kea3}, err
	}
	body, err = call(ctx, t, peer, Command{Command: "status-get"})
	if err != nil {
		return Partner{Version: Kea3}, err
	}
	p, err := ParseStatusVersion(body)
	if err != nil {
		return Partner{Version: Kea3}, fmt.Errorf("ha: identifying %s: %w", peer, err)
	}
	return p, nil
}

// ParseVersion reads a version-get answer. Kea 2.x answers its release
// ("2.2.0"); twinleaf and Kea 3.x speak the 3.x form. Only rc 0 tells:
// any other answer is an error, so the caller asks otherwise. A twinleaf
// adds its capabilities to the arguments.
func ParseVersion(body []byte) (Partner, error) {
	a, err := successAnswer(body, "version-get")
	if err != nil {
		return Partner{Version: Kea3}, err
	}
	var args struct {
		Extended string          `json:"extended"`
		Twinleaf json.RawMessage `json:"twinleaf"`
	}
	// The build text is optional: a wrong shape only loses the hint.
	_ = json.Unmarshal(a.Arguments, &args)
	p := Partner{Version: Kea3, Text: a.Text}
	p.Batch, p.LBConflicts = offers(args.Twinleaf)
	// twinleaf names itself in its build text, whatever its release.
	if keaTwoRelease.MatchString(a.Text) && !strings.Contains(args.Extended, "twinleaf") {
		p.Version, p.Batch, p.LBConflicts = Kea22, 0, 0
	}
	return p, nil
}

// ParseStatusVersion reads a status-get answer's HA entry: a local server
// without server-name is Kea 2.2's, one with it is 3.x's (and twinleaf's,
// with its capabilities). An answer without an HA entry is an error.
func ParseStatusVersion(body []byte) (Partner, error) {
	a, err := successAnswer(body, "status-get")
	if err != nil {
		return Partner{Version: Kea3}, err
	}
	var st struct {
		HA []struct {
			Servers struct {
				Local map[string]json.RawMessage `json:"local"`
			} `json:"ha-servers"`
		} `json:"high-availability"`
	}
	if err := json.Unmarshal(a.Arguments, &st); err != nil {
		return Partner{Version: Kea3}, fmt.Errorf("%w: status-get arguments: %v", errAnswer, err)
	}
	if len(st.HA) == 0 || st.HA[0].Servers.Local == nil {
		return Partner{Version: Kea3}, fmt.Errorf("%w: status-get has no high-availability local server", errAnswer)
	}
	local := st.HA[0].Servers.Local
	if _, ok := local["server-name"]; !ok {
		return Partner{Version: Kea22, Text: "2.x (status-get)"}, nil
	}
	p := Partner{Version: Kea3, Text: "3.x or twinleaf (status-get)"}
	p.Batch, p.LBConflicts = offers(local["twinleaf"])
	if p.Batch > 0 {
		p.Text = "twinleaf (status-get)"
	}
	return p, nil
}

// BatchProtocol is the version of twinleaf-lease4-batch this build speaks.
const BatchProtocol = 1

// LBConflictProtocol is the version of the load-balancing conflict rule
// this build applies (README, "Load-balancing conflicts"): a lease
// update for an address this server gave one of its own clients first is
// refused with the kept lease, and a refused update's kept lease is
// adopted. Both servers must apply it, so it is used only with a partner
// that offers it.
const LBConflictProtocol = 1

// Capabilities is what a twinleaf server that accepts batches adds, as
// "twinleaf", to version-get's arguments and to status-get's local HA
// server: the batch protocol it takes and the load-balancing conflict
// rule it applies. Kea's HA never reads either answer from its partner
// (it identifies nothing), and tools that print them show the extra key
// as any other.
func Capabilities() map[string]any {
	return map[string]any{"lease4-batch": BatchProtocol, "lb-conflicts": LBConflictProtocol}
}

// offers reads the batch protocol and the conflict rule from a
// "twinleaf" capabilities value; anything but a positive integer offers
// nothing.
func offers(raw json.RawMessage) (batch, lbConflicts int) {
	var c struct {
		Batch       int `json:"lease4-batch"`
		LBConflicts int `json:"lb-conflicts"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &c) != nil {
		return 0, 0
	}
	return max(c.Batch, 0), max(c.LBConflicts, 0)
}

// successAnswer reads an answer to command that must have succeeded
// (rc 0); any other result is the error.
func successAnswer(body []byte, command string) (Answer, error) {
	a, err := ParseAnswer(body)
	if err != nil {
		return a, err
	}
	if a.Result != 0 {
		return a, fmt.Errorf("ha: %s: %w", command, a.Err())
	}
	return a, nil
}
