package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

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
// (ctrl.ObjectFields; the standby reads thousands a second); anything
// else, or anything it is unsure encoding/json would read the same way,
// is left to ParseBatch's item-by-item reading, which says what is wrong.
func parseBatchFast(args json.RawMessage) ([]BatchItem, bool) {
	f, err := ctrl.ObjectFields(args, "version", "commands")
	if err != nil || string(f[0]) != strconv.Itoa(BatchProtocol) || len(f[1]) == 0 || f[1][0] != '[' {
		return nil, false
	}
	return fastElements(f[1], 16, batchItemFast)
}

// fastElements reads each element of the JSON array b with read; ok is
// false when b or any element is not for the fast reading. hint sizes
// the result.
func fastElements[T any](b []byte, hint int, read func([]byte) (T, bool)) ([]T, bool) {
	out := make([]T, 0, hint)
	err := ctrl.ArrayElements(b, func(v []byte) error {
		x, ok := read(v)
		if !ok {
			return errNotFast
		}
		out = append(out, x)
		return nil
	})
	return out, err == nil
}

// errNotFast leaves a batch or an answer to the encoding/json reading.
var errNotFast = errors.New("ha: not for the fast reading")

// batchItemFast reads one item of a well-formed batch: a map with a
// "command" string and raw "arguments".
func batchItemFast(v []byte) (BatchItem, bool) {
	f, err := ctrl.ObjectFields(v, "command", "arguments")
	if err != nil {
		return BatchItem{}, false
	}
	command, ok := ctrl.StringValue(f[0])
	return BatchItem{Command: command, Arguments: f[1]}, ok
}

// parseBatchAnswerFast reads a well-formed, successful batch answer of n
// results in one pass (ctrl.ObjectFields): the primary reads one per
// batch it sends. Anything else, or anything encoding/json might read
// otherwise, is left to parseBatchAnswerJSON: ok is false then.
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
	f, err := ctrl.ObjectFields(top.Arguments, "results")
	if err != nil || len(f[0]) == 0 || f[0][0] != '[' {
		return nil, false
	}
	out, ok := fastElements(f[0], n, answerFast)
	return out, ok && len(out) == n
}

// answerFast reads one Kea answer map whose result is a plain integer in
// ParseAnswer's range, and whose text, if any, a string. Its arguments
// are kept as they came ("null" included), as encoding/json keeps a batch
// result's.
func answerFast(v []byte) (Answer, bool) {
	f, err := ctrl.ObjectFields(v, "result", "text", "arguments")
	if err != nil {
		return Answer{}, false
	}
	rc, err := strconv.ParseInt(string(f[0]), 10, 32)
	if err != nil {
		return Answer{}, false
	}
	a := Answer{Result: int(rc), Arguments: f[2]}
	if f[1] != nil {
		var ok bool
		if a.Text, ok = ctrl.StringValue(f[1]); !ok {
			return Answer{}, false
		}
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
// (leasecmds.Commands.Batch). It keeps nothing of the commands'
// arguments once it returns, nor do its answers point into them: the
// command is registered transient (ctrl.Registry.RegisterTransient), so
// a later request is read into the same buffer.
type BatchApplier func(ctx context.Context, cmds []BatchItem) []ctrl.Answer

// RegisterBatch adds twinleaf-lease4-batch to reg, applied by apply. An
// item ParseBatch could not read answers its error and is not applied;
// the others are, in order.
func RegisterBatch(reg *ctrl.Registry, m *Machine, apply BatchApplier) error {
	return reg.RegisterTransient(BatchCommand, func(ctx context.Context, args json.RawMessage) ctrl.Answer {
		items, err := ParseBatch(args)
		if err != nil {
			return ctrl.Error("%v", err)
		}
		out := make([]ctrl.Answer, len(items))
		good := make([]BatchItem, 0, len(items))
		at := make([]int, 0, len(items))
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
