CREATE TABLE deliveries (
    id          TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    sender_id   TEXT,
    provider    TEXT NOT NULL DEFAULT '',
    event       TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL,
    remote_addr TEXT NOT NULL DEFAULT '',
    headers     BLOB,
    body        BLOB,
    body_size   INTEGER NOT NULL DEFAULT 0,
    decisions   BLOB
);
CREATE UNIQUE INDEX deliveries_sender ON deliveries (path, sender_id) WHERE sender_id IS NOT NULL;
CREATE INDEX deliveries_received ON deliveries (received_at);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
    trigger     TEXT NOT NULL,
    state       TEXT NOT NULL,
    grp         TEXT NOT NULL DEFAULT '',
    vars        BLOB,
    meta        BLOB,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    ended_at    INTEGER,
    exit_code   INTEGER,
    signal      TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    instance    TEXT NOT NULL DEFAULT '',
    attempt     INTEGER NOT NULL DEFAULT 0,
    status_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_state ON runs (state);
CREATE INDEX runs_delivery ON runs (delivery_id);
CREATE INDEX runs_trigger ON runs (trigger, id);
