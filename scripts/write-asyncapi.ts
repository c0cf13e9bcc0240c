// Writes the generated AsyncAPI document to docs/asyncapi.json (npm run asyncapi:write);
// test/asyncapi.spec.ts fails when the committed file differs from what src/contract generates.
import { writeFileSync } from 'fs';
import { join } from 'path';
import { asyncApiJson } from '../src/contract/asyncapi';

const file = join(__dirname, '..', 'docs', 'asyncapi.json');
writeFileSync(file, asyncApiJson());
console.log(`wrote ${file}`);
