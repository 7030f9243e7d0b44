-- Logins bound to the browser or app that started them, and refresh tokens that remember
-- their successor so a concurrent replay within the grace window gets the same new pair.

-- A mobile app may hold its own PKCE verifier and send only the challenge.
ALTER TABLE login_attempts ALTER COLUMN pkce_verifier DROP NOT NULL;
ALTER TABLE login_attempts ADD COLUMN code_challenge TEXT;
-- SHA-256 of the login cookie of the browser that started the login.
ALTER TABLE login_attempts ADD COLUMN browser_hash TEXT;

ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
