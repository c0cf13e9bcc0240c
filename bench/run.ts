/**
 * The benchmark suite (`npm run bench`): the IM server (src/main.ts, a child process; PostgreSQL from
 * DATABASE_URL, or the embedded database without it) against the raw `ws` baseline (bench/raw-server.ts),
 * with the load generator bench/load.ts. Reports medians and ratios, with the CPU per operation of the
 * server, the database backends and the load generator (read from /proc over the measured window).
 * Writes bench/results/latest.json, BENCHMARKS.md (the generated part; the sections after KEEP_MARKER
 * are kept) and the plots in bench/plots (bench/plot.mjs).
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_bench npm run bench
 *   env: BENCH_RUNS (3), BENCH_ROUNDS (rounds per run, 1), BENCH_DURATION (s per measurement, 10),
 *        BENCH_WINDOWS (1,4,16), BENCH_CONNECTIONS (10000), BENCH_MEMBERS (1000), BENCH_PAIRS (50),
 *        BENCH_SYNC=0 (skip the sync scenario), BENCH_SYNC_SAMPLES (100),
 *        BENCH_SMOKE=1 (seconds, tiny sizes, one run, writes to a temporary folder: for CI),
 *        BENCH_SCENARIOS (send,fanout,connect,sync: all; a subset writes to a temporary folder, so a
 *        partial table never replaces BENCHMARKS.md)
 *
 * Runs and rounds. One command makes BENCH_RUNS runs (the issue's "medians and ratios of three runs
 * with the load average"). A run = an emptied database, a shared IM server and a shared raw server
 * started for it, BENCH_ROUNDS rounds of the scenarios, then the sync scenario, then both stopped; the
 * load average is read at its start and end. A round = every throughput scenario against both targets
 * back to back (interleaved, the order alternating by round) — a ratio is always IM ÷ raw of the same
 * round. A row of the table is the median over runs of each run's median over its rounds, and lists
 * each run's ratio.
 *   send, fanout   on the run's shared servers.
 *   connect        a FRESH IM server and a FRESH raw server for each measurement (each round), stopped
 *                  (SIGTERM, waited for) afterwards: RSS per held connection = (RSS with all N held −
 *                  RSS just before the storm) / N means nothing on a server whose heap earlier
 *                  scenarios grew. The storm's users and tokens are made through the admin API of the
 *                  run's shared IM server (same database, same TOKEN_SECRET), so the stormed server has
 *                  served nothing before the storm but the warm-up: a fifth as many other users'
 *                  connections, opened before it (not measured) and held through it, so the storm
 *                  meets warm code and a server already holding connections; the RSS baseline is
 *                  read with them open.
 *   sync           after the others: the shared servers are stopped, the database is emptied and seeded
 *                  (bench/sync-seed.ts: one user, 1,000 unread conversations — 700 one-to-one, 300
 *                  groups — over 1,000,000 messages), a fresh IM server is started, and
 *                  bench/sync-scenario.ts times (a) socket open → type-19 frame, (b) the `sync` action's
 *                  round trip, (c) the bare UNREAD_SQL (prepared, on the bench's own connection),
 *                  interleaved, BENCH_SYNC_SAMPLES samples after 10 warm-up.
 *
 * The database is emptied (TRUNCATE) at the start of each run: give it a database of its own (the name
 * must contain "bench" or be CI's "…_ci…", or BENCH_FORCE=1). Nothing else may use it while the suite runs.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { ensureBenchDatabase } from './bench-database';
import { procStat, Server as Child, startServer, stopProcess } from './processes';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { cpus, loadavg, tmpdir, totalmem } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import type { LoadResult } from './load';
import { SyncResult, measureSync, percentile } from './sync-scenario';
import { SYNC_SEED_FULL, SyncSeedSize, seedSync } from './sync-seed';

const ROOT = join(__dirname, '..');
const SMOKE = process.env.BENCH_SMOKE === '1';
const RUNS = Number(process.env.BENCH_RUNS ?? (SMOKE ? 1 : 3));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const DURATION = Number(process.env.BENCH_DURATION ?? (SMOKE ? 1 : 10));
const WINDOWS = (process.env.BENCH_WINDOWS ?? (SMOKE ? '4' : '1,4,16')).split(',').map(Number);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? (SMOKE ? 50 : 10_000));
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? (SMOKE ? 20 : 1000));
const PAIRS = Number(process.env.BENCH_PAIRS ?? (SMOKE ? 5 : 50));
const DATABASE_URL = process.env.DATABASE_URL;
/** the sync scenario needs PostgreSQL (the bare query runs on the bench's own connection) */
const ALL_SCENARIOS = ['send', 'fanout', 'connect', 'sync'];
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? ALL_SCENARIOS.join(',')).split(',').map((s) => s.trim()));
for (const name of SCENARIOS) if (!ALL_SCENARIOS.includes(name)) throw new Error(`BENCH_SCENARIOS: unknown scenario "${name}" (known: ${ALL_SCENARIOS.join(', ')})`);
const PARTIAL = ALL_SCENARIOS.some((name) => !SCENARIOS.has(name));
const SYNC = process.env.BENCH_SYNC !== '0' && SCENARIOS.has('sync') && Boolean(DATABASE_URL);
const SYNC_SIZE: SyncSeedSize = SMOKE
  ? { directs: 14, groups: 6, perConversation: 50, groupExtraMembers: 5, heavy: 'bench-heavy', allUnread: true }
  : { ...SYNC_SEED_FULL, allUnread: true };
