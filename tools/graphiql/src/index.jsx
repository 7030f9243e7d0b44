// The GraphiQL page of switchboard, bundled with everything it needs so that the page loads
// nothing from outside the server. The server tells the page its endpoints through data
// attributes on #graphiql (no inline script, so the page runs under `script-src 'self'`).
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { parse } from 'graphql';
import 'graphiql/style.css';
import './page.css';
import React from 'react';
import { createRoot } from 'react-dom/client';

// Marks GraphiQL's own requests, which the server exempts from trusted-documents-only mode
// while GraphiQL is enabled.
const MARK = { 'x-graphiql': '1' };

const root = document.getElementById('graphiql');
// The socket on whatever host the browser reached (ws: or wss: to match the page).
const socketUrl = new URL(root.dataset.subscriptionEndpoint, location.href);
socketUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
const toolkitFetcher = createGraphiQLFetcher({
  url: root.dataset.endpoint,
  subscriptionUrl: socketUrl.href,
  headers: MARK,
  // GraphiQL merges the headers editor into these, so `{"Authorization": "Bearer …"}` there
  // authenticates subscriptions too (the server reads it from `connection_init`).
  wsConnectionParams: MARK,
});

// The toolkit sends an operation over the socket only when the parsed document it is given is
// a subscription. GraphiQL passes the document it last parsed, which can lag behind the text
// just typed (a query parsed before it became a subscription): parse the text sent instead.
const fetcher = (params, options) => {
  let documentAST = options?.documentAST;
  try {
    documentAST = parse(params.query);
  } catch {
    // Not a valid document: the server answers with the syntax error.
  }
  return toolkitFetcher(params, { ...options, documentAST });
};

createRoot(root).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: '{\n  serverInfo {\n    version\n  }\n}\n',
  }),
);
