// `npm run dev` serves the demo on http://127.0.0.1:5173/demo/ and forwards the API to a
// switchboard on 127.0.0.1:8000 (SWITCHBOARD_URL to change it); `npm run build` writes dist/,
// which switchboard serves at /demo with DEMO_DIR=examples/web/dist.
import { defineConfig } from 'vite';

const api = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/demo/',
  build: { target: 'es2022', sourcemap: false },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: {
      '/graphql': { target: api, ws: true },
      '/auth': { target: api },
    },
  },
});
