#!/usr/bin/env node
// Checks an AsyncAPI document with the official parser (@asyncapi/parser): prints every diagnostic,
// exits 1 when any has severity error (or the document cannot be parsed at all).
// Usage: node scripts/check-asyncapi.mjs [file]   (default: docs/asyncapi.json)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const file = resolve(process.argv[2] ?? 'docs/asyncapi.json');
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'), { source: file });

const names = { [DiagnosticSeverity.Error]: 'error', [DiagnosticSeverity.Warning]: 'warning', [DiagnosticSeverity.Information]: 'info', [DiagnosticSeverity.Hint]: 'hint' };
for (const d of diagnostics) {
  console.log(`${names[d.severity] ?? d.severity} ${d.code}: ${d.message} at ${JSON.stringify(d.path)}`);
}
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning);
if (!document || errors.length > 0) {
  console.error(`asyncapi:check FAILED: ${file}: ${errors.length} error(s)${document ? '' : ', not parsed'}`);
  process.exit(1);
}
console.log(
  `asyncapi:check ok: ${file}: AsyncAPI ${document.version()}, ${document.operations().length} operations, ${document.components().messages().length} messages, ${errors.length} errors, ${warnings.length} warnings`,
);
