//! Relay's global object identification: `interface Node`, `node(id:)` and `nodes(ids:)`.
//!
//! Ids are UUIDs, unique across every table, so an id alone finds its object. Each object is
//! returned only when the typed queries would show it to the same viewer: a payment or refund
//! of the viewer (any, for admins), the viewer's own user (any user, for admins), and likewise a
//! subscription.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Interface, Object};
use uuid::Uuid;

use super::billing::BillingSubscription;
use super::loaders::UsersLoader;
use super::payments::{Payment, Refund};
use super::types::User;
use super::{SchemaDeps, viewer_state};
use crate::auth::Viewer;
use crate::error::AppError;

/// Most ids one `nodes` call looks up.
const MAX_NODES: usize = 100;

/// An object with a globally unique id, refetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Globally unique, opaque id."))]
pub enum Node {
    /// A payment.
    Payment(Payment),
    /// A refund.
    Refund(Refund),
    /// A user.
    User(User),
    /// A subscription.
    BillingSubscription(BillingSubscription),
}

/// Refetching any object by its id.
#[derive(Default)]
pub struct NodeQuery;

/// Refetching any object by its id.
#[Object]
impl NodeQuery {
    /// The object with this id, if the viewer may see it; null otherwise.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        find(ctx, viewer, &id, "id").await
    }

    /// The objects with these ids, in the same order; null for each the viewer may not see.
    /// At most 100 ids.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        if ids.len() > MAX_NODES {
            return Err(AppError::bad_input(
                "ids",
                format!("at most {MAX_NODES} ids per call"),
            ));
        }
        let mut nodes = Vec::with_capacity(ids.len());
        for (index, id) in ids.iter().enumerate() {
            nodes.push(find(ctx, viewer, id, &format!("ids.{index}")).await?);
        }
        Ok(nodes)
    }
}

async fn find(
    ctx: &Context<'_>,
    viewer: &Viewer,
    id: &ID,
    field: &str,
) -> Result<Option<Node>, AppError> {
    let id: Uuid = id
        .parse()
        .map_err(|_| AppError::bad_input(field, "not an id this server issued"))?;
    let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
    if let Some(payment) = payments.visible_payment(viewer, id).await? {
        return Ok(Some(Node::Payment(Payment(payment))));
    }
    if let Some(refund) = payments.visible_refund(viewer, id).await? {
        return Ok(Some(Node::Refund(Refund(refund))));
    }
    if let Some(subscription) = payments.visible_subscription(viewer, id).await? {
        return Ok(Some(Node::BillingSubscription(BillingSubscription(
            subscription,
        ))));
    }
    if viewer.may_see_owned_by(id) {
        let users = ctx.data_unchecked::<DataLoader<UsersLoader>>();
        return Ok(users.load_one(id).await?.map(|user| Node::User(User(user))));
    }
    Ok(None)
}
