// The transport: urql over HTTP with the session cookie (and the CSRF header on mutations),
// graphql-ws for subscriptions (live.ts). Every operation is sent by its trusted-document hash
// alone, which the server finds in the manifest codegen wrote (TRUSTED_DOCUMENTS).
import { Client, fetchExchange } from '@urql/core';
import { authExchange } from '@urql/exchange-auth';
import { persistedExchange } from '@urql/exchange-persisted';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { RefreshSessionMutation } from './operations';

/** The CSRF cookie's value (double submit): `__Host-switchboard_csrf` on https. */
function csrfToken(): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === 'switchboard_csrf' || name === '__Host-switchboard_csrf') return value.join('=');
  }
  return undefined;
}

export interface Transport {
  client: Client;
  ws: WsClient;
}

/** A fresh transport; `onSocket` hears when the socket opens and closes. */
export function createTransport(onSocket: (state: 'open' | 'closed') => void): Transport {
  const wsUrl = new URL('/graphql/ws', location.href);
  wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // The session cookie authenticates the upgrade (the server checks its Origin). Reconnecting
  // is the app's job (see live.ts): it catches up over HTTP before subscribing again.
  const ws = createWsClient({
    url: wsUrl.href,
    retryAttempts: 0,
    lazy: true,
    keepAlive: 5_000,
    on: {
      connected: () => onSocket('open'),
      closed: () => onSocket('closed'),
    },
  });
  const client = new Client({
    url: '/graphql',
    requestPolicy: 'network-only',
    fetchOptions: (): RequestInit => {
      const csrf = csrfToken();
      const headers: Record<string, string> = csrf ? { 'x-csrf-token': csrf } : {};
      return { credentials: 'include', headers };
    },
    exchanges: [
      // An expired access cookie (reason TOKEN_EXPIRED, not other UNAUTHENTICATED reasons) is
      // renewed with the refresh cookie, and the operation retried once.
      authExchange(async (utils) => ({
        addAuthToOperation: (operation) => operation,
        didAuthError: (error) =>
          error.graphQLErrors.some((e) => e.extensions?.reason === 'TOKEN_EXPIRED'),
        refreshAuth: async () => {
          await utils.mutate(RefreshSessionMutation, {});
        },
      })),
      persistedExchange({
        enforcePersistedQueries: true,
        enableForMutation: true,
        generateHash: async (_, document) =>
          (document as unknown as { __meta__: { hash: string } }).__meta__.hash,
      }),
      fetchExchange,
    ],
  });
  return { client, ws };
}
