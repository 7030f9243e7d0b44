-- Users and the external identities (provider + subject) that sign them in.
CREATE TABLE users (
    id          UUID PRIMARY KEY,
    email       TEXT,
    name        TEXT,
    is_admin    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE identities (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    email           TEXT,
    email_verified  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT identities_provider_subject_key UNIQUE (provider, subject)
);

CREATE INDEX identities_user_id_idx ON identities (user_id);
