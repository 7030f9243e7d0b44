/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Viewer {\n    me {\n      id\n      name\n    }\n    serverInfo {\n      version\n      environment\n      paymentProvider\n      stripePublishableKey\n    }\n    loginProviders {\n      name\n      displayName\n    }\n  }\n": typeof types.ViewerDocument,
    "\n  query Catalog {\n    catalog {\n      id\n      product\n      unitAmount\n      currency\n      interval\n    }\n  }\n": typeof types.CatalogDocument,
    "\n  mutation StartLogin($provider: String!, $redirectUri: String!) {\n    startLogin(provider: $provider, redirectUri: $redirectUri) {\n      authorizationUrl\n    }\n  }\n": typeof types.StartLoginDocument,
    "\n  mutation RefreshSession {\n    refreshSession {\n      expiresAt\n    }\n  }\n": typeof types.RefreshSessionDocument,
    "\n  mutation Logout {\n    logout\n  }\n": typeof types.LogoutDocument,
    "\n  mutation CreatePayment($input: PaymentIntentInput!, $idempotencyKey: String!) {\n    createPaymentIntent(input: $input, idempotencyKey: $idempotencyKey) {\n      payment {\n        id\n        status\n        amount\n        currency\n        description\n      }\n    }\n  }\n": typeof types.CreatePaymentDocument,
    "\n  mutation SandboxPay($paymentId: ID!, $outcome: SandboxOutcome!) {\n    sandboxConfirmPayment(paymentId: $paymentId, outcome: $outcome) {\n      id\n      status\n    }\n  }\n": typeof types.SandboxPayDocument,
    "\n  mutation Refund($paymentId: ID!, $idempotencyKey: String!) {\n    refundPayment(paymentId: $paymentId, idempotencyKey: $idempotencyKey) {\n      id\n      amount\n    }\n  }\n": typeof types.RefundDocument,
    "\n  fragment PaymentEventFields on PaymentEvent {\n    cursor\n    sequence\n    kind\n    status\n    paymentId\n    amountRefunded\n    occurredAt\n    payment {\n      id\n      amount\n      currency\n      description\n    }\n  }\n": typeof types.PaymentEventFieldsFragmentDoc,
    "\n  query PaymentEvents($after: String) {\n    paymentEvents(after: $after, first: 50) {\n      nodes {\n        ...PaymentEventFields\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.PaymentEventsDocument,
    "\n  subscription MyPaymentEvents($after: String) {\n    myPaymentEvents(after: $after) {\n      ...PaymentEventFields\n    }\n  }\n": typeof types.MyPaymentEventsDocument,
    "\n  subscription PaymentUpdated($paymentId: ID!, $after: String) {\n    paymentUpdated(paymentId: $paymentId, after: $after) {\n      ...PaymentEventFields\n    }\n  }\n": typeof types.PaymentUpdatedDocument,
};
const documents: Documents = {
    "\n  query Viewer {\n    me {\n      id\n      name\n    }\n    serverInfo {\n      version\n      environment\n      paymentProvider\n      stripePublishableKey\n    }\n    loginProviders {\n      name\n      displayName\n    }\n  }\n": types.ViewerDocument,
    "\n  query Catalog {\n    catalog {\n      id\n      product\n      unitAmount\n      currency\n      interval\n    }\n  }\n": types.CatalogDocument,
    "\n  mutation StartLogin($provider: String!, $redirectUri: String!) {\n    startLogin(provider: $provider, redirectUri: $redirectUri) {\n      authorizationUrl\n    }\n  }\n": types.StartLoginDocument,
    "\n  mutation RefreshSession {\n    refreshSession {\n      expiresAt\n    }\n  }\n": types.RefreshSessionDocument,
    "\n  mutation Logout {\n    logout\n  }\n": types.LogoutDocument,
    "\n  mutation CreatePayment($input: PaymentIntentInput!, $idempotencyKey: String!) {\n    createPaymentIntent(input: $input, idempotencyKey: $idempotencyKey) {\n      payment {\n        id\n        status\n        amount\n        currency\n        description\n      }\n    }\n  }\n": types.CreatePaymentDocument,
    "\n  mutation SandboxPay($paymentId: ID!, $outcome: SandboxOutcome!) {\n    sandboxConfirmPayment(paymentId: $paymentId, outcome: $outcome) {\n      id\n      status\n    }\n  }\n": types.SandboxPayDocument,
    "\n  mutation Refund($paymentId: ID!, $idempotencyKey: String!) {\n    refundPayment(paymentId: $paymentId, idempotencyKey: $idempotencyKey) {\n      id\n      amount\n    }\n  }\n": types.RefundDocument,
    "\n  fragment PaymentEventFields on PaymentEvent {\n    cursor\n    sequence\n    kind\n    status\n    paymentId\n    amountRefunded\n    occurredAt\n    payment {\n      id\n      amount\n      currency\n      description\n    }\n  }\n": types.PaymentEventFieldsFragmentDoc,
    "\n  query PaymentEvents($after: String) {\n    paymentEvents(after: $after, first: 50) {\n      nodes {\n        ...PaymentEventFields\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.PaymentEventsDocument,
    "\n  subscription MyPaymentEvents($after: String) {\n    myPaymentEvents(after: $after) {\n      ...PaymentEventFields\n    }\n  }\n": types.MyPaymentEventsDocument,
    "\n  subscription PaymentUpdated($paymentId: ID!, $after: String) {\n    paymentUpdated(paymentId: $paymentId, after: $after) {\n      ...PaymentEventFields\n    }\n  }\n": types.PaymentUpdatedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Viewer {\n    me {\n      id\n      name\n    }\n    serverInfo {\n      version\n      environment\n      paymentProvider\n      stripePublishableKey\n    }\n    loginProviders {\n      name\n      displayName\n    }\n  }\n"): (typeof documents)["\n  query Viewer {\n    me {\n      id\n      name\n    }\n    serverInfo {\n      version\n      environment\n      paymentProvider\n      stripePublishableKey\n    }\n    loginProviders {\n      name\n      displayName\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Catalog {\n    catalog {\n      id\n      product\n      unitAmount\n      currency\n      interval\n    }\n  }\n"): (typeof documents)["\n  query Catalog {\n    catalog {\n      id\n      product\n      unitAmount\n      currency\n      interval\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartLogin($provider: String!, $redirectUri: String!) {\n    startLogin(provider: $provider, redirectUri: $redirectUri) {\n      authorizationUrl\n    }\n  }\n"): (typeof documents)["\n  mutation StartLogin($provider: String!, $redirectUri: String!) {\n    startLogin(provider: $provider, redirectUri: $redirectUri) {\n      authorizationUrl\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RefreshSession {\n    refreshSession {\n      expiresAt\n    }\n  }\n"): (typeof documents)["\n  mutation RefreshSession {\n    refreshSession {\n      expiresAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Logout {\n    logout\n  }\n"): (typeof documents)["\n  mutation Logout {\n    logout\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreatePayment($input: PaymentIntentInput!, $idempotencyKey: String!) {\n    createPaymentIntent(input: $input, idempotencyKey: $idempotencyKey) {\n      payment {\n        id\n        status\n        amount\n        currency\n        description\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreatePayment($input: PaymentIntentInput!, $idempotencyKey: String!) {\n    createPaymentIntent(input: $input, idempotencyKey: $idempotencyKey) {\n      payment {\n        id\n        status\n        amount\n        currency\n        description\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SandboxPay($paymentId: ID!, $outcome: SandboxOutcome!) {\n    sandboxConfirmPayment(paymentId: $paymentId, outcome: $outcome) {\n      id\n      status\n    }\n  }\n"): (typeof documents)["\n  mutation SandboxPay($paymentId: ID!, $outcome: SandboxOutcome!) {\n    sandboxConfirmPayment(paymentId: $paymentId, outcome: $outcome) {\n      id\n      status\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Refund($paymentId: ID!, $idempotencyKey: String!) {\n    refundPayment(paymentId: $paymentId, idempotencyKey: $idempotencyKey) {\n      id\n      amount\n    }\n  }\n"): (typeof documents)["\n  mutation Refund($paymentId: ID!, $idempotencyKey: String!) {\n    refundPayment(paymentId: $paymentId, idempotencyKey: $idempotencyKey) {\n      id\n      amount\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment PaymentEventFields on PaymentEvent {\n    cursor\n    sequence\n    kind\n    status\n    paymentId\n    amountRefunded\n    occurredAt\n    payment {\n      id\n      amount\n      currency\n      description\n    }\n  }\n"): (typeof documents)["\n  fragment PaymentEventFields on PaymentEvent {\n    cursor\n    sequence\n    kind\n    status\n    paymentId\n    amountRefunded\n    occurredAt\n    payment {\n      id\n      amount\n      currency\n      description\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PaymentEvents($after: String) {\n    paymentEvents(after: $after, first: 50) {\n      nodes {\n        ...PaymentEventFields\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query PaymentEvents($after: String) {\n    paymentEvents(after: $after, first: 50) {\n      nodes {\n        ...PaymentEventFields\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription MyPaymentEvents($after: String) {\n    myPaymentEvents(after: $after) {\n      ...PaymentEventFields\n    }\n  }\n"): (typeof documents)["\n  subscription MyPaymentEvents($after: String) {\n    myPaymentEvents(after: $after) {\n      ...PaymentEventFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription PaymentUpdated($paymentId: ID!, $after: String) {\n    paymentUpdated(paymentId: $paymentId, after: $after) {\n      ...PaymentEventFields\n    }\n  }\n"): (typeof documents)["\n  subscription PaymentUpdated($paymentId: ID!, $after: String) {\n    paymentUpdated(paymentId: $paymentId, after: $after) {\n      ...PaymentEventFields\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;