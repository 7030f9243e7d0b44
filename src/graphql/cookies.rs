//! Cookie changes: resolvers record what happened to the browser's sign-in, and the HTTP layer
//! writes the cookies after the operation ran. Over a WebSocket nothing is recorded, since no
//! cookie can be set there.

use std::sync::{Arc, Mutex};

use async_graphql::Context;

use crate::auth::CookieChange;
use crate::sync::lock;

/// The cookie changes of one HTTP request, shared by the transport (put in the request's data)
/// and the resolvers.
#[derive(Clone, Default)]
pub struct CookieChanges(Arc<Mutex<Vec<CookieChange>>>);

impl CookieChanges {
    /// Everything recorded so far, in order.
    pub fn take(&self) -> Vec<CookieChange> {
        std::mem::take(&mut *lock(&self.0))
    }
}

/// Records `change` for the transport to write, when the transport can write cookies.
pub(super) fn record_cookie_change(ctx: &Context<'_>, change: CookieChange) {
    if let Some(changes) = ctx
        .data_opt::<super::Caller>()
        .and_then(|caller| caller.cookies.as_ref())
    {
        lock(&changes.0).push(change);
    }
}
