package trigger

// Patterns returns the glob patterns as configured (exclusions keep their
// leading "!"); nil for a nil Globs. For display (UI, API), not matching.
func (g *Globs) Patterns() []string {
	if g == nil {
		return nil
	}
	return append([]string(nil), g.patterns...)
}
