// `npm start` runs this first: install and build only what is out of date, so a second start is quick.
// - dependencies: `npm install` when node_modules is missing or older than package.json / package-lock.json
//   (npm writes node_modules/.package-lock.json on every install);
// - server: `nest build` when dist/main.js is missing or older than a file of src/ or the build config;
// - console: `npm run build:console` when dist-console/console.js is missing or older than a file of
//   console/ or of the client SDK's source it bundles.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const at = (...parts) => join(root, ...parts);

/** Newest modification time (ms) of the files under the given paths (0 when none exists). */
function newest(...paths) {
  let max = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) if (entry !== 'node_modules') visit(join(path, entry));
    } else if (stat.mtimeMs > max) max = stat.mtimeMs;
  };
  for (const path of paths) visit(path);
  return max;
}

/** Modification time of a build output, or -1 when it does not exist (always out of date). */
const built = (path) => (existsSync(path) ? statSync(path).mtimeMs : -1);

function run(why, command) {
  console.log(`prestart: ${why}: ${command}`);
  execSync(command, { cwd: root, stdio: 'inherit' });
}

if (built(at('node_modules', '.package-lock.json')) < newest(at('package.json'), at('package-lock.json'), at('packages', 'client', 'package.json'))) {
  run('dependencies changed or not installed', 'npm install --no-audit --no-fund');
}
if (built(at('dist', 'main.js')) < newest(at('src'), at('tsconfig.json'), at('tsconfig.build.json'), at('nest-cli.json'), at('package-lock.json'))) {
  run('server sources changed or not built', 'npx nest build');
}
if (built(at('dist-console', 'console.js')) < newest(at('console'), at('packages', 'client', 'src'), at('package-lock.json'))) {
  run('console sources changed or not built', 'npm run build:console');
}
