//! Users and identities.

use async_trait::async_trait;
use uuid::Uuid;

use super::{Identity, NewIdentity, NewUser, StoreError, User};

/// Reading and writing users and their identities.
#[async_trait]
pub trait UserRepo {
    /// Creates a user together with its first identity, atomically.
    /// Fails with [`StoreError::Conflict`] when the identity already belongs to someone.
    async fn create_user(&self, user: NewUser, identity: NewIdentity) -> Result<User, StoreError>;

    /// Finds a user by id.
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError>;

    /// Finds many users at once (for DataLoaders); unknown ids are simply absent.
    async fn users_by_ids(&self, ids: &[Uuid]) -> Result<Vec<User>, StoreError>;

    /// Finds the user an identity signs in.
    async fn user_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError>;

    /// Links another identity to an existing user.
    /// Fails with [`StoreError::Conflict`] when the identity already belongs to someone.
    async fn add_identity(
        &self,
        user_id: Uuid,
        identity: NewIdentity,
    ) -> Result<Identity, StoreError>;

    /// Grants or revokes a user's admin right; returns the updated user.
    async fn set_admin(&self, user_id: Uuid, is_admin: bool) -> Result<User, StoreError>;

    /// Makes admins exactly the users owning one of the `(provider, subject)` identities listed,
    /// atomically; returns the users whose right changed.
    async fn reconcile_admins(&self, listed: &[(String, String)]) -> Result<Vec<Uuid>, StoreError>;

    /// All identities of the given users, ordered by user then creation.
    async fn identities_of(&self, user_ids: &[Uuid]) -> Result<Vec<Identity>, StoreError>;
}
