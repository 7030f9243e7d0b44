// Signs a webhook payload with Stripe's official Node SDK, as Stripe signs its deliveries.
// Usage: node stripe-sign.mjs SECRET TIMESTAMP < payload   → prints the Stripe-Signature header
import Stripe from 'stripe';

const [secret, timestamp] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const payload = Buffer.concat(chunks).toString('utf8');
const stripe = new Stripe('sk_test_signing_only');
process.stdout.write(
  stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: Number(timestamp) }),
);
