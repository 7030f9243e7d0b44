-- Users and the external identities (provider + subject) that sign them in.
CREATE TABLE users (
    id          BLOB PRIMARY KEY NOT NULL,
    email       TEXT,
    name        TEXT,
    is_admin    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE identities (
    id              BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    email           TEXT,
    email_verified  INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    CONSTRAINT identities_provider_subject_key UNIQUE (provider, subject)
);

CREATE INDEX identities_user_id_idx ON identities (user_id);
