//! Users and the identities that sign them in.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A person who has signed in at least once.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// Stable id (UUID v7, so ids sort by creation time).
    pub id: Uuid,
    /// The email the user was created with, if any provider asserted one.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Admins may act on other users' payments and replay webhooks.
    pub is_admin: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the profile last changed.
    pub updated_at: DateTime<Utc>,
}

/// An external account (provider + subject) that signs a user in.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Identity {
    /// Row id.
    pub id: Uuid,
    /// The user this identity signs in.
    pub user_id: Uuid,
    /// Configured provider name, e.g. `google`.
    pub provider: String,
    /// The provider's stable subject identifier for the account.
    pub subject: String,
    /// Email the provider asserted.
    pub email: Option<String>,
    /// Whether the provider says it verified that email.
    pub email_verified: bool,
    /// When the identity was first linked.
    pub created_at: DateTime<Utc>,
}

/// Profile of a user about to be created.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Email, if known.
    pub email: Option<String>,
    /// Display name, if known.
    pub name: Option<String>,
}

/// An identity about to be linked.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    /// Configured provider name.
    pub provider: String,
    /// The provider's subject.
    pub subject: String,
    /// Email asserted by the provider.
    pub email: Option<String>,
    /// Whether that email is verified.
    pub email_verified: bool,
}
