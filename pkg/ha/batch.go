package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// Between two twinleaf servers the lease updates of many transactions
// travel in one request, twinleaf-lease4-batch, and the receiver makes
// them durable with one write. Kea has no such command: a server sends it
// only to a partner that offered it (Partner.Batch, from Identify), never
// to Kea. See README "Batched lease updates".

// BatchCommand is twinleaf's own command carrying an ordered list of
// lease4-update and lease4-del commands.
const BatchCommand = "twinleaf-lease4-batch"

// MaxBatch bounds the lease updates one request carries.
const MaxBatch = 256

// BatchRequest wraps cmds, in order, in one twinleaf-lease4-batch.
func BatchRequest(cmds []Command) Command {
	return Command{Command: BatchCommand, Arguments: map[string]any{"version": BatchProtocol, "commands": cmds}}
}

// BatchItem is one command of a received batch. Err, when not empty, is
// why the item cannot be applied; it gets that as its error result.
type BatchItem struct {
	Command   string
	Arguments json.RawMessage
	Err       string
}

// ParseBatch reads twinleaf-lease4-batch's arguments: the protocol
// version and the commands, in order. An error means the batch as a
// whole is unreadable; an item that is not a command is kept with Err.
func ParseBatch(args json.RawMessage) ([]BatchItem, error) {
	if items, ok := parseBatchFast(args); ok {
		return items, nil
	}
	return parseBatchItems(args)
}

// parseBatchItems is ParseBatch reading each item on its own, so that
// one item that is not a command spoils only itself.
func parseBatchItems(args json.RawMessage) ([]BatchItem, error) {
	var a struct {
		Version  *int              `json:"version"`
		Commands []json.RawMessage `json:"commands"`
	}
	if len(bytes.TrimSpace(args)) == 0 {
		return nil, fmt.Errorf("no arguments specified for the '%s' command", BatchCommand)
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("arguments of the '%s' command are not a map with a list of commands: %v", BatchCommand, err)
	}
	if a.Version == nil || *a.Version != BatchProtocol {
		return nil, fmt.Errorf("'%s' version must be %d", BatchCommand, BatchProtocol)
	}
	if a.Commands == nil {
		return nil, fmt.Errorf("'commands' is mandatory for the '%s' command", BatchCommand)
	}
	items := make([]BatchItem, len(a.Commands))
	for i, raw := range a.Commands {
		var c struct {
			Command   *string         `json:"command"`
			Arguments json.RawMessage `json:"arguments"`
		}
		switch err := json.Unmarshal(raw, &c); {
		case err != nil:
			items[i].Err = fmt.Sprintf("item %d of the batch is not a command: %v", i, err)
		case c.Command == nil:
			items[i].Err = fmt.Sprintf("item %d of the batch has no 'command'", i)
		default:
			items[i] = BatchItem{Command: *c.Command, Arguments: c.Arguments}
		}
	}
	return items, nil
}

// parseBatchFast reads a well-formed batch in one pass over the JSON
// (ctrl.ObjectMembers; the standby reads thousands a second); anything
// else, or anything it is unsure encoding/json would read the same way
// (a key that differs from "version", "commands", "command" or
// "arguments" only in case), is left to ParseBatch's item-by-item
// reading, which says what is wrong.
func parseBatchFast(args json.RawMessage) ([]BatchItem, bool) {
	var version, commands []byte
	err := ctrl.ObjectMembers(args, func(k string, v []byte) error {
		switch {
		case k == "version":
			version = v
		case k == "commands":
			commands = v
		case strings.EqualFold(k, "version"), strings.EqualFold(k, "commands"):
			return errNotFast
		}
		return nil
	})
	if err != nil || string(version) != "1" || BatchProtocol != 1 || len(commands) == 0 || commands[0] != '[' {
		return nil, false
	}
	items := make([]BatchItem, 0, 16)
	err = ctrl.ArrayElements(commands, func(v []byte) error {
		it, ok := batchItemFast(v)
		if !ok {
			return errNotFast
		}
		items = append(items, it)
		return nil
	})
	return items, err == nil
}

// errNotFast leaves a batch to ParseBatch's careful reading.
var errNotFast = errors.New("ha: not for the fast reading")

// batchItemFast reads one item of a well-formed batch: a map with a
// "command" string and raw "arguments".
func batchItemFast(v []byte) (BatchItem, bool) {
	var it BatchItem
	var command []byte
	err := ctrl.ObjectMembers(v, func(k string, v []byte) error {
		switch {
		case k == "command":
			command = v
		case k == "arguments":
			it.Arguments = v
		case strings.EqualFold(k, "command"), strings.EqualFold(k, "arguments"):
			return errNotFast
		}
		return nil
	})
	if err != nil || len(command) < 2 || command[0] != '"' {
		return it, false
	}
	if bytes.IndexByte(command, '\\') < 0 && utf8.Valid(command) {
		it.Command = string(command[1 : len(command)-1])
	} else if json.Unmarshal(command, &it.Command) != nil {
		return it, false
	}
	return it, true
}

