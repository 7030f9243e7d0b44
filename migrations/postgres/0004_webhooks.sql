-- The webhook inbox: every verified provider event, stored before it is acknowledged.
CREATE TABLE webhook_inbox (
    seq              BIGSERIAL PRIMARY KEY,
    event_id         TEXT NOT NULL UNIQUE,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    source           TEXT NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    locked_until     TIMESTAMPTZ,
    last_error       TEXT,
    processed_at     TIMESTAMPTZ
);

CREATE INDEX webhook_inbox_due_idx ON webhook_inbox (status, next_attempt_at);
