package leasecmds

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/twinleaf/twinleaf/pkg/ctrl"
	"github.com/twinleaf/twinleaf/pkg/lease"
)

// Item is one command of a batch of lease updates: lease4-update or
// lease4-del with its arguments.
type Item struct {
	Command   string
	Arguments json.RawMessage
}

// Batch applies items in order, each as its own command would (the same
// arguments, answers and conflict rules), and makes all their changes
// durable in one Deps.Commit: one write and one fdatasync for the batch
// instead of one per item. It returns one answer per item, and returns
// only once the changes are durable, so an answer may be acknowledged.
//
// Until the commit, the store is ahead of the lease file; if the commit
// fails, the items' changes are undone, newest first, and every item
// answers the write error.
func (c *Commands) Batch(_ context.Context, items []Item) []ctrl.Answer {
	h := c.h
	tx := &txn{}
	out := make([]ctrl.Answer, len(items))
	for i, it := range items {
		switch it.Command {
		case "lease4-update":
			out[i] = h.updateIn(tx, it.Arguments)
		case "lease4-del":
			out[i] = h.delIn(tx, it.Arguments)
		default:
			out[i] = ctrl.Error("'%s' is not allowed in a batch of lease updates; only lease4-update and lease4-del are", it.Command)
		}
	}
	if err := h.commit(tx); err != nil {
		for i := range out {
			out[i] = ctrl.Error("%s", err.Error())
		}
	}
	return out
}

// txn is a batch's changes, already in the store, waiting for their one
// commit.
type txn struct {
	changes []lease.Change
	// scratch is the map the batch's items decode their arguments into,
	// in turn (decodeArgsInto).
	scratch args
}

// args is the map for the next item's arguments: tx's scratch map, or
// none (a new one is made) outside a batch.
func (tx *txn) args() args {
	if tx == nil {
		return nil
	}
	if tx.scratch == nil {
		tx.scratch = make(args, 12)
	}
	return tx.scratch
}

// applyLater is apply inside a batch: the swap now, the write with the
// batch. A swap that fails changed nothing, so there is nothing to write
// back; the caller retries over what is there now, as apply's caller does.
func (h *handler) applyLater(tx *txn, c lease.Change) bool {
	if !h.swap(c) {
		return false
	}
	tx.changes = append(tx.changes, c)
	return true
}

// commit writes the batch's changes in one Commit. A DHCP worker or
// another command may have changed an address after the batch swapped
// it; the lease file must end with what the store holds, so such an
// address is written once more with the store's lease (rare: a second
// commit). A failed write undoes the batch.
func (h *handler) commit(tx *txn) error {
	if len(tx.changes) == 0 {
		return nil
	}
	if err := h.Commit(tx.changes...); err != nil {
		h.undo(tx)
		return fmt.Errorf("leasecmds: writing the lease file: %w", err)
	}
	var again []lease.Change
	last := map[[4]byte]int{}
	for i, c := range tx.changes {
		last[changeAddr(c).As4()] = i
	}
	for i, c := range tx.changes {
		if last[changeAddr(c).As4()] != i {
			continue
		}
		cur, _ := h.Store.Get(changeAddr(c))
		if cur == c.New {
			continue
		}
		written := orDeleted(c.New, c.Old)
		if cur == nil && c.New == nil {
			continue // deleted, as written
		}
		again = append(again, lease.Change{Old: written, New: cur})
	}
	if len(again) == 0 {
		return nil
	}
	if err := h.Commit(again...); err != nil {
		return fmt.Errorf("leasecmds: rewriting leases changed during a batch: %w", err)
	}
	return nil
}

// undo reverts a batch whose write failed, newest first; an address
// changed meanwhile by someone else is left alone.
func (h *handler) undo(tx *txn) {
	for i := len(tx.changes) - 1; i >= 0; i-- {
		c := tx.changes[i]
		var ok bool
		switch {
		case c.New == nil:
			ok = h.Store.CompareAndPut(nil, c.Old)
		case c.Old == nil || c.Old.Addr != c.New.Addr:
			ok = h.Store.CompareAndDelete(c.New)
			if ok && c.Old != nil {
				ok = h.Store.CompareAndPut(nil, c.Old)
			}
		default:
			ok = h.Store.CompareAndPut(c.New, c.Old)
		}
		if !ok {
			continue
		}
		back := lease.Change{Old: c.New, New: c.Old}
		if h.Observe != nil {
			h.Observe(back)
		}
		h.count(back)
	}
}
