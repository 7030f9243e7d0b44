//! The named providers of the service and their combined health.

use std::collections::BTreeMap;

use super::health::ProviderHealth;
use super::provider::ResilientProvider;

/// Every provider's policy stack, by name. Built once at start-up; the
/// `providerHealth` GraphQL field and `/health/ready` read it.
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, ResilientProvider>,
}

impl ProviderRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `provider` under its name, returning any provider it replaces.
    pub fn register(&mut self, provider: ResilientProvider) -> Option<ResilientProvider> {
        self.providers.insert(provider.name().to_owned(), provider)
    }

    /// The provider named `name`.
    pub fn get(&self, name: &str) -> Option<&ResilientProvider> {
        self.providers.get(name)
    }

    /// Provider names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Number of providers.
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    /// Whether no provider is registered.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Health of every provider, in name order.
    pub fn health(&self) -> Vec<ProviderHealth> {
        self.providers
            .values()
            .map(ResilientProvider::health)
            .collect()
    }

    /// Health of the providers whose breaker is not closed, in name order.
    /// Readiness lists them without failing: the service still answers
    /// what it can (cached data, other providers).
    pub fn degraded(&self) -> Vec<ProviderHealth> {
        self.health()
            .into_iter()
            .filter(ProviderHealth::is_degraded)
            .collect()
    }
}

impl FromIterator<ResilientProvider> for ProviderRegistry {
    fn from_iter<I: IntoIterator<Item = ResilientProvider>>(iter: I) -> Self {
        let mut registry = Self::new();
        for provider in iter {
            registry.register(provider);
        }
        registry
    }
}
