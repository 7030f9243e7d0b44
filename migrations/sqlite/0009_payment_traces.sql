-- The W3C trace context of the request that created each payment, so the traces of its
-- webhooks, their application and the pushes to subscribers can link back to it.
CREATE TABLE payment_traces (
    payment_id   BLOB PRIMARY KEY NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    traceparent  TEXT NOT NULL
);
