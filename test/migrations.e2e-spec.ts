import { execFile } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { MIGRATIONS } from '../src/database/data-source-options';
import { MigrationDatabase, migrationDatabase, privateSchema } from './support/migration-database';

/**
 * A database made by the first migration only, with groups in it, then migrated to the current
 * schema: the migrations run by TypeORM as on a server start. On PostgreSQL (DATABASE_URL) this works
 * in a schema of its own; otherwise on a fresh embedded database.
 */
describe('migrations on a database that already holds data', () => {
  let db: MigrationDatabase;
  const migrate = (count: number) => db.migrate(count);

  beforeAll(async () => {
    db = await migrationDatabase('migration_test');
  }, 180_000);
  afterAll(() => db?.close());

  it('GroupInviteCodes gives every existing group its own random 16-character code', async () => {
    const first = await migrate(1);
    const now = Date.now();
    await first.query(`INSERT INTO users (app_user_id, nickname, created_at, updated_at) VALUES ('owner', 'Owner', $1, $1)`, [now]);
    for (let i = 0; i < 5; i++) {
      const [{ id }] = await first.query(`INSERT INTO conversations (kind) VALUES (2) RETURNING id`);
      await first.query(`INSERT INTO groups (id, group_name, owner_id, created_at) VALUES ($1, $2, 1, $3)`, [id, `g${i}`, now]);
    }
    await first.destroy();

    const current = await migrate(MIGRATIONS.length);
    try {
      const rows: Array<{ invite_code: string }> = await current.query(`SELECT invite_code FROM groups ORDER BY id`);
      expect(rows).toHaveLength(5);
      for (const row of rows) expect(row.invite_code).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(new Set(rows.map((row) => row.invite_code)).size).toBe(5);
      // a group written by SQL alone (a tool, a test fixture) gets a code too
      const [{ id }] = await current.query(`INSERT INTO conversations (kind) VALUES (2) RETURNING id`);
      await current.query(`INSERT INTO groups (id, group_name, owner_id, created_at) VALUES ($1, 'later', 1, $2)`, [id, now]);
      const [later] = await current.query(`SELECT invite_code FROM groups WHERE id = $1`, [id]);
      expect(later.invite_code).toMatch(/^[A-Za-z0-9_-]{16}$/);
    } finally {
      await current.destroy();
    }
  });
});

/**
 * `node dist/database/migrate.js show|run|revert` (src/database/migrate.ts), as an operator runs it
 * from the Docker image: here the same file through ts-node, as its own process. On PostgreSQL in a
 * schema of its own; without DATABASE_URL on an embedded database in a fresh DATA_DIR.
 */
describe('the migration command (src/database/migrate.ts)', () => {
  const names = MIGRATIONS.map((migration) => new migration().name!);
  let env: Record<string, string>;
  let dropSchema: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;

  beforeAll(async () => {
    if (process.env.DATABASE_URL) {
      const schema = await privateSchema('migrate_cmd');
      dropSchema = schema.drop;
      env = { DATABASE_URL: schema.url };
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'im-migrate-cmd-'));
      env = { DATA_DIR: dataDir };
    }
  });
  afterAll(async () => {
    await dropSchema?.();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  function command(...args: string[]): Promise<{ code: number; stdout: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', 'src/database/migrate.ts', ...args],
        { cwd: join(__dirname, '..'), env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...env } },
        (error, stdout) => resolve({ code: error ? Number(error.code) : 0, stdout }),
      );
    });
  }

  it('shows pending migrations (exit 1), runs them, shows them applied (exit 0), reverts the last one', async () => {
    const pending = await command('show');
    expect(pending.code).toBe(1);
    for (const name of names) expect(pending.stdout).toContain(`[ ] ${name}`);
    const run = await command('run');
    expect(run.code).toBe(0);
    for (const name of names) expect(run.stdout).toContain(`applied ${name}`);
    const shown = await command('show');
    expect(shown.code).toBe(0);
    for (const name of names) expect(shown.stdout).toContain(`[X] ${name}`);
    const reverted = await command('revert');
    expect(reverted.code).toBe(0);
    expect(reverted.stdout).toContain(`reverted ${names[names.length - 1]}`);
    const after = await command('show');
    expect(after.code).toBe(1);
    expect(after.stdout).toContain(`[ ] ${names[names.length - 1]}`);
    expect(after.stdout).toContain(`[X] ${names[0]}`);
    expect((await command('nonsense')).code).toBe(2);
  }, 180_000);
});
