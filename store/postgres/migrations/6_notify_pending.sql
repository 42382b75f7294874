-- The instance that owes the notifications of the run's end ('' when
-- none are owed), so that those a crash or a stop left unsent are sent by
-- a live instance.
ALTER TABLE runs ADD COLUMN notify_pending TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_notify_pending ON runs (notify_pending) WHERE notify_pending <> '';
