-- UI sessions that were signed out before they expired. A session lives in
-- its signed cookie, so any instance (and a restarted one) accepts it; this
-- table is what makes signing out hold everywhere. The id is a hash of the
-- session's nonce, never the cookie itself. Rows go once expired.
CREATE TABLE revoked_sessions (
    id         TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
