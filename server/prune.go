package server

import (
	"time"

	"github.com/hooktrigger/hooktrigger/config"
)

// pruneInterval is how often retention is applied: hourly, or a quarter of
// the shortest retention period when that is shorter (but not under a
// second), so a short retention is kept close to what it says.
func pruneInterval(cfg *config.Config) time.Duration {
	d := time.Hour
	for _, keep := range []time.Duration{cfg.KeepDeliveries, cfg.KeepRuns} {
		if keep > 0 && keep/4 < d {
			d = keep / 4
		}
	}
	return max(d, time.Second)
}
