// Signs many webhook payloads with Stripe's official Node SDK in one process.
// Usage: node stripe-sign-many.mjs SECRET TIMESTAMP < JSON array of payload strings
//   → prints a JSON array of Stripe-Signature headers, in the same order
import Stripe from 'stripe';

const [secret, timestamp] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const payloads = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const stripe = new Stripe('sk_test_signing_only');
process.stdout.write(
  JSON.stringify(
    payloads.map((payload) =>
      stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: Number(timestamp) }),
    ),
  ),
);
