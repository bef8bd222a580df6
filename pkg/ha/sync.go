package ha

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/twinleaf/twinleaf/pkg/lease"
)

// SyncStore is where synced leases go: the local lease store, with each
// change journalled like any other.
type SyncStore interface {
	Get(addr netip.Addr) (*lease.Lease, bool)
	// Commit stores nl in place of old (nil when the address was free).
	Commit(ctx context.Context, old, nl *lease.Lease) error
}

// LeaseSync is Kea's lease sync from the partner, the Syncer the state
// machine runs in state syncing (and ha-sync runs on demand).
type LeaseSync struct {
	Transport  Transport
	Partner    string // peer name
	Label      string // "name (url)" for the logs
	Version    Version
	ServerName string
	PageLimit  uint32
	// Timeout is sync-timeout: each page's deadline, and the partner's
	// dhcp-disable max-period (at least 1 s).
	Timeout time.Duration
	Store   SyncStore
	Now     func() time.Time
	Log     hclog.Logger
}

// Sync disables the partner's DHCP service, pages through its leases,
// keeps the newer of each pair (a local lease missing on the partner
// stays), then tells the partner the sync completed. A failure after the
// partner was disabled re-enables it.
func (s *LeaseSync) Sync(ctx context.Context) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	log := s.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	start := now()
	if err := s.pages(ctx, log); err != nil {
		if !errors.Is(err, errDisable) {
			if eerr := s.simple(ctx, EnableCommand(s.Version)); eerr != nil {
				err = fmt.Errorf("%w; re-enabling the partner also failed: %v", err, eerr)
			}
		}
		log.Error(fmt.Sprintf("HA_SYNC_FAILED %s: lease database synchronization with %s failed: %v", s.ServerName, s.Label, err))
		return err
	}
	err := s.simple(ctx, SyncCompleteCommand(s.Version, s.ServerName))
	var ae *AnswerError
	if errors.As(err, &ae) && ae.Result == 2 {
		err = s.simple(ctx, EnableCommand(s.Version))
	}
	if err != nil {
		log.Error(fmt.Sprintf("HA_SYNC_FAILED %s: lease database synchronization with %s failed: %v", s.ServerName, s.Label, err))
		return err
	}
	d := now().Sub(start)
	log.Info(fmt.Sprintf("HA_SYNC_SUCCESSFUL %s: lease database synchronization with %s completed successfully in %.3f ms",
		s.ServerName, s.Label, float64(d)/float64(time.Millisecond)))
	return nil
}

var errDisable = errors.New("dhcp-disable failed")

func (s *LeaseSync) pages(ctx context.Context, log hclog.Logger) error {
	maxPeriod := uint32(s.Timeout / time.Second)
	if maxPeriod == 0 {
		maxPeriod = 1
	}
	from := ""
	for first := true; ; first = false {
		// A fresh dhcp-disable per page restarts the partner's timer.
		if err := s.simple(ctx, DisableCommand(s.Version, maxPeriod)); err != nil {
			if first {
				return fmt.Errorf("%w: %w", errDisable, err)
			}
			return err
		}
		page, err := s.page(ctx, from)
		if err != nil {
			return err
		}
		log.Info(fmt.Sprintf("HA_LEASES_SYNC_LEASE_PAGE_RECEIVED %s: received %d leases from %s", s.ServerName, page.Count, s.Label))
		for _, e := range page.Skipped {
			log.Warn(fmt.Sprintf("HA_LEASE_SYNC_FAILED %s: synchronization failed for lease: %v", s.ServerName, e))
		}
		for _, l := range page.Leases {
			if err := s.merge(ctx, l); err != nil {
				return err
			}
		}
		if page.Count < int(s.PageLimit) {
			return nil
		}
		if !page.Last.IsValid() || (from != "" && page.Last.String() == from) {
			return fmt.Errorf("a full page of leases from %s names no address to continue after", s.Label)
		}
		from = page.Last.String()
	}
}

func (s *LeaseSync) page(ctx context.Context, from string) (LeasePage, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	body, err := call(ctx, s.Transport, s.Partner, LeasePageCommand(from, s.PageLimit))
	if err != nil {
		return LeasePage{}, err
	}
	return ParseLeasePage(body)
}

// merge adds a lease we lack and replaces one whose cltt is older.
func (s *LeaseSync) merge(ctx context.Context, l *lease.Lease) error {
	old, ok := s.Store.Get(l.Addr)
	if ok && !old.CLTT.Before(l.CLTT) {
		return nil
	}
	if !ok {
		old = nil
	}
	if err := s.Store.Commit(ctx, old, l); err != nil {
		return fmt.Errorf("storing the synced lease %s: %w", l.Addr, err)
	}
	return nil
}

// simple sends a command whose answer is only a result code.
func (s *LeaseSync) simple(ctx context.Context, c Command) error {
	body, err := call(ctx, s.Transport, s.Partner, c)
	if err != nil {
		return err
	}
	a, err := ParseAnswer(body)
	if err != nil {
		return err
	}
	return a.Err()
}
