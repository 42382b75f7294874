-- Run logs, shipped by the executing instance every second and when the
-- run ends, so that any instance can show them (a browser behind a load
-- balancer meets any instance) and they outlive the instance. Each row is
-- the bytes of the log from byte off on; rows of a run are contiguous.
CREATE TABLE run_logs (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    off    BIGINT NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (run_id, off)
);
