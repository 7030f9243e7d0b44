-- Payments, refunds and the idempotency keys that make retries safe.
CREATE TABLE payments (
    id                   UUID PRIMARY KEY,
    user_id              UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider             TEXT NOT NULL,
    provider_payment_id  TEXT NOT NULL UNIQUE,
    status               TEXT NOT NULL,
    amount               BIGINT NOT NULL,
    currency             TEXT NOT NULL,
    amount_refunded      BIGINT NOT NULL DEFAULT 0,
    description          TEXT,
    metadata             TEXT NOT NULL DEFAULT '{}',
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE INDEX payments_user_id_idx ON payments (user_id, id);

CREATE TABLE refunds (
    id                  UUID PRIMARY KEY,
    payment_id          UUID NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    provider_refund_id  TEXT NOT NULL UNIQUE,
    amount              BIGINT NOT NULL,
    status              TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL
);

CREATE INDEX refunds_payment_id_idx ON refunds (payment_id);

CREATE TABLE idempotency_keys (
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    operation     TEXT NOT NULL,
    key           TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    response      TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ,
    PRIMARY KEY (user_id, operation, key)
);
