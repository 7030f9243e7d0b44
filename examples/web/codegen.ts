// Types and the trusted-documents manifest, generated from the server's schema.graphql and the
// operations in src/. `npm run codegen` rewrites src/gql; the test suite regenerates into a
// temporary folder (CODEGEN_OUT) and fails when the committed files differ.
import type { CodegenConfig } from '@graphql-codegen/cli';

const out = process.env.CODEGEN_OUT ?? './src/gql/';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/**/*.ts', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  generates: {
    [out]: {
      preset: 'client',
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string' },
      },
      presetConfig: {
        fragmentMasking: false,
        // persisted-documents.json: SHA-256 → document, which the server loads with
        // TRUSTED_DOCUMENTS=...; every document also carries its hash in __meta__.hash.
        persistedDocuments: { hashAlgorithm: 'sha256' },
      },
    },
  },
};

export default config;
