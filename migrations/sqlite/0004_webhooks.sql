-- The webhook inbox: every verified provider event, stored before it is acknowledged.
CREATE TABLE webhook_inbox (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT NOT NULL UNIQUE,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    source           TEXT NOT NULL,
    received_at      TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    locked_until     TEXT,
    last_error       TEXT,
    processed_at     TEXT
);

CREATE INDEX webhook_inbox_due_idx ON webhook_inbox (status, next_attempt_at);
