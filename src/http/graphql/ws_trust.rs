//! The document policy on `/graphql/ws`: the socket runs operations through
//! [`TrustedExecutor`], which resolves persisted-query hashes and refuses untrusted documents
//! in trusted-only mode, as `POST /graphql` does.

use std::any::TypeId;
use std::sync::Arc;

use async_graphql::{Data, Executor, Request, Response, ServerError};
use futures_util::stream::{self, BoxStream, StreamExt};

use super::persisted::PersistedQuery;
use super::trusted::{DocumentPolicy, Sender};
use crate::graphql::{AppSchema, DocumentCache};

/// The schema behind the document policy.
#[derive(Clone)]
pub struct TrustedExecutor {
    schema: AppSchema,
    policy: Arc<DocumentPolicy>,
    documents: Arc<DocumentCache>,
}

impl TrustedExecutor {
    /// Runs operations on `schema` once `policy` admits them.
    pub fn new(
        schema: AppSchema,
        policy: Arc<DocumentPolicy>,
        documents: Arc<DocumentCache>,
    ) -> Self {
        Self {
            schema,
            policy,
            documents,
        }
    }

    /// The request with its document resolved, or the response that refuses it.
    fn admit(&self, mut request: Request, sender: Sender) -> Result<Request, Box<Response>> {
        let persisted = serde_json::to_value(&request.extensions)
            .ok()
            .and_then(|value| match value {
                serde_json::Value::Object(map) => Some(map),
                _ => None,
            })
            .map(|extensions| PersistedQuery::from_extensions(&extensions))
            .transpose()
            .map_err(|message| refusal(crate::error::ErrorCode::BadUserInput.as_str(), message))?
            .flatten();
        request.query = self
            .policy
            .resolve(&request.query, persisted.as_ref(), &self.documents, sender)
            .map_err(|err| {
                let (code, message) = err.code_and_message();
                refusal(code, message.to_owned())
            })?;
        Ok(request)
    }
}

fn refusal(code: &str, message: String) -> Box<Response> {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    Box::new(Response::from_errors(vec![error]))
}

impl Executor for TrustedExecutor {
    async fn execute(&self, request: Request) -> Response {
        match self.admit(request, Sender::Client) {
            Ok(request) => self.schema.execute(request).await,
            Err(refused) => *refused,
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let sender = session_data
            .as_ref()
            .and_then(|data| data.get(&TypeId::of::<Sender>()))
            .and_then(|sender| sender.downcast_ref::<Sender>())
            .copied()
            .unwrap_or(Sender::Client);
        match self.admit(request, sender) {
            Ok(request) => Executor::execute_stream(&self.schema, request, session_data),
            Err(refused) => stream::once(async move { *refused }).boxed(),
        }
    }
}
