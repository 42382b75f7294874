-- Index only the live runs (queued and running), the ones looked up by
-- state: at start, and when the API lists them. An index of every run's
-- state moved an entry between two distant leaves on each start and end of
-- a run, a page written to the WAL each time. Queries that use this index
-- repeat its condition, which is how SQLite recognises a partial index.
DROP INDEX runs_state;
CREATE INDEX runs_live ON runs (state, id) WHERE state IN ('queued', 'running');
