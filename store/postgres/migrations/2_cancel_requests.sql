-- Requests to stop a run executing on some instance (cancel-previous, or
-- the API of another instance). A NOTIFY delivers them at once; the
-- executing instance also reads them every few seconds, so a request sent
-- while its listening connection was down still arrives. The attempt keeps
-- a request from stopping the run's next attempt after a retry.
CREATE TABLE cancel_requests (
    run_id       TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, attempt)
);
