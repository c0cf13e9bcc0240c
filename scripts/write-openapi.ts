// Writes the OpenAPI document of the HTTP API to docs/openapi.json (npm run openapi:write), or to the
// path given as the first argument. The application is built in Nest's preview mode: controllers and
// their decorators are read, no provider is instantiated, no database is opened.
// test/openapi.spec.ts fails when the committed file differs from what the controllers generate.
import 'reflect-metadata';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { openApiDocumentJson } from '../src/openapi/openapi-preview';

async function main(): Promise<void> {
  const file = process.argv[2] ?? join(__dirname, '..', 'docs', 'openapi.json');
  writeFileSync(file, await openApiDocumentJson());
  console.log(`wrote ${file}`);
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
