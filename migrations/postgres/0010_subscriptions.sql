-- Stripe Billing subscriptions, one row per provider subscription, and subscription changes in
-- the one event log (docs/decisions/0010-subscription-ordering.md).
CREATE TABLE subscriptions (
    id                         UUID PRIMARY KEY,
    user_id                    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider                   TEXT NOT NULL,
    provider_subscription_id   TEXT NOT NULL UNIQUE,
    price_id                   TEXT NOT NULL,
    quantity                   BIGINT NOT NULL,
    status                     TEXT NOT NULL,
    current_period_end         TIMESTAMPTZ,
    cancel_at_period_end       BOOLEAN NOT NULL DEFAULT FALSE,
    latest_invoice_id          TEXT,
    latest_invoice_amount_due  BIGINT,
    latest_invoice_currency    TEXT,
    latest_invoice_status      TEXT,
    latest_invoice_url         TEXT,
    -- The `created` time (Unix seconds) of the newest provider event applied: older events
    -- change nothing.
    provider_event_at          BIGINT NOT NULL DEFAULT 0,
    -- Bumped by every write, which is guarded by the version it read.
    version                    BIGINT NOT NULL DEFAULT 0,
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL
);

CREATE INDEX subscriptions_user_id_idx ON subscriptions (user_id, id);

-- A subscription's events share the log (and its cursors) with payments' events; their
-- `payment_id` holds the subscription's id.
ALTER TABLE payment_events ADD COLUMN subject TEXT NOT NULL DEFAULT 'payment';

CREATE INDEX payment_events_user_subject_cursor_idx ON payment_events (user_id, subject, cursor);