const SYNC_SAMPLES = Number(process.env.BENCH_SYNC_SAMPLES ?? (SMOKE ? 5 : 100));
const SYNC_WARMUP = SMOKE ? 2 : 10;
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
/** one signing key for every IM server of a run: tokens made by one are valid on the others */
const TOKEN_SECRET = 'bench-token-secret-0123456789abcdef0123456789';
const OUT = SMOKE || PARTIAL ? mkdtempSync(join(tmpdir(), 'im-bench-')) : ROOT;
/** every server this process started and has not stopped yet (stopped on SIGINT/SIGTERM too) */
const children = new Set<Child>();
/** the load generators running (ended on SIGINT/SIGTERM too) */
const loaders = new Set<ChildProcess>();

async function startChild(args: string[], env: Record<string, string>): Promise<Child> {
  const started = await startServer(args, env);
  children.add(started);
  return started;
}

async function stopChild(child: Child): Promise<void> {
  children.delete(child);
  await stopProcess(child);
}

/**
 * CPU (µs) of each database backend serving this database, by pid (PostgreSQL only; the embedded one
 * runs in the server). A window's database CPU is the sum over the backends alive at its end of their
 * growth since its start (0 for a backend opened during it): a backend that exits during the window (an
 * idle pool connection of another server closing) must not count negative.
 */
async function databaseCpu(db: Client | undefined): Promise<Map<number, number>> {
  const cpu = new Map<number, number>();
  if (!db) return cpu;
  const { rows } = await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  for (const row of rows) cpu.set(row.pid, procStat(row.pid).cpuUs);
  return cpu;
}

function databaseCpuUsed(start: Map<number, number>, end: Map<number, number>): number {
  let used = 0;
  for (const [pid, cpu] of end) used += Math.max(0, cpu - (start.get(pid) ?? 0));
  return used;
}

interface Run extends LoadResult {
  /** the run (1..BENCH_RUNS) and the round within it */
  run: number;
  round: number;
  serverCpuUsPerOp: number;
  dbCpuUsPerOp: number;
  /** connect (fresh server): RSS per held connection (bytes), the RSS just before the storm, and RSS by connections open */
  rssPerConnection?: number;
  rssBefore?: number;
  rssSeries?: Array<[number, number]>;
}

/** One run's frame: when it ran and the load average around it. */
interface Pass {
  run: number;
  started: string;
  loadavg: number[];
  loadavgAfter: number[];
}

