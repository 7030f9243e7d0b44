// Drives a running server with the GraphQL clients web and mobile teams use (Apollo Client and
// urql) and prints one JSON object describing what each client saw and sent.
// Usage: node clients.mjs SCENARIO URL [ARGS...]
//   partial-error URL TOKEN            Apollo (errorPolicy "all") and urql on a partial failure
//   apq URL                            Apollo's PersistedQueryLink: fallback, then hash only
//   batch URL                          Apollo's BatchHttpLink with two operations
//   refresh URL ACCESS REFRESH         Apollo refreshes on extensions.reason TOKEN_EXPIRED
//   node URL TOKEN ID                  Relay-style refetch of one object through node(id:)
import { createHash } from 'node:crypto';

import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { ErrorLink } from '@apollo/client/link/error';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { Client as UrqlClient, fetchExchange } from '@urql/core';
import { Observable } from 'rxjs';

const [scenario, url, ...args] = process.argv.slice(2);
if (!scenario || !url) {
  console.error('usage: node clients.mjs SCENARIO URL [ARGS...]');
  process.exit(2);
}

/// A fetch that records the JSON body (or the GET query) of every request it sends.
function recordingFetch(sent) {
  return async (input, init = {}) => {
    const target = new URL(typeof input === 'string' ? input : input.url);
    sent.push({
      method: init.method ?? 'GET',
      body: init.body ? JSON.parse(init.body) : null,
      query: Object.fromEntries(target.searchParams),
    });
    return fetch(input, init);
  };
}

function apollo(link) {
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

function errorsOf(error) {
  if (!error) return [];
  if (CombinedGraphQLErrors.is(error)) return error.errors;
  return [{ message: error.message, extensions: { network: true } }];
}

const scenarios = {
  async 'partial-error'([token]) {
    const query = '{ serverInfo { version } me { id } }';
    const headers = { authorization: `Bearer ${token}` };
    const client = apollo(new HttpLink({ uri: url, headers }));
    const apolloResult = await client.query({ query: gql(query), errorPolicy: 'all' });
    const urql = new UrqlClient({
      url,
      exchanges: [fetchExchange],
      fetchOptions: { headers },
      preferGetMethod: false,
    });
    const urqlResult = await urql.query(query, {}).toPromise();
    return {
      apollo: { data: apolloResult.data ?? null, errors: errorsOf(apolloResult.error) },
      urql: {
        data: urqlResult.data ?? null,
        errors: urqlResult.error?.graphQLErrors ?? [],
        networkError: urqlResult.error?.networkError?.message ?? null,
      },
    };
  },

  async apq() {
    const sent = [];
    const sha256 = (text) => createHash('sha256').update(text).digest('hex');
    const link = new PersistedQueryLink({ sha256 }).concat(
      new HttpLink({ uri: url, fetch: recordingFetch(sent) }),
    );
    const client = apollo(link);
    const query = gql('{ serverInfo { version } }');
    // errorPolicy all: a refusal (e.g. DOCUMENT_NOT_TRUSTED) is reported, not thrown.
    const options = { query, fetchPolicy: 'network-only', errorPolicy: 'all' };
    const first = await client.query(options);
    const second = await client.query(options);
    return {
      results: [first.data, second.data],
      errors: [...errorsOf(first.error), ...errorsOf(second.error)],
      sent: sent.map((r) => ({
        hasQuery: typeof r.body?.query === 'string',
        hash: r.body?.extensions?.persistedQuery?.sha256Hash ?? null,
      })),
    };
  },

  async batch() {
    const client = apollo(new BatchHttpLink({ uri: url, batchMax: 10, batchInterval: 20 }));
    const run = (query) =>
      client
        .query({ query: gql(query), errorPolicy: 'all', fetchPolicy: 'network-only' })
        .then((r) => ({ data: r.data ?? null, errors: errorsOf(r.error) }))
        .catch((e) => ({ data: null, errors: errorsOf(e), thrown: true }));
    const results = await Promise.all([run('{ serverInfo { version } }'), run('{ loginProviders { name } }')]);
    return { results };
  },

  async refresh([access, refresh]) {
    let token = access;
    let refreshes = 0;
    const auth = new ApolloLink((operation, forward) => {
      operation.setContext({ headers: { authorization: `Bearer ${token}` } });
      return forward(operation);
    });
    // Refresh exactly when the server says the access token expired, then retry once.
    const renew = new ErrorLink(({ error, operation, forward }) => {
      const expired =
        CombinedGraphQLErrors.is(error) &&
        error.errors.some((e) => e.extensions?.reason === 'TOKEN_EXPIRED');
      if (!expired || refreshes > 0) return;
      return new Observable((observer) => {
        refreshes += 1;
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            query: 'mutation($t: String) { refreshSession(refreshToken: $t) { accessToken } }',
            variables: { t: refresh },
          }),
        })
          .then((r) => r.json())
          .then((body) => {
            token = body.data.refreshSession.accessToken;
            operation.setContext({ headers: { authorization: `Bearer ${token}` } });
            forward(operation).subscribe(observer);
          })
          .catch((e) => observer.error(e));
      });
    });
    const client = apollo(ApolloLink.from([renew, auth, new HttpLink({ uri: url })]));
    const result = await client.query({ query: gql('{ me { name } }'), errorPolicy: 'all' });
    return { data: result.data ?? null, errors: errorsOf(result.error), refreshes };
  },

  async node([token, id]) {
    const headers = { authorization: `Bearer ${token}` };
    const fragment = 'fragment PaymentView on Payment { id status amount }';
    const urql = new UrqlClient({ url, exchanges: [fetchExchange], fetchOptions: { headers } });
    // What a Relay refetchable fragment sends: the fragment spread inside node(id:).
    const refetch = `query Refetch($id: ID!) { node(id: $id) { __typename ...PaymentView } } ${fragment}`;
    const urqlResult = await urql.query(refetch, { id }).toPromise();
    const apolloClient = apollo(new HttpLink({ uri: url, headers }));
    const apolloResult = await apolloClient.query({ query: gql(refetch), variables: { id } });
    // Apollo normalises by __typename and id: the refetched node lands in the cache entry
    // a typed query would use.
    const cached = apolloClient.cache.extract()[`Payment:${id}`] ?? null;
    return {
      urql: { data: urqlResult.data ?? null, errors: urqlResult.error?.graphQLErrors ?? [] },
      apollo: { data: apolloResult.data ?? null, errors: errorsOf(apolloResult.error) },
      cached,
    };
  },
};

const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
console.log(JSON.stringify(await run(args)));
