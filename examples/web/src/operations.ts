// Every operation the demo sends. Codegen types them and writes them into the trusted-documents
// manifest (src/gql/persisted-documents.json); the client sends only their hashes.
import { graphql } from './gql';

export const ViewerQuery = graphql(`
  query Viewer {
    me {
      id
      name
    }
    serverInfo {
      version
      environment
      paymentProvider
      stripePublishableKey
    }
    loginProviders {
      name
      displayName
    }
  }
`);

export const CatalogQuery = graphql(`
  query Catalog {
    catalog {
      id
      product
      unitAmount
      currency
      interval
    }
  }
`);

export const StartLoginMutation = graphql(`
  mutation StartLogin($provider: String!, $redirectUri: String!) {
    startLogin(provider: $provider, redirectUri: $redirectUri) {
      authorizationUrl
    }
  }
`);

export const RefreshSessionMutation = graphql(`
  mutation RefreshSession {
    refreshSession {
      expiresAt
    }
  }
`);

export const LogoutMutation = graphql(`
  mutation Logout {
    logout
  }
`);

export const CreatePaymentMutation = graphql(`
  mutation CreatePayment($input: PaymentIntentInput!, $idempotencyKey: String!) {
    createPaymentIntent(input: $input, idempotencyKey: $idempotencyKey) {
      payment {
        id
        status
        amount
        currency
        description
      }
    }
  }
`);

export const SandboxPayMutation = graphql(`
  mutation SandboxPay($paymentId: ID!, $outcome: SandboxOutcome!) {
    sandboxConfirmPayment(paymentId: $paymentId, outcome: $outcome) {
      id
      status
    }
  }
`);

export const RefundMutation = graphql(`
  mutation Refund($paymentId: ID!, $idempotencyKey: String!) {
    refundPayment(paymentId: $paymentId, idempotencyKey: $idempotencyKey) {
      id
      amount
    }
  }
`);

/** What every event feed selects, so the order list and the timeline read the same shape. */
export const PaymentEventFields = graphql(`
  fragment PaymentEventFields on PaymentEvent {
    cursor
    sequence
    kind
    status
    paymentId
    amountRefunded
    occurredAt
    payment {
      id
      amount
      currency
      description
    }
  }
`);

export const PaymentEventsQuery = graphql(`
  query PaymentEvents($after: String) {
    paymentEvents(after: $after, first: 50) {
      nodes {
        ...PaymentEventFields
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const MyPaymentEventsSubscription = graphql(`
  subscription MyPaymentEvents($after: String) {
    myPaymentEvents(after: $after) {
      ...PaymentEventFields
    }
  }
`);

export const PaymentUpdatedSubscription = graphql(`
  subscription PaymentUpdated($paymentId: ID!, $after: String) {
    paymentUpdated(paymentId: $paymentId, after: $after) {
      ...PaymentEventFields
    }
  }
`);
