-- What a payment priced by the server sold (one row per line item, at the price charged), and
-- who asked for each refund, when, how much and why.
CREATE TABLE payment_line_items (
    payment_id   UUID NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    position     BIGINT NOT NULL,
    price_id     TEXT NOT NULL,
    quantity     BIGINT NOT NULL,
    unit_amount  BIGINT NOT NULL,
    PRIMARY KEY (payment_id, position)
);

-- One row per refund request that passed the refund policy, written before the provider is
-- asked ('requested'), then completed with the refund in the same transaction that records it
-- ('refunded'), or marked 'failed'. The actor has no foreign key: the record outlives an admin's
-- account.
CREATE TABLE refund_audit (
    id             UUID PRIMARY KEY,
    payment_id     UUID NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    refund_id      UUID REFERENCES refunds (id) ON DELETE SET NULL,
    actor_user_id  UUID NOT NULL,
    actor_role     TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    reason         TEXT,
    requested_at   TIMESTAMPTZ NOT NULL,
    outcome        TEXT NOT NULL
);

CREATE INDEX refund_audit_payment_idx ON refund_audit (payment_id, requested_at);
