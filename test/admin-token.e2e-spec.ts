import { execFile } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { Writable } from 'stream';
import { promisify } from 'util';
import { ADMIN_TOKEN_HASH_KEY } from '../src/auth/admin-token';
import { loadConfig } from '../src/config/app-config';
import { RunningServer, startServer } from '../src/server';

const ROOT = join(__dirname, '..');
const run = promisify(execFile);

/**
 * PROTOCOL §9: without ADMIN_TOKEN the admin token is generated on the first start, printed once,
 * kept only as a hash, valid across restarts; `npm run admin-token -- --rotate` replaces it; a set
 * ADMIN_TOKEN still wins.
 */
describe('admin token without ADMIN_TOKEN: stable across restarts, rotatable', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'im-admin-token-'));
  const databaseEnv: Record<string, string> = process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATA_DIR: dataDir };
  let server: RunningServer | undefined;

  /** Starts the server in this process with its log captured (JSON lines). */
  async function start(env: Record<string, string> = {}): Promise<{ server: RunningServer; log: string[] }> {
    const log: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        log.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    server = await startServer(loadConfig({ ...databaseEnv, PORT: '0', LOG_LEVEL: 'log', LOG_FORMAT: 'json', ...env }), { logDestination: sink });
    return { server, log };
  }

  const status = async (token: string) =>
    (await fetch(`http://127.0.0.1:${server!.port}/admin/users/nobody-here`, { headers: { authorization: `Bearer ${token}` } })).status;

  async function rotate(): Promise<string> {
    const { stdout } = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli/admin-token.ts', '--rotate'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...databaseEnv },
    });
    return stdout.trim();
  }

  beforeAll(async () => {
    if (!process.env.DATABASE_URL) return;
    // a generated token of an earlier run: this test starts from "first start"
    const client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(`DO $$ BEGIN IF to_regclass('server_settings') IS NOT NULL THEN DELETE FROM server_settings WHERE key = '${ADMIN_TOKEN_HASH_KEY}'; END IF; END $$`);
    await client.end();
  });
  afterAll(async () => {
    await server?.close();
    if (process.env.DATABASE_URL) {
      const client = new Client({ connectionString: process.env.DATABASE_URL });
      await client.connect();
      await client.query(`DELETE FROM server_settings WHERE key = $1`, [ADMIN_TOKEN_HASH_KEY]);
      await client.end();
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('printed once on the first start, valid after a restart, replaced by --rotate, overridden by ADMIN_TOKEN', async () => {
    const first = await start();
    const printed = first.log.map((line) => JSON.parse(line)).filter((record) => /generated the admin token/.test(record.msg));
    expect(printed).toHaveLength(1);
    const token = /: ([A-Za-z0-9_-]{43})$/.exec(printed[0].msg)![1];
    expect(await status(token)).toBe(404); // past the guard: the user does not exist
    expect(await status(`${token}x`)).toBe(401);
    // only a hash is stored
    expect(JSON.stringify(await first.server.app.get((await import('../src/database/db')).Db).query('SELECT value FROM server_settings'))).not.toContain(token);
    await first.server.close();

    // restart: the same token works and is not printed again
    const second = await start();
    expect(second.log.filter((line) => line.includes(token))).toEqual([]);
    expect(second.log.some((line) => /using the admin token generated on the first start/.test(line))).toBe(true);
    expect(await status(token)).toBe(404);

    // rotation (the embedded database must be closed for it; PostgreSQL can rotate under a running server)
    if (!process.env.DATABASE_URL) await second.server.close();
    const rotated = await rotate();
    expect(rotated).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rotated).not.toBe(token);
    if (!process.env.DATABASE_URL) await start();
    // every node re-reads the hash within a few seconds
    const deadline = Date.now() + 10_000;
    while ((await status(token)) !== 401 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await status(token)).toBe(401);
    expect(await status(rotated)).toBe(404);
    await server!.close();

    // ADMIN_TOKEN set wins over the stored one
    await start({ ADMIN_TOKEN: 'an-operator-chosen-admin-token' });
    expect(await status('an-operator-chosen-admin-token')).toBe(404);
    expect(await status(rotated)).toBe(401);
    await server!.close();
    server = undefined;
  }, 240_000); // on the embedded database each of the five starts opens it anew
});
