package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// Handlers returns Kea's statistic-* commands on r, by command name, with
// Kea's answers and texts, to register with a ctrl.Registry.
//
// Unlike Kea, a max-samples of 0 is refused by statistic-sample-count-set
// too (Kea accepts it and then fails on every read of that statistic).
func (r *Registry) Handlers() map[string]ctrl.Handler {
	return map[string]ctrl.Handler{
		"statistic-get": r.withName(func(name string, _ params) ctrl.Answer {
			out := map[string][]Sample{}
			if s, ok := r.Get(name); ok {
				out[name] = s
			}
			return ctrl.Success("", out)
		}),
		"statistic-get-all": func(context.Context, json.RawMessage) ctrl.Answer {
			return ctrl.Success("", r.All())
		},
		"statistic-reset": r.withName(func(name string, _ params) ctrl.Answer {
			return found(r.Reset(name), name, "Statistic '%s' reset.")
		}),
		"statistic-reset-all": func(context.Context, json.RawMessage) ctrl.Answer {
			r.ResetAll()
			return ctrl.Success("All statistics reset to neutral values.", nil)
		},
		"statistic-remove": r.withName(func(name string, _ params) ctrl.Answer {
			return found(r.Remove(name), name, "Statistic '%s' removed.")
		}),
		"statistic-remove-all": func(context.Context, json.RawMessage) ctrl.Answer {
			r.RemoveAll()
			return ctrl.Success("Warning: statistic-remove-all command is deprecated. All statistics removed.", nil)
		},
		"statistic-sample-age-set": r.withName(func(name string, p params) ctrl.Answer {
			d, bad := p.duration()
			if bad != "" {
				return ctrl.Error("%s", bad)
			}
			return found(r.SetMaxSampleAge(name, d), name, "Statistic '%s' duration limit is set.")
		}),
		"statistic-sample-age-set-all": func(_ context.Context, args json.RawMessage) ctrl.Answer {
			d, bad := parseParams(args).duration()
			if bad != "" {
				return ctrl.Error("%s", bad)
			}
			r.SetMaxSampleAgeAll(d)
			return ctrl.Success("All statistics duration limit are set.", nil)
		},
		"statistic-sample-count-set": r.withName(func(name string, p params) ctrl.Answer {
			n, bad := p.maxSamples()
			if bad != "" {
				return ctrl.Error("%s", bad)
			}
			return found(r.SetMaxSampleCount(name, n), name, "Statistic '%s' count limit is set.")
		}),
		"statistic-sample-count-set-all": func(_ context.Context, args json.RawMessage) ctrl.Answer {
			n, bad := parseParams(args).maxSamples()
			if bad != "" {
				return ctrl.Error("%s", bad)
			}
			r.SetMaxSampleCountAll(n)
			return ctrl.Success("All statistics count limit are set.", nil)
		},
	}
}

// found answers a command on one statistic.
func found(ok bool, name, format string) ctrl.Answer {
	if !ok {
		return ctrl.Error("No '%s' statistic found", name)
	}
	return ctrl.Success(fmt.Sprintf(format, name), nil)
}

// params are a command's arguments; nil when they were missing or not a
// map, which Kea reports as missing parameters.
type params map[string]json.RawMessage

func parseParams(args json.RawMessage) params {
	var p params
	if json.Unmarshal(args, &p) != nil {
		return nil
	}
	return p
}

// withName reads the mandatory "name" argument before running h.
func (r *Registry) withName(h func(name string, p params) ctrl.Answer) ctrl.Handler {
	return func(_ context.Context, args json.RawMessage) ctrl.Answer {
		p := parseParams(args)
		raw, ok := p["name"]
		if !ok || bytes.Equal(raw, []byte("null")) {
			return ctrl.Error("Missing mandatory 'name' parameter.")
		}
		var name string
		if json.Unmarshal(raw, &name) != nil {
			return ctrl.Error("'name' parameter expected to be a string.")
		}
		return h(name, p)
	}
}

// duration reads "duration", in seconds, or says in Kea's words what is
// wrong with it.
func (p params) duration() (time.Duration, string) {
	raw, ok := p["duration"]
	if !ok {
		return 0, "Missing mandatory 'duration' parameter."
	}
	var s int64
	if json.Unmarshal(raw, &s) != nil || s < 0 || s > int64(time.Duration(1<<63-1)/time.Second) {
		return 0, "'duration' parameter expected to be a non-negative integer (seconds)."
	}
	return time.Duration(s) * time.Second, ""
}

// maxSamples reads "max-samples", or says in Kea's words what is wrong
// with it.
func (p params) maxSamples() (uint32, string) {
	raw, ok := p["max-samples"]
	if !ok {
		return 0, "Missing mandatory 'max-samples' parameter."
	}
	var n int64
	if json.Unmarshal(raw, &n) != nil || n < 0 || n > 1<<32-1 {
		return 0, "'max-samples' parameter expected to be an integer."
	}
	if n == 0 {
		return 0, "'max-samples' parameter must not be zero"
	}
	return uint32(n), ""
}
