/**
 * The benchmark suite (`npm run bench`): starts the IM server (PostgreSQL from DATABASE_URL, or the
 * embedded database without it) and the raw `ws` baseline (bench/raw-server.ts), then runs every
 * scenario against both in interleaved rounds with bench/load.ts, and reports medians and ratios,
 * with the CPU per operation of the server, the database backends and the load generator (read from
 * /proc over the measured window). Writes bench/results/latest.json, BENCHMARKS.md and the plots in
 * bench/plots (bench/plot.mjs).
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_bench npm run bench
 *   env: BENCH_ROUNDS (3), BENCH_DURATION (s per run, 10), BENCH_WINDOWS (1,4,16), BENCH_CONNECTIONS (10000),
 *        BENCH_MEMBERS (1000), BENCH_SMOKE=1 (seconds, tiny sizes, writes to a temporary folder: for CI)
 *
 * The database is emptied (TRUNCATE) first: give it a database of its own (the name must contain
 * "bench" or be CI's "…_ci…", or BENCH_FORCE=1). Nothing else may use it while the suite runs.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { cpus, loadavg, tmpdir, totalmem } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import type { LoadResult } from './load';

const ROOT = join(__dirname, '..');
const SMOKE = process.env.BENCH_SMOKE === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (SMOKE ? 1 : 3));
const DURATION = Number(process.env.BENCH_DURATION ?? (SMOKE ? 1 : 10));
const WINDOWS = (process.env.BENCH_WINDOWS ?? (SMOKE ? '4' : '1,4,16')).split(',').map(Number);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? (SMOKE ? 50 : 10_000));
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? (SMOKE ? 20 : 1000));
const PAIRS = Number(process.env.BENCH_PAIRS ?? (SMOKE ? 5 : 50));
const DATABASE_URL = process.env.DATABASE_URL;
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const OUT = SMOKE ? mkdtempSync(join(tmpdir(), 'im-bench-')) : ROOT;
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

interface Child {
  process: ChildProcess;
  port: number;
}

function startChild(args: string[], env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on port (\d+)/.exec(output);
      if (!match) return;
      // the port is known: the rest of the output is drained unread (errors still go to stderr)
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.stdout!.resume();
      child.stderr!.on('data', (more: Buffer) => /error/i.test(more.toString()) && process.stderr.write(more));
      resolve({ process: child, port: Number(match[1]) });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`)));
  });
}

/** user+system CPU of a process in µs, and its RSS in bytes (from /proc). */
function procStat(pid: number): { cpuUs: number; rss: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuUs = ((Number(fields[11]) + Number(fields[12])) / TICK) * 1e6;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    return { cpuUs, rss };
  } catch {
    return { cpuUs: 0, rss: 0 };
  }
}

/** CPU of the database backends serving this database (PostgreSQL only; the embedded one runs in the server). */
async function databaseCpu(db: Client | undefined): Promise<number> {
  if (!db) return 0;
  const { rows } = await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  return rows.reduce((sum, row) => sum + procStat(row.pid).cpuUs, 0);
}

interface Run extends LoadResult {
  round: number;
  serverCpuUsPerOp: number;
  dbCpuUsPerOp: number;
  /** connect: server RSS per open connection (bytes), and RSS by connections open */
  rssPerConnection?: number;
  rssSeries?: Array<[number, number]>;
}

