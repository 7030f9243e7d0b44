-- The provider's customer record of each user (a Stripe customer is created on first need).
CREATE TABLE payment_customers (
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider     TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, provider)
);