async function runLoad(target: 'raw' | 'im', server: Child, db: Client | undefined, args: string[], run: number, round: number): Promise<Run> {
  const base = ['bench/load.ts', '--url', `ws://127.0.0.1:${server.port}`, '--json', ...(target === 'raw' ? ['--raw'] : ['--admin-token', ADMIN_TOKEN]), ...args];
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', ...base], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  loaders.add(child);
  child.once('exit', () => loaders.delete(child));
  const pid = server.process.pid!;
  let startCpu = 0;
  let startDb = new Map<number, number>();
  let endCpu = 0;
  let endDb = new Map<number, number>();
  let startRss = 0;
  let holding: [number, number] | undefined;
  const series: Array<[number, number]> = [];
  let result: LoadResult | undefined;
  let buffer = '';
  const pending: Promise<void>[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line === 'MARK start') {
        const stat = procStat(pid);
        startCpu = stat.cpuUs;
        startRss = stat.rss;
        series.push([0, stat.rss]);
        pending.push(databaseCpu(db).then((cpu) => void (startDb = cpu)));
      } else if (line === 'MARK end') {
        endCpu = procStat(pid).cpuUs;
        pending.push(databaseCpu(db).then((cpu) => void (endDb = cpu)));
      } else if (line.startsWith('MARK at ')) {
        series.push([Number(line.slice(8)), procStat(pid).rss]);
      } else if (line.startsWith('MARK holding ')) {
        holding = [Number(line.slice(13)), procStat(pid).rss];
      } else if (line.startsWith('RESULT ')) {
        result = JSON.parse(line.slice(7));
      }
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  await Promise.all(pending);
  if (code !== 0 || !result) throw new Error(`load generator (${target} ${args.join(' ')}) exited with ${code}`);
  const ops = Math.max(1, result.operations);
  const measured: Run = { ...result, run, round, serverCpuUsPerOp: (endCpu - startCpu) / ops, dbCpuUsPerOp: databaseCpuUsed(startDb, endDb) / ops };
  if (holding && holding[0] > 0) {
    measured.rssPerConnection = (holding[1] - startRss) / holding[0];
    measured.rssBefore = startRss;
    measured.rssSeries = [...series, holding];
  }
  return measured;
}

