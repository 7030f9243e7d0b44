-- Stripe Billing subscriptions, one row per provider subscription, and subscription changes in
-- the one event log (docs/decisions/0010-subscription-ordering.md).
CREATE TABLE subscriptions (
    id                         BLOB PRIMARY KEY NOT NULL,
    user_id                    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider                   TEXT NOT NULL,
    provider_subscription_id   TEXT NOT NULL UNIQUE,
    price_id                   TEXT NOT NULL,
    quantity                   INTEGER NOT NULL,
    status                     TEXT NOT NULL,
    current_period_end         TEXT,
    cancel_at_period_end       INTEGER NOT NULL DEFAULT 0,
    latest_invoice_id          TEXT,
    latest_invoice_amount_due  INTEGER,
    latest_invoice_currency    TEXT,
    latest_invoice_status      TEXT,
    latest_invoice_url         TEXT,
    -- The `created` time (Unix seconds) of the newest provider event applied: older events
    -- change nothing.
    provider_event_at          INTEGER NOT NULL DEFAULT 0,
    -- Bumped by every write, which is guarded by the version it read.
    version                    INTEGER NOT NULL DEFAULT 0,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
);

CREATE INDEX subscriptions_user_id_idx ON subscriptions (user_id, id);

-- A subscription's events share the log (and its cursors) with payments' events; their
-- `payment_id` holds the subscription's id.
ALTER TABLE payment_events ADD COLUMN subject TEXT NOT NULL DEFAULT 'payment';

CREATE INDEX payment_events_user_subject_cursor_idx ON payment_events (user_id, subject, cursor);
