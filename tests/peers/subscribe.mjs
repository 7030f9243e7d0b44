// Subscribes with the graphql-ws client (graphql-transport-ws protocol) and prints one JSON line
// per event: first {"connected":true}, then each result. Exits after COUNT results.
// Usage: node subscribe.mjs WS_URL ACCESS_TOKEN COUNT 'subscription { ... }'
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, count, query] = process.argv.slice(2);
let remaining = Number(count);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});
client.subscribe(
  { query },
  {
    next: (result) => {
      console.log(JSON.stringify(result));
      remaining -= 1;
      if (remaining === 0) {
        client.dispose();
        process.exit(0);
      }
    },
    error: (error) => {
      console.log(JSON.stringify({ error: String(error?.message ?? error?.reason ?? error) }));
      process.exit(1);
    },
    complete: () => process.exit(remaining === 0 ? 0 : 1),
  },
);
