// Errors shown to people: by the server's stable `extensions.code`, never by message text.
import type { CombinedError } from '@urql/core';

const WORDS: Record<string, string> = {
  UNAUTHENTICATED: 'Your session has ended. Please sign in again.',
  FORBIDDEN: 'You are not allowed to do that.',
  BAD_USER_INPUT: 'Something in the request was not right. Please check and try again.',
  NOT_FOUND: 'That payment no longer exists.',
  CONFLICT: 'That cannot be done in the current state.',
  IDEMPOTENCY_KEY_REUSED: 'This order was already sent with different details. Start a new one.',
  PAYMENT_DECLINED: 'The card was declined. Try another card.',
  CUSTOM_AMOUNT_NOT_ALLOWED: 'This app version cannot pay here. Please update it.',
  PRICE_NOT_FOUND: 'An item in the basket is no longer available.',
  REFUND_NOT_ALLOWED: 'This payment cannot be refunded here. Please contact support.',
  PROVIDER_UNAVAILABLE: 'Payments are unavailable right now. Please try again in a minute.',
  RATE_LIMITED: 'Too many requests. Please wait a moment and try again.',
  DOCUMENT_NOT_TRUSTED: 'This version of the app is not allowed by the server. Please update it.',
  PERSISTED_QUERY_NOT_FOUND: 'The server does not know this app version. Start it with its manifest.',
  GRAPHQL_VALIDATION_FAILED: 'The server refused this request as invalid; this app may be out of date.',
  INTERNAL: 'Something went wrong on our side. Please try again.',
};

/** The `extensions.code` of the first GraphQL error, or `NETWORK` for a transport failure. */
export function errorCode(error: CombinedError | Error | unknown): string {
  const graphQLErrors = (error as CombinedError)?.graphQLErrors;
  const code = graphQLErrors?.find((e) => e.extensions?.code)?.extensions?.code;
  if (typeof code === 'string') return code;
  if (Array.isArray(error)) {
    const first = error.find((e) => e?.extensions?.code);
    if (first) return String(first.extensions.code);
  }
  return 'NETWORK';
}

/** Plain words for an error. */
export function describe(error: unknown): string {
  const code = errorCode(error);
  if (code === 'NETWORK') return 'Cannot reach the server. Check your connection; we retry on our own.';
  return WORDS[code] ?? `Something went wrong (${code}).`;
}