// parseBatchAnswerFast reads a well-formed, successful batch answer of n
// results in one pass (ctrl.ObjectMembers): the primary reads one per
// batch it sends. Anything else, or anything encoding/json might read
// otherwise (a key differing from the expected ones only in case, a text
// with escapes or invalid UTF-8, a result that is not a plain integer),
// is left to parseBatchAnswerJSON: ok is false then.
func parseBatchAnswerFast(body []byte, n int) ([]Answer, bool) {
	var first []byte
	err := ctrl.ArrayElements(body, func(v []byte) error {
		if first == nil {
			first = v
		}
		return nil
	})
	if err != nil || first == nil {
		return nil, false
	}
	top, ok := answerFast(first)
	if !ok || top.Result != 0 {
		return nil, false
	}
	var results []byte
	err = ctrl.ObjectMembers(top.Arguments, func(k string, v []byte) error {
		switch {
		case k == "results":
			results = v
		case strings.EqualFold(k, "results"):
			return errNotFast
		}
		return nil
	})
	if err != nil || len(results) == 0 || results[0] != '[' {
		return nil, false
	}
	out := make([]Answer, 0, n)
	err = ctrl.ArrayElements(results, func(v []byte) error {
		a, ok := answerFast(v)
		if !ok {
			return errNotFast
		}
		out = append(out, a)
		return nil
	})
	return out, err == nil && len(out) == n
}

// answerFast reads one Kea answer map whose result is a plain integer and
// whose text, if any, a plain string. Its arguments are kept as they came
// ("null" included), as encoding/json keeps a batch result's.
func answerFast(v []byte) (Answer, bool) {
	var a Answer
	var result []byte
	err := ctrl.ObjectMembers(v, func(k string, v []byte) error {
		switch {
		case k == "result":
			result = v
		case k == "text":
			if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
				return errNotFast
			}
			a.Text = string(v[1 : len(v)-1])
		case k == "arguments":
			a.Arguments = v
		case strings.EqualFold(k, "result"), strings.EqualFold(k, "text"), strings.EqualFold(k, "arguments"):
			return errNotFast
		}
		return nil
	})
	if err != nil || len(result) == 0 || len(result) > 9 {
		return a, false
	}
	neg := result[0] == '-'
	digits := result
	if neg {
		digits = result[1:]
	}
	if len(digits) == 0 {
		return a, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return a, false
		}
		a.Result = a.Result*10 + int(c-'0')
	}
	if neg {
		a.Result = -a.Result
	}
	return a, true
}

// BatchAnswer is the receiver's answer: result 0 with one Kea answer per
// item, in order, under "results".
func BatchAnswer(results []ctrl.Answer) ctrl.Answer {
	return ctrl.Success(fmt.Sprintf("%d lease update(s) processed.", len(results)), map[string]any{"results": results})
}

// ParseBatchAnswer reads the answer to a batch of n commands: one answer
// per command. A batch refused as a whole (any result but 0, such as a
// partner that does not know the command) or a wrong count is an error.
func ParseBatchAnswer(body []byte, n int) ([]Answer, error) {
	if out, ok := parseBatchAnswerFast(body, n); ok {
		return out, nil
	}
	return parseBatchAnswerJSON(body, n)
}

// parseBatchAnswerJSON is ParseBatchAnswer with encoding/json, the
// reference for what is accepted and what each refusal says.
func parseBatchAnswerJSON(body []byte, n int) ([]Answer, error) {
	a, err := ParseAnswer(body)
	if err != nil {
		return nil, err
	}
	if a.Result != 0 {
		return nil, a.Err()
	}
	var r struct {
		Results []struct {
			Result *int            `json:"result"`
			Text   string          `json:"text"`
			Args   json.RawMessage `json:"arguments"`
		} `json:"results"`
	}
	if err := json.Unmarshal(a.Arguments, &r); err != nil {
		return nil, fmt.Errorf("%w: %s results: %v", errAnswer, BatchCommand, err)
	}
	if len(r.Results) != n {
		return nil, fmt.Errorf("%w: %s answered %d results for %d commands", errAnswer, BatchCommand, len(r.Results), n)
	}
	out := make([]Answer, n)
	for i, x := range r.Results {
		if x.Result == nil {
			return nil, fmt.Errorf("%w: %s result %d has no result code", errAnswer, BatchCommand, i)
		}
		out[i] = Answer{Result: *x.Result, Text: x.Text, Arguments: x.Args}
	}
	return out, nil
}

// BatchApplier applies the commands of a batch in order, makes their
// changes durable in one commit and answers one per command
// (leasecmds.Commands.Batch).
type BatchApplier func(ctx context.Context, cmds []BatchItem) []ctrl.Answer

// RegisterBatch adds twinleaf-lease4-batch to reg, applied by apply. An
// item ParseBatch could not read answers its error and is not applied;
// the others are, in order.
func RegisterBatch(reg *ctrl.Registry, m *Machine, apply BatchApplier) error {
	return reg.Register(BatchCommand, func(ctx context.Context, args json.RawMessage) ctrl.Answer {
		items, err := ParseBatch(args)
		if err != nil {
			return ctrl.Error("%v", err)
		}
		out := make([]ctrl.Answer, len(items))
		var good []BatchItem
		var at []int
		for i, it := range items {
			if it.Err != "" {
				out[i] = ctrl.Error("%s", it.Err)
				continue
			}
			good = append(good, it)
			at = append(at, i)
		}
		if len(good) > 0 {
			res := apply(ctx, good)
			for j, i := range at {
				if j < len(res) {
					out[i] = res[j]
				} else {
					out[i] = ctrl.Error("no result for item %d of the batch", i)
				}
			}
		}
		m.batchesReceived.Add(1)
		m.batchItemsReceived.Add(uint64(len(items)))
		return BatchAnswer(out)
	})
}
