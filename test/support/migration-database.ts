import { randomBytes } from 'crypto';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions, MIGRATIONS } from '../../src/database/data-source-options';
import { EmbeddedDatabase } from '../../src/database/embedded-database';

/** A schema of its own in DATABASE_URL's database: a URL whose search_path is that schema, and how to drop it. */
export async function privateSchema(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  const run = async (sql: string) => {
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(sql);
    } finally {
      await admin.end();
    }
  };
  await run(`CREATE SCHEMA ${schema}`);
  const url = new URL(process.env.DATABASE_URL!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.href, drop: () => run(`DROP SCHEMA ${schema} CASCADE`) };
}

export interface MigrationDatabase {
  /** Runs the first `count` migrations, as a server start does; the caller destroys the DataSource. */
  migrate(count: number): Promise<DataSource>;
  close(): Promise<void>;
}

/**
 * An empty database for migration tests: on PostgreSQL (DATABASE_URL) a schema of its own, otherwise
 * a fresh embedded database.
 */
export async function migrationDatabase(prefix: string): Promise<MigrationDatabase> {
  let url: string;
  let close: () => Promise<void>;
  if (process.env.DATABASE_URL) {
    const schema = await privateSchema(prefix);
    url = schema.url;
    close = schema.drop;
  } else {
    const dataDir = mkdtempSync(join(tmpdir(), `im-${prefix}-`));
    const embedded = new EmbeddedDatabase(dataDir, 2);
    url = await embedded.start();
    close = async () => {
      await embedded.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  }
  return {
    async migrate(count: number): Promise<DataSource> {
      const source = new DataSource({ ...dataSourceOptions(url, 1), migrations: MIGRATIONS.slice(0, count), migrationsRun: false });
      await source.initialize();
      await source.runMigrations({ transaction: 'each' });
      return source;
    },
    close,
  };
}
