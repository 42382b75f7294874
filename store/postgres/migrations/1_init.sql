CREATE TABLE deliveries (
    id          TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    sender_id   TEXT,
    provider    TEXT NOT NULL DEFAULT '',
    event       TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL DEFAULT '',
    received_at TIMESTAMPTZ NOT NULL,
    remote_addr TEXT NOT NULL DEFAULT '',
    headers     BYTEA,
    body        BYTEA,
    body_size   INTEGER NOT NULL DEFAULT 0,
    decisions   BYTEA
);
CREATE UNIQUE INDEX deliveries_sender ON deliveries (path, sender_id) WHERE sender_id IS NOT NULL;
CREATE INDEX deliveries_received ON deliveries (received_at);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
    trigger     TEXT NOT NULL,
    state       TEXT NOT NULL,
    grp         TEXT NOT NULL DEFAULT '',
    vars        BYTEA,
    meta        BYTEA,
    created_at  TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ,
    ended_at    TIMESTAMPTZ,
    exit_code   INTEGER,
    signal      TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    instance    TEXT NOT NULL DEFAULT '',
    attempt     INTEGER NOT NULL DEFAULT 0,
    status_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_live ON runs (state, grp) WHERE state IN ('queued', 'running');
CREATE INDEX runs_delivery ON runs (delivery_id);
CREATE INDEX runs_trigger ON runs (trigger, id);

-- Instances sharing the database; a row whose heartbeat stopped belongs to
-- an instance that died, and its running runs are marked interrupted.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);
