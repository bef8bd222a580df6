package config

import "time"

// The structs keep Kea's units (seconds here, milliseconds there) so that
// they read like the file; these helpers give the engine time.Duration.

func secs(v uint32) time.Duration { return time.Duration(v) * time.Second }

func millis(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }

// ReclaimEvery is reclaim-timer-wait-time; 0 means no periodic reclamation.
func (e ExpiredLeasesProcessing) ReclaimEvery() time.Duration { return secs(e.ReclaimTimerWaitTime) }

// FlushEvery is flush-reclaimed-timer-wait-time; 0 turns lease affinity off.
func (e ExpiredLeasesProcessing) FlushEvery() time.Duration {
	return secs(e.FlushReclaimedTimerWaitTime)
}

// HoldReclaimed is hold-reclaimed-time, how long a reclaimed lease is kept.
func (e ExpiredLeasesProcessing) HoldReclaimed() time.Duration { return secs(e.HoldReclaimedTime) }

// ReclaimTimeLimit is max-reclaim-time per run; 0 means no limit.
func (e ExpiredLeasesProcessing) ReclaimTimeLimit() time.Duration { return millis(e.MaxReclaimTime) }

// LFCEvery is lfc-interval; 0 turns periodic lease file cleanup off.
func (l LeaseDatabase) LFCEvery() time.Duration { return secs(l.LFCInterval) }

// Heartbeat is heartbeat-delay; 0 means no heartbeats.
func (h *HA) Heartbeat() time.Duration { return millis(h.HeartbeatDelay) }

// ResponseTimeout is max-response-delay, after which the partner's
// silence counts as interrupted communication.
func (h *HA) ResponseTimeout() time.Duration { return millis(h.MaxResponseDelay) }

// AckDelay is max-ack-delay, the secs-field threshold for unacked clients.
func (h *HA) AckDelay() time.Duration { return millis(h.MaxAckDelay) }

// SyncTimeoutDuration is sync-timeout, the limit on each page of a lease
// sync.
func (h *HA) SyncTimeoutDuration() time.Duration { return millis(h.SyncTimeout) }
