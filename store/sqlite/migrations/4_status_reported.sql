-- The final state whose commit status the API accepted, so that statuses a
-- stop or a crash left unsent are sent at the next start.
ALTER TABLE runs ADD COLUMN status_reported TEXT NOT NULL DEFAULT '';