const median = (values: number[]) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function prepareDatabase(db: Client | undefined): Promise<void> {
  if (!db) return;
  const tables = await db.query(`SELECT 1 FROM pg_tables WHERE tablename = 'messages'`);
  if (tables.rowCount) {
    await db.query(`TRUNCATE system_messages, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
  }
}

async function connectDatabase(): Promise<Client | undefined> {
  if (!DATABASE_URL) return undefined;
  const name = decodeURIComponent(new URL(DATABASE_URL).pathname.slice(1));
  if (!/bench|(^|_)ci($|_)/i.test(name) && process.env.BENCH_FORCE !== '1') {
    throw new Error(`refusing to empty database "${name}": use a database of its own (a name with "bench") or BENCH_FORCE=1`);
  }
  if (/bench/i.test(name)) await ensureBenchDatabase(DATABASE_URL); // a fresh machine has no im_bench yet
  const db = new Client({ connectionString: DATABASE_URL });
  await db.connect();
  return db;
}

const debug = (what: string) => process.env.BENCH_DEBUG && process.stderr.write(`[bench] ${what}\n`);

async function adminCall(server: Child, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** One run: the throughput scenarios and the connect storms on their servers, then the sync scenario. */
async function oneRun(run: number, db: Client | undefined, imEnv: Record<string, string>, runs: Record<'raw' | 'im', Run[]>, syncs: SyncResult[]): Promise<void> {
  await prepareDatabase(db);
  debug(`run ${run}: database ready`);
  const im = await startChild(['src/main.ts'], imEnv);
  debug(`IM server on ${im.port}`);
  const raw = await startChild(['bench/raw-server.ts'], { PORT: '0' });
  const common = ['--duration', String(DURATION), '--warmup', SMOKE ? '0.5' : '2'];
  const record = (target: 'raw' | 'im', measured: Run) => {
    runs[target].push(measured);
    process.stderr.write(`run ${run} round ${measured.round} ${target} ${measured.scenario} ${JSON.stringify(measured.params)}: ${measured.rate.toFixed(0)}/s p99 ${measured.p99.toFixed(1)} ms` + (measured.rssPerConnection !== undefined ? `, RSS ${measured.rssPerConnection.toFixed(0)} B per held connection` : '') + '\n');
  };
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      // interleaved: each scenario runs against both targets back to back, the order alternating by round
      const order: Array<'raw' | 'im'> = round % 2 ? ['raw', 'im'] : ['im', 'raw'];
      const shared = { raw, im };
      const scenarios: string[][] = [
        ...(SCENARIOS.has('send') ? WINDOWS.map((window) => ['--scenario', 'send', '--pairs', String(PAIRS), '--window', String(window)]) : []),
        ...(SCENARIOS.has('fanout') ? [['--scenario', 'fanout', '--members', String(MEMBERS), '--senders', '2', '--window', '2']] : []),
      ];
      for (const scenario of scenarios) {
        for (const target of order) {
          const prefix = ['--prefix', `r${round}-${scenario[1]}${scenario[scenario.indexOf('--window') + 1] ?? ''}`];
          record(target, await runLoad(target, shared[target], target === 'im' ? db : undefined, [...common, ...scenario, ...prefix], run, round));
        }
      }
      // the connect storm: a fresh server per measurement; the IM storm's users come from the shared server's admin API
      for (const target of SCENARIOS.has('connect') ? order : []) {
        const fresh = target === 'im' ? await startChild(['src/main.ts'], imEnv) : await startChild(['bench/raw-server.ts'], { PORT: '0' });
        try {
          const warm = String(Math.ceil(CONNECTIONS / 5));
          const args = ['--scenario', 'connect', '--connections', String(CONNECTIONS), '--concurrency', '200', '--hold', '1', '--warm', warm, '--prefix', `r${round}-connect`];
          if (target === 'im') args.push('--admin-url', `ws://127.0.0.1:${im.port}`);
          record(target, await runLoad(target, fresh, target === 'im' ? db : undefined, [...common, ...args], run, round));
        } finally {
          await stopChild(fresh);
        }
      }
    }
  } finally {
    await stopChild(im);
    await stopChild(raw);
  }
  if (!SYNC || !db) return;

  const messages = (SYNC_SIZE.directs + SYNC_SIZE.groups) * SYNC_SIZE.perConversation;
  process.stderr.write(`run ${run} sync: seeding ${SYNC_SIZE.directs + SYNC_SIZE.groups} conversations × ${SYNC_SIZE.perConversation} messages…\n`);
  await seedSync(db, SYNC_SIZE, debug);
  const server = await startChild(['src/main.ts'], imEnv);
  try {
    const heavyId = Number((await db.query(`SELECT id FROM users WHERE app_user_id = $1`, [SYNC_SIZE.heavy])).rows[0].id);
    const { token } = await adminCall(server, 'POST', `/admin/users/${SYNC_SIZE.heavy}/tokens`, { ttl_seconds: 86_400 });
    const result = await measureSync({ run, port: server.port, token, db, heavyId, conversations: SYNC_SIZE.directs + SYNC_SIZE.groups, messages, samples: SYNC_SAMPLES, warmup: SYNC_WARMUP });
    syncs.push(result);
    const p = (values: number[], q: number) => percentile(values, q).toFixed(2);
    process.stderr.write(
      `run ${run} sync (${result.friends} + ${result.groups} unread, ${(result.frameBytes / 1024).toFixed(0)} KiB): open→frame p50 ${p(result.open, 50)} p99 ${p(result.open, 99)} ms; ` +
        `sync action p50 ${p(result.action, 50)} p99 ${p(result.action, 99)} ms; bare SQL p50 ${p(result.bare, 50)} p99 ${p(result.bare, 99)} ms\n`,
    );
  } finally {
    await stopChild(server);
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const db = await connectDatabase();
  const imEnv: Record<string, string> = { PORT: '0', ADMIN_TOKEN, TOKEN_SECRET, RATE_LIMIT_PER_SEC: '0', LOG_LEVEL: 'log', MAX_GROUP_MEMBERS: String(Math.max(2000, MEMBERS)) };
  if (DATABASE_URL) imEnv.DATABASE_URL = DATABASE_URL;
  else imEnv.DATA_DIR = mkdtempSync(join(tmpdir(), 'im-bench-data-'));
  const runs: Record<'raw' | 'im', Run[]> = { raw: [], im: [] };
  const syncs: SyncResult[] = [];
  const passes: Pass[] = [];
  // interrupted: the servers this process started go down with it (by pid)
  const stopAll = (code: number) => {
    for (const loader of loaders) loader.kill('SIGTERM');
    for (const child of children) child.process.kill('SIGTERM');
    process.exit(code);
  };
  process.once('SIGINT', () => stopAll(130));
  process.once('SIGTERM', () => stopAll(143));
  try {
    for (let run = 1; run <= RUNS; run++) {
      const pass: Pass = { run, started: new Date().toISOString(), loadavg: loadavg(), loadavgAfter: [] };
      await oneRun(run, db, imEnv, runs, syncs);
      pass.loadavgAfter = loadavg();
      passes.push(pass);
    }
  } finally {
    for (const child of [...children]) await stopChild(child);
    await db?.end();
  }
  const report: Report = {
    started: started.toISOString(),
    loadavg: passes[0].loadavg,
    loadavgAfter: passes[passes.length - 1].loadavgAfter,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memory: totalmem(),
    database: DATABASE_URL ? 'postgresql' : 'embedded',
    runCount: RUNS,
    rounds: ROUNDS,
    duration: DURATION,
    passes,
    runs,
    sync: syncs,
  };
  mkdirSync(join(OUT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(OUT, 'bench', 'results', 'latest.json'), JSON.stringify(report, null, 1));
  const markdown = summarize(report);
  writeFileSync(join(OUT, 'BENCHMARKS.md'), markdown + keptSections(join(ROOT, 'BENCHMARKS.md')));
  execFileSync(process.execPath, [join(ROOT, 'bench', 'plot.mjs'), join(OUT, 'bench', 'results', 'latest.json'), join(OUT, 'bench', 'plots')], { stdio: 'inherit' });
  console.log(markdown);
  if (SMOKE || PARTIAL) console.log(`output in ${OUT}`);
}

interface Report {
  started: string;
  loadavg: number[];
  loadavgAfter: number[];
  cpus: number;
  cpuModel?: string;
  memory: number;
  database: string;
  runCount: number;
  rounds: number;
  duration: number;
  passes: Pass[];
  runs: Record<'raw' | 'im', Run[]>;
  sync: SyncResult[];
}

function key(run: Run): string {
  return `${run.scenario} ${Object.entries(run.params).map(([k, v]) => `${k} ${v}`).join(', ')}`;
}

const f = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const runNumbers = (report: Report) => report.passes.map((pass) => pass.run);

/** pick() of each run (the median over that run's rounds), in run order. */
function perRun(report: Report, runs: Run[], pick: (run: Run) => number): number[] {
  return runNumbers(report).map((n) => median(runs.filter((r) => r.run === n).map(pick)));
}

/** IM ÷ raw of the same round, median over the rounds of each run, in run order. */
function ratioPerRun(report: Report, im: Run[], raw: Run[], pick: (run: Run) => number): number[] {
  return runNumbers(report).map((n) =>
    median(im.filter((r) => r.run === n).map((r) => pick(r) / pick(raw.find((other) => other.run === n && other.round === r.round) ?? ({} as Run)))),
  );
}

const list = (values: number[], digits: number) => `(${values.map((v) => f(v, digits)).join(', ')})`;

function summarize(report: Report): string {
  const groups = new Map<string, { raw: Run[]; im: Run[] }>();
  for (const target of ['raw', 'im'] as const) {
    for (const run of report.runs[target]) {
      const k = key(run);
      if (!groups.has(k)) groups.set(k, { raw: [], im: [] });
      groups.get(k)![target].push(run);
    }
  }
  const rows: string[] = [];
  for (const [k, { raw, im }] of groups) {
    const m = (runs: Run[], pick: (run: Run) => number) => median(perRun(report, runs, pick));
    const ratios = ratioPerRun(report, im, raw, (r) => r.rate);
    const p99Ratios = ratioPerRun(report, im, raw, (r) => r.p99);
    const unit = im[0]?.scenario === 'fanout' ? 'deliveries/s' : im[0]?.scenario === 'connect' ? 'connects/s' : 'msg/s';
    rows.push(
      `| ${k} | ${f(m(im, (r) => r.rate))} ${unit} | ${f(m(raw, (r) => r.rate))} | **${f(median(ratios), 3)}** ${list(ratios, 3)} | ${f(m(im, (r) => r.p50), 1)} / ${f(m(im, (r) => r.p99), 1)} | ${f(m(raw, (r) => r.p50), 1)} / ${f(m(raw, (r) => r.p99), 1)} | ${f(median(p99Ratios), 2)} ${list(p99Ratios, 2)} | ${f(m(im, (r) => r.serverCpuUsPerOp))} / ${f(m(im, (r) => r.dbCpuUsPerOp))} / ${f(m(im, (r) => r.loadCpuUsPerOp))} | ${f(m(raw, (r) => r.serverCpuUsPerOp))} / ${f(m(raw, (r) => r.loadCpuUsPerOp))} | ${im.reduce((s, r) => s + r.failed, 0)} |`,
    );
  }

  // RSS per held connection, fresh servers
  const storm = groups.get([...groups.keys()].find((k) => k.startsWith('connect')) ?? '');
  let rssLine = '';
  if (storm) {
    const imRss = perRun(report, storm.im, (r) => r.rssPerConnection ?? NaN);
    const rawRss = perRun(report, storm.raw, (r) => r.rssPerConnection ?? NaN);
    const rssRatios = ratioPerRun(report, storm.im, storm.raw, (r) => r.rssPerConnection ?? NaN);
    const before = (runs: Run[]) => f(median(perRun(report, runs, (r) => r.rssBefore ?? NaN)) / 2 ** 20, 0);
    rssLine =
      `**RSS per held authenticated connection** (fresh servers, one per measurement: (RSS with all ${storm.im[0]?.params.connections} held − RSS just before the storm, the warm-up's connections open) ÷ storm connections held; ` +
      `median over runs): IM ${f(median(imRss))} B ${list(imRss, 0)}, raw ${f(median(rawRss))} B ${list(rawRss, 0)}, ratio IM/raw **${f(median(rssRatios), 2)}** ${list(rssRatios, 2)} (goal ≤ 1.5). ` +
      `RSS just before the storm (warm-up connections open): IM ${before(storm.im)} MiB, raw ${before(storm.raw)} MiB.`;
  }

  // sync
  let syncTable = '';
  if (report.sync.length) {
    const s = report.sync;
    const pr = (pick: (r: SyncResult) => number[], p: number) => s.map((r) => percentile(pick(r), p));
    const ratio = (pick: (r: SyncResult) => number[], p: number) => s.map((r) => percentile(pick(r), p) / percentile(r.bare, p));
    const first = s[0];
    const name = `sync ${first.conversations} conversations (${first.friends} + ${first.groups} unread), ${first.messages} messages`;
    const actionP99 = ratio((r) => r.action, 99);
    const failed = s.reduce((sum, r) => sum + r.failed, 0);
    rows.push(
      `| ${name} ‡ | \`sync\` reply (b) | bare SQL (c) | **${f(median(actionP99), 2)}** ${list(actionP99, 2)} p99 (b)/(c) | ${f(median(pr((r) => r.action, 50)), 1)} / ${f(median(pr((r) => r.action, 99)), 1)} | ${f(median(pr((r) => r.bare, 50)), 1)} / ${f(median(pr((r) => r.bare, 99)), 1)} | – | – | – | ${failed} |`,
    );
    const line = (label: string, pick: (r: SyncResult) => number[]) => {
      const r50 = ratio(pick, 50);
      const r99 = ratio(pick, 99);
      return `| ${label} | ${f(median(pr(pick, 50)), 2)} ${list(pr(pick, 50), 2)} | ${f(median(pr(pick, 99)), 2)} ${list(pr(pick, 99), 2)} | ${f(median(r50), 2)} ${list(r50, 2)} | **${f(median(r99), 2)}** ${list(r99, 2)} |`;
    };
    syncTable = `
‡ **sync**: one user in ${first.conversations} conversations, all with unread messages (the sync frame lists ${first.friends} one-to-one + ${first.groups} groups, ${f(first.frameBytes / 1024)} KiB), over ${first.messages} messages (bench/sync-seed.ts, set-based, after the other scenarios; a fresh IM server), ${s[0].open.length} samples per run after ${first.warmup} warm-up, the three measurements interleaved one by one.
In the table row: "IM" = (b) the \`sync\` action, "raw" = (c) the bare SQL; the ratio column is **p99 of (b) ÷ p99 of (c)** (goal ≤ 1.5), each run's in brackets.

| sync, ms (median over runs; each run in brackets) | p50 | p99 | ÷ bare SQL at p50 | ÷ bare SQL at p99 |
|---|---|---|---|---|
${line('(a) socket open (heavy user\'s token) → type-19 sync frame', (r) => r.open)}
${line('(b) `{"action":"sync"}` → its reply, on an open socket', (r) => r.action)}
${line('(c) bare UNREAD_SQL, prepared, on the bench\'s own connection', (r) => r.bare)}
`;
  }

  const passes = report.passes
    .map((pass) => `run ${pass.run} (${pass.started}): ${pass.loadavg.map((l) => l.toFixed(2)).join(' ')} → ${pass.loadavgAfter.map((l) => l.toFixed(2)).join(' ')}`)
    .join('; ');
  return `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts) on ${report.started}: ${report.runCount} run${report.runCount === 1 ? '' : 's'} of ${report.rounds} round${report.rounds === 1 ? '' : 's'}, ${report.duration} s per measurement.
A **run** is a full pass on an emptied database: its own IM and raw servers, every scenario, then the sync scenario, with the load average read at its start and end.
A **round** is every scenario against the IM server and the raw \`ws\` baseline back to back (interleaved, the order alternating by round), so each ratio is IM ÷ raw of the same round.
Each row is the median over the runs of each run's median over its rounds; the ratio columns list each run's ratio in brackets (with one round per run, a run's ratio is that round's).

Machine: ${report.cpus} × ${report.cpuModel ?? 'CPU'}, ${(report.memory / 2 ** 30).toFixed(1)} GiB; database: ${report.database} on the same machine.
Load average (1, 5, 15 min) at the start → end of each run: ${passes} (the machine is shared: absolute numbers are noisy, the ratios less so).

| scenario | IM server | raw \`ws\` | ratio IM/raw | IM p50 / p99 ms | raw p50 / p99 ms | p99 IM/raw | IM CPU µs/op server / database / load gen | raw CPU µs/op server / load gen | failed |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

${rssLine}
${syncTable}
- **send**: \`pairs\` pairs of users, each side keeping \`window\` durable \`chat\` requests in flight; rate = sendResults 200/s, latency request → sendResult.
- **fanout**: one group of \`members\` members, all online; \`senders\` members keep \`window\` \`groupChat\` in flight; rate = pushes delivered/s, latency request → push.
- **connect**: a storm of \`connections\` authenticated connects, \`concurrency\` at a time, against a **fresh** server (IM and raw each started for this one measurement and stopped after it; \`warm\` other users' connections are opened before the storm, not measured, and held through it, so the storm meets warm code and a server already holding connections, as in production; the RSS baseline is read with them open); latency = time to the first frame (the sync frame); the connections are then held to read the server's RSS. The IM storm's users and tokens are made beforehand through the admin API of the run's other IM server (same database and token key), not measured. Goals: ≥ 0.5 × raw connects/s, p99 ≤ 2 × raw.
- **send** and **fanout** run on one IM server and one raw server per run (shared by the rounds).
- CPU per operation: user+system time from /proc over the measured window — the server process, the PostgreSQL backends of its database (their growth over the window, backends opened during it included; not the shared WAL writer and checkpointer), and the load generator.

Plots (bench/plots): throughput vs in-flight window (\`throughput-window.png\`), latency CDF of the sends (\`latency-cdf.png\`), RSS growth vs open connections on the fresh servers (\`rss-connections.png\`), RSS per held connection by run (\`rss-per-connection.png\`), connects/s (\`connects.png\`), sync latency CDF (\`sync-latency.png\`).

Rerun: \`DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_bench npm run bench\` (BENCH_RUNS=3 by default; raw JSON in bench/results/latest.json). Against a deployed server: \`npx ts-node --transpile-only bench/load.ts --url wss://host --admin-token … --scenario send --duration 30\`.
`;
}

void main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

/** The hand-written sections of BENCHMARKS.md (other benches' numbers), from KEEP_MARKER on: a rerun keeps them. */
const KEEP_MARKER = '<!-- kept by npm run bench: the sections below come from the other bench scripts -->';
function keptSections(path: string): string {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return '';
  }
  const at = text.indexOf(KEEP_MARKER);
  return at < 0 ? '' : `\n${text.slice(at)}`;
}
