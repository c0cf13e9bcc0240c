import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { DataSource } from 'typeorm';
import { rotateAdminToken } from '../auth/admin-token';
import { ConfigError, loadConfig } from '../config/app-config';
import { dataSourceOptions } from '../database/data-source-options';
import { EMBEDDED_PID_FILE, EmbeddedDatabase } from '../database/embedded-database';
import { installLogger } from '../logging/logger';

const USAGE = `usage: npm run admin-token -- --rotate     (Docker image: node dist/cli/admin-token.js --rotate)

Makes a new admin token, prints it once on stdout, and keeps only its hash in the database: the old
token stops working (on every node within a few seconds). Reads DATABASE_URL / DATA_DIR like the server;
with the embedded database (no DATABASE_URL), stop the server first. ADMIN_TOKEN, when set, still wins.`;

async function main(argv: string[]): Promise<number> {
  if (!argv.includes('--rotate')) {
    process.stderr.write(`${USAGE}\n`);
    return argv.includes('--help') || argv.includes('-h') ? 0 : 2;
  }
  const config = loadConfig();
  // everything but the token goes to stderr: `TOKEN=$(npm run -s admin-token -- --rotate)` works
  Logger.overrideLogger(installLogger(config.LOG_LEVEL === 'log' ? 'warn' : config.LOG_LEVEL, config.LOG_FORMAT, process.stderr));
  let embedded: EmbeddedDatabase | undefined;
  if (!config.DATABASE_URL) {
    const running = runningServerPid(config.DATA_DIR);
    if (running !== undefined) {
      process.stderr.write(`the server (pid ${running}) has the embedded database in ${config.DATA_DIR} open: stop it first, then run this again\n`);
      return 1;
    }
    embedded = new EmbeddedDatabase(config.DATA_DIR, 1);
  }
  const url = config.DATABASE_URL ?? (await embedded!.start());
  const dataSource = new DataSource({ ...dataSourceOptions(url, 1, embedded !== undefined), migrationsRun: false });
  try {
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    const token = await rotateAdminToken({ query: (sql, params) => dataSource.query(sql, params) });
    process.stdout.write(`${token}\n`);
    process.stderr.write('the old admin token no longer works; this one is shown only now (only its hash is kept)\n');
    if (config.ADMIN_TOKEN) process.stderr.write('note: ADMIN_TOKEN is set here; a server started with ADMIN_TOKEN set uses that one, not this\n');
    return 0;
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await embedded?.stop();
  }
}

/** The pid of a live server holding the embedded database of `dataDir`, if any. */
function runningServerPid(dataDir: string): number | undefined {
  const file = join(dataDir, EMBEDDED_PID_FILE);
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  if (!Number.isInteger(pid) || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined; // left behind by a server that was killed
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`${error instanceof ConfigError ? error.message : ((error as Error).stack ?? String(error))}\n`);
    process.exit(1);
  },
);
