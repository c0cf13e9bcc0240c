// Builds dist/: index.mjs (ESM), index.cjs (CommonJS), im-client.global.js (browser <script>, global
// `ImSdk`) with esbuild, and index.d.ts with tsc. No Node built-ins are bundled: the source uses none.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src/index.ts');
const common = { entryPoints: [entry], bundle: true, platform: 'neutral', target: 'es2020', sourcemap: true, logLevel: 'warning' };

rmSync(join(root, 'dist'), { recursive: true, force: true });
await Promise.all([
  build({ ...common, format: 'esm', outfile: join(root, 'dist/index.mjs') }),
  build({ ...common, format: 'cjs', outfile: join(root, 'dist/index.cjs') }),
  build({ ...common, format: 'iife', globalName: 'ImSdk', platform: 'browser', outfile: join(root, 'dist/im-client.global.js') }),
]);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
console.log('built packages/client/dist');
