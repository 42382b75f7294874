package store

// NextBatch returns batch[:0] holding first and every value already waiting
// on ch, up to max values: the writes that arrived together, for a store's
// writer to commit in one transaction (group commit). It never waits.
func NextBatch[T any](batch []T, first T, ch <-chan T, max int) []T {
	batch = append(batch[:0], first)
	for len(batch) < max {
		select {
		case v := <-ch:
			batch = append(batch, v)
		default:
			return batch
		}
	}
	return batch
}
