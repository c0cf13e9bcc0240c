import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options';
import { EmbeddedDatabase } from './embedded-database';

/**
 * The database migrations by hand, from the compiled server (the Docker image holds no TypeScript):
 *
 *   node dist/database/migrate.js show     # each migration, [X] applied or [ ] pending; exit 1 if any is pending
 *   node dist/database/migrate.js run      # apply the pending ones (a server start does this too)
 *   node dist/database/migrate.js revert   # undo the last applied one
 *
 * On DATABASE_URL; without it, on the embedded database in DATA_DIR (default ./data), which only one
 * process may open: stop the server first. The migrations are the ones the server runs
 * (src/database/migrations, compiled next to this file).
 */
const COMMANDS = ['show', 'run', 'revert'] as const;
type Command = (typeof COMMANDS)[number];

export async function migrate(command: Command, env: NodeJS.ProcessEnv = process.env, print: (line: string) => void = console.log): Promise<number> {
  const embedded = env.DATABASE_URL ? undefined : new EmbeddedDatabase(env.DATA_DIR || './data', 1);
  const url = env.DATABASE_URL || (await embedded!.start());
  const dataSource = new DataSource({ ...dataSourceOptions(url, 1, embedded !== undefined), migrationsRun: false });
  try {
    await dataSource.initialize();
    if (command === 'run') {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      print(applied.length === 0 ? 'no pending migration' : applied.map((m) => `applied ${m.name}`).join('\n'));
      return 0;
    }
    if (command === 'revert') {
      const before = await appliedNames(dataSource);
      await dataSource.undoLastMigration({ transaction: 'each' });
      const after = await appliedNames(dataSource);
      const reverted = before.filter((name) => !after.includes(name));
      print(reverted.length === 0 ? 'no migration to revert' : reverted.map((name) => `reverted ${name}`).join('\n'));
      return 0;
    }
    const applied = new Set(await appliedNames(dataSource));
    let pending = 0;
    for (const migration of dataSource.migrations) {
      const name = migration.name ?? migration.constructor.name;
      if (!applied.has(name)) pending++;
      print(`${applied.has(name) ? '[X]' : '[ ]'} ${name}`);
    }
    return pending === 0 ? 0 : 1;
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
  }
}

/** Names of the applied migrations (TypeORM's `migrations` table; none before the first run). */
async function appliedNames(dataSource: DataSource): Promise<string[]> {
  const table = (await dataSource.query(`SELECT to_regclass('migrations') AS t`))[0]?.t;
  if (!table) return [];
  return (await dataSource.query(`SELECT name FROM migrations ORDER BY id`)).map((row: { name: string }) => row.name);
}

if (require.main === module) {
  const command = process.argv[2] as Command;
  if (!COMMANDS.includes(command)) {
    console.error(`usage: node dist/database/migrate.js ${COMMANDS.join('|')}   (DATABASE_URL, or the embedded database in DATA_DIR)`);
    process.exit(2);
  }
  migrate(command).then(
    (code) => process.exit(code),
    (error) => {
      console.error(`migration ${command} failed: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
