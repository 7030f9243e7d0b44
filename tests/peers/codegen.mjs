// Generates TypeScript types from schema.graphql and a documents file the way client teams do
// (GraphQL Code Generator's typescript-operations plugin), and prints
// the generated code. Exits 1 with the generator's message when a document does not match the
// schema. Usage: node codegen.mjs SCHEMA_FILE DOCUMENTS_FILE
import { readFileSync } from 'node:fs';

import { codegen } from '@graphql-codegen/core';
import * as typescriptOperations from '@graphql-codegen/typescript-operations';
import { buildSchema, parse } from 'graphql';

const [schemaFile, documentsFile] = process.argv.slice(2);
if (!schemaFile || !documentsFile) {
  console.error('usage: node codegen.mjs SCHEMA_FILE DOCUMENTS_FILE');
  process.exit(2);
}

const schema = buildSchema(readFileSync(schemaFile, 'utf8'));
const config = { scalars: { DateTime: 'string' }, strictScalars: true, enumsAsTypes: true };
try {
  const output = await codegen({
    filename: 'generated.ts',
    schema: parse(readFileSync(schemaFile, 'utf8')),
    schemaAst: schema,
    documents: [{ location: documentsFile, document: parse(readFileSync(documentsFile, 'utf8')) }],
    config,
    // typescript-operations 6 emits the schema types the operations use (enums, inputs).
    plugins: [{ typescriptOperations: {} }],
    pluginMap: { typescriptOperations },
  });
  process.stdout.write(output);
} catch (error) {
  const details = error.errors?.map((e) => e.message ?? String(e)).join('\n') ?? '';
  console.error(`${error.message}\n${details}`);
  process.exit(1);
}
