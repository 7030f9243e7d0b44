//! The database `DATABASE_URL` names.

use secrecy::{ExposeSecret, SecretString};

/// Which database backend `DATABASE_URL` selects.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    /// An embedded SQLite file; the string is the full `sqlite://` URL.
    Sqlite(SecretString),
    /// A PostgreSQL server; the URL may carry a password, so it is kept secret.
    Postgres(SecretString),
}

impl DatabaseUrl {
    /// The URL to hand to the driver.
    pub fn expose(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite(url) | DatabaseUrl::Postgres(url) => url.expose_secret(),
        }
    }

    /// The backend's name for logs and health output.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}
