// Runs the graphql-http package's GraphQL-over-HTTP server audits against a running server and
// prints one JSON object: counts per status and every audit's id, name, status and reason.
// Usage: node graphql-http-audit.mjs http://127.0.0.1:PORT/graphql
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node graphql-http-audit.mjs URL');
  process.exit(2);
}

const results = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  let reason = result.reason ?? null;
  if (result.response && result.status !== 'ok') {
    const body = await result.response.text().catch(() => '');
    reason = `${reason} [status ${result.response.status}, body ${body.slice(0, 200)}]`;
  }
  results.push({ id: result.id, name: result.name, status: result.status, reason });
}
const counts = { ok: 0, warn: 0, error: 0 };
for (const r of results) counts[r.status] += 1;
console.log(JSON.stringify({ counts, results }));
