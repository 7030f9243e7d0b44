//! The query root: its parts registered as one type by async-graphql's `MergedObject`, and
//! resolved by asking them in turn, most used first.
//!
//! `MergedObject` resolves a field by nesting one future per part, the last part listed
//! outermost, each holding its part's answer across the next part's await: with eight parts,
//! every root field's future (boxed by the engine, once per root field per request) was 2.5 KB,
//! and `me`, in the first part, was asked of the seven others first. Here the parts are asked in
//! sequence, so the future is the size of the largest part's, and the parts that answer most
//! requests come first (decision 0024).

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, resolve_container};
use async_graphql::{
    Context, ContextSelectionSet, ObjectType, OutputType, Positioned, ServerResult, Value,
};

use super::{QueryParts, QueryRoot};

/// The first `Some` of the parts' answers for `$ctx`'s field, asking them in the order given;
/// a part answers `None` for a field that is not its own.
macro_rules! first_answer {
    ($ctx:expr; $($part:expr),+ $(,)?) => {{
        $(
            if let Some(value) = $part.resolve_field($ctx).await? {
                return Ok(Some(value));
            }
        )+
        Ok(None)
    }};
}

impl ContainerType for QueryRoot {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        // Every part is named here, so one left out of the list below is an unused variable,
        // which the build refuses (`-D warnings`).
        let QueryParts(core, payments, catalog, events, node, billing, admin, cards) = &self.0;
        first_answer!(ctx; core, payments, billing, events, node, catalog, cards, admin)
    }

    async fn find_entity(&self, ctx: &Context<'_>, params: &Value) -> ServerResult<Option<Value>> {
        self.0.find_entity(ctx, params).await
    }
}

impl OutputType for QueryRoot {
    fn type_name() -> Cow<'static, str> {
        QueryParts::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        QueryParts::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl ObjectType for QueryRoot {}
