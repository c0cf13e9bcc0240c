import { Client } from 'pg';

/**
 * Creates the benchmark's database when it does not exist yet. The benches empty and seed it, so a
 * name without "bench" is refused unless BENCH_FORCE=1 (never someone's real data).
 */
export async function ensureBenchDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/bench/i.test(name) && process.env.BENCH_FORCE !== '1') {
    throw new Error(`refusing to empty database "${name}": use a database of its own (name containing "bench") or BENCH_FORCE=1`);
  }
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }
}
