// The GraphiQL page of switchboard, bundled with everything it needs so that the page loads
// nothing from outside the server. The server tells the page its endpoints through data
// attributes on #graphiql (no inline script, so the page runs under `script-src 'self'`).
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import React from 'react';
import { createRoot } from 'react-dom/client';

// Marks GraphiQL's own requests, which the server exempts from trusted-documents-only mode
// while GraphiQL is enabled.
const MARK = { 'x-graphiql': '1' };

const root = document.getElementById('graphiql');
const fetcher = createGraphiQLFetcher({
  url: root.dataset.endpoint,
  subscriptionUrl: root.dataset.subscriptionEndpoint,
  headers: MARK,
  // GraphiQL merges the headers editor into these, so `{"Authorization": "Bearer …"}` there
  // authenticates subscriptions too (the server reads it from `connection_init`).
  wsConnectionParams: MARK,
});

createRoot(root).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: '{\n  serverInfo {\n    version\n  }\n}\n',
  }),
);
