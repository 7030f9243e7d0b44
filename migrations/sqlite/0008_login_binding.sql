-- Logins bound to the browser or app that started them, and refresh tokens that remember
-- their successor so a concurrent replay within the grace window gets the same new pair.

-- The PKCE verifier becomes optional (a mobile app may hold its own); SQLite cannot drop
-- NOT NULL in place, so the table is rebuilt. Logins in progress are kept.
CREATE TABLE login_attempts_new (
    state_hash       TEXT PRIMARY KEY NOT NULL,
    provider         TEXT NOT NULL,
    pkce_verifier    TEXT,
    code_challenge   TEXT,
    browser_hash     TEXT,
    nonce            TEXT NOT NULL,
    redirect_to      TEXT,
    client_completes INTEGER NOT NULL DEFAULT 0,
    link_user_id     BLOB REFERENCES users (id) ON DELETE CASCADE,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    consumed_at      TEXT
);

INSERT INTO login_attempts_new
    (state_hash, provider, pkce_verifier, nonce, redirect_to, client_completes, link_user_id,
     created_at, expires_at, consumed_at)
SELECT state_hash, provider, pkce_verifier, nonce, redirect_to, client_completes, link_user_id,
       created_at, expires_at, consumed_at
FROM login_attempts;

DROP TABLE login_attempts;
ALTER TABLE login_attempts_new RENAME TO login_attempts;

ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
