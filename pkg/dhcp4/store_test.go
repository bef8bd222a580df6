package dhcp4

import "github.com/twinleaf/twinleaf/pkg/lease"

// The engine runs on pkg/lease's store.
var _ Store = (*lease.Store)(nil)
