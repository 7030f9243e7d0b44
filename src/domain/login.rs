//! The protocols a login provider may speak.

/// The protocol a login provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginKind {
    /// OpenID Connect (Google, Microsoft, Okta, ...).
    Oidc,
    /// GitHub's OAuth.
    Github,
    /// The development login (never in production).
    Dev,
}
