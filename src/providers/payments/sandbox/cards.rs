//! Saving cards in the sandbox: SetupIntents with client secrets shaped like Stripe's, so a
//! client's save-a-card screen runs against `cargo run` with no keys. The sandbox has no
//! customers, so it has no ephemeral keys and no saved cards to list (the port's defaults).

use super::SandboxProvider;
use crate::providers::payments::ProviderSetupIntent;

impl SandboxProvider {
    /// A new sandbox SetupIntent; its secret is derived like a payment's, so a replay can ask
    /// for it again.
    pub(super) fn new_setup_intent(&self) -> ProviderSetupIntent {
        let id = format!("seti_sandbox_{}", uuid::Uuid::now_v7().simple());
        ProviderSetupIntent {
            client_secret: self.secret_of(&id),
            id,
        }
    }

    /// Whether `id` names a SetupIntent this sandbox could have created.
    pub(super) fn is_setup_intent(id: &str) -> bool {
        id.starts_with("seti_sandbox_")
    }
}
