import { execFileSync } from 'child_process';
import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';

const PACKAGE = join(__dirname, '../packages/client');

describe('@im-server/client as a package', () => {
  it('has no Node built-ins (nor any import but its own files) in its source, so browsers can load it as is', () => {
    for (const file of readdirSync(join(PACKAGE, 'src'))) {
      const source = readFileSync(join(PACKAGE, 'src', file), 'utf8');
      for (const from of source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gm)) expect({ file, from: from[1] }).toEqual({ file, from: expect.stringMatching(/^\.\/[a-z-]+$/) });
      expect(source).not.toMatch(/\brequire\(\s*['"]/);
      expect(source).not.toMatch(/\bBuffer\b|\bprocess\.|from ['"]node:|['"](crypto|events|net|http|fs)['"]/);
    }
  });

  it('builds to ESM, CJS, a browser IIFE and type declarations that load and export the API', async () => {
    execFileSync(process.execPath, [join(PACKAGE, 'scripts/build.mjs')], { stdio: 'pipe' });
    for (const file of ['index.mjs', 'index.cjs', 'index.d.ts', 'im-client.global.js']) expect(existsSync(join(PACKAGE, 'dist', file))).toBe(true);
    const script = `
      const cjs = require(${JSON.stringify(join(PACKAGE, 'dist/index.cjs'))});
      import(${JSON.stringify(join(PACKAGE, 'dist/index.mjs'))}).then((esm) => {
        const names = (m) => Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule').sort();
        const vm = require('vm');
        const sandbox = {};
        vm.runInNewContext(require('fs').readFileSync(${JSON.stringify(join(PACKAGE, 'dist/im-client.global.js'))}, 'utf8'), sandbox);
        console.log(JSON.stringify({ cjs: names(cjs), esm: names(esm), iife: names(sandbox.ImSdk) }));
      });`;
    const exported = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
    const api = ['ImClient', 'ImCode', 'ImError', 'MediaUploadError', 'MessageTypes', 'conversationKey', 'imageSize', 'makeNonce', 'moderationReason'];
    expect(exported).toEqual({ cjs: api, esm: api, iife: api });
    const declarations = readFileSync(join(PACKAGE, 'dist/index.d.ts'), 'utf8');
    for (const name of ['ImClientOptions', 'ChatMessage', 'SendResult', 'SystemMessage', 'AckEvent', 'SyncData', 'GroupInfo', 'ImClientEvents']) {
      expect(declarations).toContain(`interface ${name}`);
    }
  }, 60_000);
});
