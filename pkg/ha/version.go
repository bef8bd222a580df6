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

// Identify asks peer which wire form it speaks. version-get comes first:
// its text is Kea's release. A dedicated listener with restrict-commands
// refuses version-get (HTTP 403); then status-get, which every listener
// allows, tells by its HA entry: Kea 2.2's local server has no
// server-name. The text is what the partner said, for the log. An error
// means the partner could not be identified yet (it did not answer, or
// answered neither command); the caller tries again later.
func Identify(ctx context.Context, t Transport, peer string) (Version, string, error) {
	body, err := call(ctx, t, peer, Command{Command: "version-get"})
	var se *StatusError
	switch {
	case err == nil:
		if v, text, err := ParseVersion(body); err == nil {
			return v, text, nil
		}
	case errors.As(err, &se) && se.Code == http.StatusForbidden:
		// A listener with restrict-commands: status-get is allowed.
	default:
		return Kea3, "", err
	}
	body, err = call(ctx, t, peer, Command{Command: "status-get"})
	if err != nil {
		return Kea3, "", err
	}
	v, err := ParseStatusVersion(body)
	if err != nil {
		return Kea3, "", fmt.Errorf("ha: identifying %s: %w", peer, err)
	}
	text := "3.x or twinleaf (status-get)"
	if v == Kea22 {
		text = "2.x (status-get)"
	}
	return v, text, nil
}

// ParseVersion reads a version-get answer. Kea 2.x answers its release
// ("2.2.0"); twinleaf and Kea 3.x speak the 3.x form. Only rc 0 tells:
// any other answer is an error, so the caller asks otherwise.
func ParseVersion(body []byte) (Version, string, error) {
	a, err := ParseAnswer(body)
	if err != nil {
		return Kea3, "", err
	}
	if a.Result != 0 {
		return Kea3, "", fmt.Errorf("ha: version-get: %w", a.Err())
	}
	var args struct {
		Extended string `json:"extended"`
	}
	// The build text is optional: a wrong shape only loses the hint.
	_ = json.Unmarshal(a.Arguments, &args)
	// twinleaf names itself in its build text, whatever its release.
	if keaTwoRelease.MatchString(a.Text) && !strings.Contains(args.Extended, "twinleaf") {
		return Kea22, a.Text, nil
	}
	return Kea3, a.Text, nil
}

// ParseStatusVersion reads a status-get answer's HA entry: a local server
// without server-name is Kea 2.2's, one with it is 3.x's (and twinleaf's).
// An answer without an HA entry is an error.
func ParseStatusVersion(body []byte) (Version, error) {
	a, err := ParseAnswer(body)
	if err != nil {
		return Kea3, err
	}
	if a.Result != 0 {
		return Kea3, fmt.Errorf("ha: status-get: %w", a.Err())
	}
	var st struct {
		HA []struct {
			Servers struct {
				Local map[string]json.RawMessage `json:"local"`
			} `json:"ha-servers"`
		} `json:"high-availability"`
	}
	if err := json.Unmarshal(a.Arguments, &st); err != nil {
		return Kea3, fmt.Errorf("%w: status-get arguments: %v", errAnswer, err)
	}
	if len(st.HA) == 0 || st.HA[0].Servers.Local == nil {
		return Kea3, fmt.Errorf("%w: status-get has no high-availability local server", errAnswer)
	}
	if _, ok := st.HA[0].Servers.Local["server-name"]; ok {
		return Kea3, nil
	}
	return Kea22, nil
}
