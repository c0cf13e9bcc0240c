// Builds the browser console (console/) into dist-console/: index.html, console.js, console.css, icon.svg.
// Usage: node console/build.mjs [outDir]   (npm run build:console)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, '..', 'dist-console'));

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
await build({
  entryPoints: { console: join(here, 'src', 'main.ts') },
  outdir: outDir,
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'iife',
  target: ['es2020'],
  platform: 'browser',
  logLevel: 'warning',
});
await build({
  entryPoints: { console: join(here, 'style.css') },
  outdir: outDir,
  bundle: true,
  minify: true,
  logLevel: 'warning',
});
for (const file of ['index.html', 'icon.svg']) copyFileSync(join(here, file), join(outDir, file));
console.log(`console built into ${outDir}`);