async function runLoad(target: 'raw' | 'im', server: Child, db: Client | undefined, args: string[], round: number): Promise<Run> {
  const base = ['bench/load.ts', '--url', `ws://127.0.0.1:${server.port}`, '--json', ...(target === 'raw' ? ['--raw'] : ['--admin-token', ADMIN_TOKEN]), ...args];
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', ...base], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = server.process.pid!;
  let startCpu = 0;
  let startDb = 0;
  let endCpu = 0;
  let endDb = 0;
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
  const run: Run = { ...result, round, serverCpuUsPerOp: (endCpu - startCpu) / ops, dbCpuUsPerOp: (endDb - startDb) / ops };
  if (holding && holding[0] > 0) {
    run.rssPerConnection = (holding[1] - startRss) / holding[0];
    run.rssSeries = [...series, holding];
  }
  return run;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function prepareDatabase(): Promise<Client | undefined> {
  if (!DATABASE_URL) return undefined;
  const name = decodeURIComponent(new URL(DATABASE_URL).pathname.slice(1));
  if (!/bench|(^|_)ci($|_)/i.test(name) && process.env.BENCH_FORCE !== '1') {
    throw new Error(`refusing to empty database "${name}": use a database of its own (a name with "bench") or BENCH_FORCE=1`);
  }
  const db = new Client({ connectionString: DATABASE_URL });
  await db.connect();
  const tables = await db.query(`SELECT 1 FROM pg_tables WHERE tablename = 'messages'`);
  if (tables.rowCount) {
    await db.query(`TRUNCATE system_messages, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
  }
  return db;
}

const debug = (what: string) => process.env.BENCH_DEBUG && process.stderr.write(`[bench] ${what}\n`);

async function main(): Promise<void> {
  const started = new Date();
  const load = loadavg();
  const db = await prepareDatabase();
  debug('database ready');
  const imEnv: Record<string, string> = { PORT: '0', ADMIN_TOKEN, RATE_LIMIT_PER_SEC: '0', LOG_LEVEL: 'log', MAX_GROUP_MEMBERS: String(Math.max(2000, MEMBERS)) };
  if (DATABASE_URL) imEnv.DATABASE_URL = DATABASE_URL;
  else imEnv.DATA_DIR = mkdtempSync(join(tmpdir(), 'im-bench-data-'));
  const im = await startChild(['src/main.ts'], imEnv);
  debug(`IM server on ${im.port}`);
  const raw = await startChild(['bench/raw-server.ts'], { PORT: '0' });
  const runs: Record<'raw' | 'im', Run[]> = { raw: [], im: [] };
  // interrupted: the servers this run started go down with it
  const stopChildren = () => {
    im.process.kill('SIGTERM');
    raw.process.kill('SIGTERM');
  };
  process.once('SIGINT', () => (stopChildren(), process.exit(130)));
  process.once('SIGTERM', () => (stopChildren(), process.exit(143)));
  const common = ['--duration', String(DURATION), '--warmup', SMOKE ? '0.5' : '2'];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      // interleaved: each scenario runs against both targets back to back, the order alternating by round
      const targets: Array<['raw' | 'im', Child]> = round % 2 ? [['raw', raw], ['im', im]] : [['im', im], ['raw', raw]];
      const scenarios: string[][] = [
        ...WINDOWS.map((window) => ['--scenario', 'send', '--pairs', String(PAIRS), '--window', String(window)]),
        ['--scenario', 'fanout', '--members', String(MEMBERS), '--senders', '2', '--window', '2'],
        ['--scenario', 'connect', '--connections', String(CONNECTIONS), '--concurrency', '200', '--hold', '1'],
      ];
      for (const scenario of scenarios) {
        for (const [target, server] of targets) {
          const prefix = ['--prefix', `r${round}-${scenario[1]}${scenario[scenario.indexOf('--window') + 1] ?? ''}`];
          const run = await runLoad(target, server, target === 'im' ? db : undefined, [...common, ...scenario, ...prefix], round);
          runs[target].push(run);
          process.stderr.write(`round ${round} ${target} ${run.scenario} ${JSON.stringify(run.params)}: ${run.rate.toFixed(0)}/s p99 ${run.p99.toFixed(1)} ms\n`);
        }
      }
    }
  } finally {
    im.process.kill('SIGTERM');
    raw.process.kill('SIGTERM');
    await db?.end();
  }
  const report = { started: started.toISOString(), loadavg: load, loadavgAfter: loadavg(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memory: totalmem(), database: DATABASE_URL ? 'postgresql' : 'embedded', rounds: ROUNDS, duration: DURATION, runs };
  mkdirSync(join(OUT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(OUT, 'bench', 'results', 'latest.json'), JSON.stringify(report, null, 1));
  const markdown = summarize(report);
  writeFileSync(join(OUT, 'BENCHMARKS.md'), markdown + keptSections(join(ROOT, 'BENCHMARKS.md')));
  execFileSync(process.execPath, [join(ROOT, 'bench', 'plot.mjs'), join(OUT, 'bench', 'results', 'latest.json'), join(OUT, 'bench', 'plots')], { stdio: 'inherit' });
  console.log(markdown);
  if (SMOKE) console.log(`smoke output in ${OUT}`);
}

function key(run: Run): string {
  return `${run.scenario} ${Object.entries(run.params).map(([k, v]) => `${k} ${v}`).join(', ')}`;
}

function summarize(report: { started: string; loadavg: number[]; loadavgAfter: number[]; cpus: number; cpuModel?: string; memory: number; database: string; rounds: number; duration: number; runs: Record<'raw' | 'im', Run[]> }): string {
  const groups = new Map<string, { raw: Run[]; im: Run[] }>();
  for (const target of ['raw', 'im'] as const) {
    for (const run of report.runs[target]) {
      const k = key(run);
      if (!groups.has(k)) groups.set(k, { raw: [], im: [] });
      groups.get(k)![target].push(run);
    }
  }
  const f = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
  const rows: string[] = [];
  for (const [k, { raw, im }] of groups) {
    const m = (runs: Run[], pick: (run: Run) => number) => median(runs.map(pick));
    const ratios = im.map((run) => run.rate / (raw.find((other) => other.round === run.round)?.rate ?? NaN));
    const p99Ratios = im.map((run) => run.p99 / (raw.find((other) => other.round === run.round)?.p99 ?? NaN));
    const unit = im[0]?.scenario === 'fanout' ? 'deliveries/s' : im[0]?.scenario === 'connect' ? 'connects/s' : 'msg/s';
    rows.push(
      `| ${k} | ${f(m(im, (r) => r.rate))} ${unit} | ${f(m(raw, (r) => r.rate))} | **${f(median(ratios), 3)}** (${ratios.map((r) => f(r, 3)).join(', ')}) | ${f(m(im, (r) => r.p50), 1)} / ${f(m(im, (r) => r.p99), 1)} | ${f(m(raw, (r) => r.p50), 1)} / ${f(m(raw, (r) => r.p99), 1)} | ${f(median(p99Ratios), 2)} | ${f(m(im, (r) => r.serverCpuUsPerOp))} / ${f(m(im, (r) => r.dbCpuUsPerOp))} / ${f(m(im, (r) => r.loadCpuUsPerOp))} | ${f(m(raw, (r) => r.serverCpuUsPerOp))} / ${f(m(raw, (r) => r.loadCpuUsPerOp))} | ${im.reduce((s, r) => s + r.failed, 0)} |`,
    );
  }
  const rss = groups.get([...groups.keys()].find((k) => k.startsWith('connect')) ?? '');
  const rssLine = rss
    ? `RSS per open authenticated connection (server, median of rounds): IM ${f(median(rss.im.map((r) => r.rssPerConnection ?? NaN)))} B, raw ${f(median(rss.raw.map((r) => r.rssPerConnection ?? NaN)))} B, ratio ${f(median(rss.im.map((r) => r.rssPerConnection ?? NaN)) / median(rss.raw.map((r) => r.rssPerConnection ?? NaN)), 2)}.`
    : '';
  return `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts) on ${report.started}. ${report.rounds} interleaved rounds of ${report.duration} s per run; each row is the median of the rounds,
the ratio column is IM ÷ raw \`ws\` baseline measured in the same round (each round's ratio in brackets).

Machine: ${report.cpus} × ${report.cpuModel ?? 'CPU'}, ${(report.memory / 2 ** 30).toFixed(1)} GiB; database: ${report.database} on the same machine.
Load average at the start ${report.loadavg.map((l) => l.toFixed(2)).join(' ')}, at the end ${report.loadavgAfter.map((l) => l.toFixed(2)).join(' ')} (the machine is shared: absolute numbers are noisy, the ratios less so).

| scenario | IM server | raw \`ws\` | ratio IM/raw | IM p50 / p99 ms | raw p50 / p99 ms | p99 IM/raw | IM CPU µs/op server / database / load gen | raw CPU µs/op server / load gen | failed |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

${rssLine}

- **send**: \`pairs\` pairs of users, each side keeping \`window\` durable \`chat\` requests in flight; rate = sendResults 200/s, latency request → sendResult.
- **fanout**: one group of \`members\` members, all online; \`senders\` members keep \`window\` \`groupChat\` in flight; rate = pushes delivered/s, latency request → push.
- **connect**: a storm of \`connections\` authenticated connects, \`concurrency\` at a time; latency = time to the first frame (the sync frame); the connections are then held to read the server's RSS.
- CPU per operation: user+system time from /proc over the measured window — the server process, the PostgreSQL backends of its database (not the shared WAL writer and checkpointer), and the load generator.

Plots (bench/plots): throughput vs in-flight window (\`throughput-window.png\`), latency CDF of the sends (\`latency-cdf.png\`), server RSS vs open connections (\`rss-connections.png\`), connects/s (\`connects.png\`).

Rerun: \`DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_bench npm run bench\` (raw JSON in bench/results/latest.json). Against a deployed server: \`npx ts-node --transpile-only bench/load.ts --url wss://host --admin-token … --scenario send --duration 30\`.
`;
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});

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
