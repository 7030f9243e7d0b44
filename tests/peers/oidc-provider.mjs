// A certified OpenID Provider (the oidc-provider package) for the login tests.
// Usage: node oidc-provider.mjs PORT REDIRECT_URI
// One confidential client: id "switchboard", secret "switchboard-secret", client_secret_basic,
// PKCE (S256) required. Any login name signs in, with a verified email NAME@example.com.
// Prints "ready" once it listens on 127.0.0.1:PORT.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);
if (!port || !redirectUri) {
  console.error('usage: node oidc-provider.mjs PORT REDIRECT_URI');
  process.exit(2);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: 'switchboard',
      client_secret: 'switchboard-secret',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true, methods: ['S256'] },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, email_verified: true, name: `User ${id}` };
      },
    };
  },
  jwks: { keys: [jwk] },
  features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
});
provider.proxy = false;

const server = provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
