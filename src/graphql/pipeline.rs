//! Everything the server adds around the engine, as one extension.
//!
//! The engine runs every hook of every extension through a chain of boxed futures, once per
//! request for the request-level hooks and once per resolved field for `resolve`, whether or
//! not an extension does anything in that hook. Four extensions (error reporting, operation
//! limits, null propagation, cached documents) cost four links per hook; here they are one,
//! nested in the order they had as separate extensions (outermost first):
//!
//! 1. error reporting ([`super::errors`]): codes request errors, reports execution errors;
//! 2. operation limits ([`super::limits`]): rate limits before parsing, shape caps before
//!    validation;
//! 3. null propagation ([`super::nulls`]): completes every field's result;
//! 4. cached documents ([`super::documents`]): parsing and validation from the cache.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};

use super::documents::{DocumentCache, PerRequest as Documents};
use super::errors::ErrorReporter;
use super::limits::{OperationLimits, PerOperation};
use super::nulls::Propagator;

/// Installs the server's parts around the engine.
pub struct Pipeline {
    limits: OperationLimits,
    documents: Arc<DocumentCache>,
}

impl Pipeline {
    /// The pipeline with `limits`, answering repeated documents from `documents`.
    pub fn new(limits: OperationLimits, documents: Arc<DocumentCache>) -> Self {
        Self { limits, documents }
    }

    /// No alias or root-field caps, for tests of the other parts.
    #[cfg(test)]
    pub fn for_tests(documents: Arc<DocumentCache>) -> Self {
        Self::new(
            OperationLimits {
                max_aliases: usize::MAX,
                max_root_fields: usize::MAX,
            },
            documents,
        )
    }
}

impl ExtensionFactory for Pipeline {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerOperationParts {
            errors: ErrorReporter::default(),
            limits: self.limits.start(),
            nulls: Propagator::default(),
            documents: Documents::new(self.documents.clone()),
        })
    }
}

struct PerOperationParts {
    errors: ErrorReporter,
    limits: PerOperation,
    nulls: Propagator,
    documents: Documents,
}

#[async_trait::async_trait]
impl Extension for PerOperationParts {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        self.errors.finish(ctx, &mut response);
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.limits.prepare(&request);
        self.documents.prepare(&request);
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let parsed = async {
            PerOperation::before_parse(ctx)?;
            let document = self
                .documents
                .parse(query, next.run(ctx, query, variables))
                .await?;
            self.limits.parsed(&document);
            Ok(document)
        };
        parsed.await.map_err(ErrorReporter::parse_failed)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        self.limits.check(ctx)?;
        self.documents.validate(next.run(ctx)).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        self.errors.start_execution(ctx);
        let response = next.run(ctx, operation_name).await;
        self.nulls.finish(response)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        self.nulls.resolve(ctx, info, next).await
    }
}
