-- Payments, refunds and the idempotency keys that make retries safe.
CREATE TABLE payments (
    id                   BLOB PRIMARY KEY NOT NULL,
    user_id              BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider             TEXT NOT NULL,
    provider_payment_id  TEXT NOT NULL UNIQUE,
    status               TEXT NOT NULL,
    amount               INTEGER NOT NULL,
    currency             TEXT NOT NULL,
    amount_refunded      INTEGER NOT NULL DEFAULT 0,
    description          TEXT,
    metadata             TEXT NOT NULL DEFAULT '{}',
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE INDEX payments_user_id_idx ON payments (user_id, id);

CREATE TABLE refunds (
    id                  BLOB PRIMARY KEY NOT NULL,
    payment_id          BLOB NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    provider_refund_id  TEXT NOT NULL UNIQUE,
    amount              INTEGER NOT NULL,
    status              TEXT NOT NULL,
    created_at          TEXT NOT NULL
);

CREATE INDEX refunds_payment_id_idx ON refunds (payment_id);

CREATE TABLE idempotency_keys (
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    operation     TEXT NOT NULL,
    key           TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    response      TEXT,
    created_at    TEXT NOT NULL,
    completed_at  TEXT,
    PRIMARY KEY (user_id, operation, key)
);
