//! Who sent an operation: what the transport knows of one request, handed to the schema as
//! one piece of request data.
//!
//! The engine boxes every piece of request data and files it in a map by type, per request;
//! one piece instead of five saves four allocations and four map inserts per operation.

use std::sync::Arc;

use super::CookieChanges;
use crate::auth::{Credentials, ViewerState};
use crate::limits::ClientIp;

/// What the transport knows of the request an operation came in.
pub struct Caller {
    /// The id of the HTTP request or WebSocket connection the operation belongs to.
    pub request_id: Arc<str>,
    /// The client's address, as the rate limits count it.
    pub client: ClientIp,
    /// Who is signed in, if anyone, or why the credentials were refused.
    pub viewer: ViewerState,
    /// The credentials the request carried (HTTP only: a socket's were checked when it opened).
    pub credentials: Option<Credentials>,
    /// Where resolvers record sign-in changes for the transport to write as cookies (HTTP
    /// only: a socket cannot set cookies).
    pub cookies: Option<CookieChanges>,
}
