-- Every change applied to a payment, in order: the source of subscriptions and delta sync.
CREATE TABLE payment_events (
    cursor           BIGSERIAL PRIMARY KEY,
    payment_id       UUID NOT NULL,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sequence         INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    amount_refunded  BIGINT NOT NULL DEFAULT 0,
    source_event_id  TEXT,
    occurred_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT payment_events_payment_sequence_key UNIQUE (payment_id, sequence)
);

CREATE INDEX payment_events_user_cursor_idx ON payment_events (user_id, cursor);
