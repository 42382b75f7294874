-- Bodies over 1 MiB are stored in pieces (body NULL, body_chunks the
-- number of pieces): SQLite copies a value whole when it writes or reads
-- it, twice on a write, so a 25 MB body cost 50 MB of memory outside Go's
-- heap while it was written.
ALTER TABLE deliveries ADD COLUMN body_chunks INTEGER NOT NULL DEFAULT 0;
CREATE TABLE delivery_chunks (
    delivery_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (delivery_id, seq)
);
