/**
 * Search benchmark (issue 15, `npm run bench:search`): 1,000,000 stored messages (English, Chinese and
 * Japanese text and file names, bench/search-corpus.ts) in 1,000 conversations; one user is in 200 of
 * them (100 one-to-one, 100 groups). Reports, from one run:
 * 1. p50/p99 of 100 `search` requests over WebSocket (25 each: common word, rare word, two-character
 *    CJK, narrowed to one group) against the bare SQL of the same searches (findCandidates over pg);
 * 2. a few worst cases (one letter, one very common CJK character);
 * 3. the 1:1 send benchmark (bench/load.ts) against two servers on the same database, one storing
 *    search lexemes (SEARCH_INDEX=true) and one not, in interleaved rounds: their ratio;
 * 4. with BENCH_DESIGNS=1, the designs not chosen on the same data: pg_trgm (GIN, ILIKE) and no index.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_search_bench npm run bench:search
 *   env: BENCH_RESEED=1 (seed again), BENCH_SEND_ROUNDS (6), BENCH_SEND_DURATION (s, 5), BENCH_DESIGNS=1,
 *        BENCH_PARTS (search,send: which parts to run)
 *
 * The database is emptied and seeded (kept between runs when already seeded). It must be a database of
 * its own: the script refuses a name without "bench" unless BENCH_FORCE=1.
 */
import 'reflect-metadata';
import { spawn } from 'child_process';
import { join } from 'path';
import { Client } from 'pg';
import { ensureBenchDatabase } from './bench-database';
import { requester } from './ws-requests';
import { procStat, Server as ServerProcess, startServer as startServerProcess } from './processes';
import { WebSocket } from 'ws';
import { TokenService } from '../src/auth/token.service';
import { loadConfig } from '../src/config/app-config';
import { findCandidates } from '../src/search/search-queries';
import { messageTokens, parseQuery } from '../src/search/tokenizer';
import { startServer } from '../src/server';
import { makeCorpus, RARE_CJK, RARE_WORD } from './search-corpus';

const ROOT = join(__dirname, '..');
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/im_search_bench';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const DIRECTS = 500;
const GROUPS = 500;
const PER_CONVERSATION = 1000; // 1,000 conversations × 1,000 = 1,000,000 messages
const HEAVY_DIRECTS = 100;
const HEAVY_GROUPS = 100;
const GROUP_MEMBERS = 20;
const OTHER_USERS = 1100;
const CORPUS = 20_000;
const HEAVY = 'search-heavy';
const WARMUP = 10;
const SEND_ROUNDS = Number(process.env.BENCH_SEND_ROUNDS ?? 6);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'search,send').split(','));
const SEND_DURATION = Number(process.env.BENCH_SEND_DURATION ?? 5);

async function seeded(db: Client): Promise<boolean> {
  if (process.env.BENCH_RESEED === '1') return false;
  const [row] = (await db.query(`SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM users WHERE app_user_id = $1) AS heavy`, [HEAVY])).rows;
  return Number(row.messages) === (DIRECTS + GROUPS) * PER_CONVERSATION && Number(row.heavy) === 1;
}

/** Set-based (generate_series); the corpus is tokenized by the server's own tokenizer, once per entry. */
async function seed(db: Client): Promise<void> {
  const started = Date.now();
  const base = Date.now() - 90 * 24 * 3600 * 1000;
  await db.query(`TRUNCATE system_messages, message_reactions, message_edits, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
  await db.query(`ALTER SEQUENCE msg_id_seq RESTART WITH 1`);
  await db.query(`DROP TABLE IF EXISTS bench_search_corpus`);
  await db.query(`CREATE TABLE bench_search_corpus (id int PRIMARY KEY, type smallint NOT NULL, content text NOT NULL, extra jsonb NOT NULL, tokens tsvector)`);
  const corpus = makeCorpus(CORPUS);
  for (let from = 0; from < corpus.length; from += 2000) {
    const slice = corpus.slice(from, from + 2000);
    const extras = slice.map((e) => (e.type === 8 ? JSON.stringify({ file_name: e.fileName, file_size: 1000, etag: `e${from}` }) : '{}'));
    await db.query(
      `INSERT INTO bench_search_corpus (id, type, content, extra, tokens)
       SELECT from_id + ord, type, content, extra::jsonb, array_to_tsvector(string_to_array(tokens, ' '))
       FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(type, content, extra, tokens, ord), (SELECT $5::int AS from_id) f`,
      [slice.map((e) => e.type), slice.map((e) => e.content), extras, slice.map((e, i) => messageTokens(e.type, e.content, extras[i])), from],
    );
  }
  // user 1 = the searching user; 2..OTHER_USERS+1 the others
  await db.query(
    `INSERT INTO users (app_user_id, nickname, head, created_at, updated_at)
     SELECT CASE WHEN i = 1 THEN $1 ELSE 'sb-' || i END, 'User ' || i, '', $2, $2 FROM generate_series(1, $3::int) AS i`,
    [HEAVY, base, OTHER_USERS + 1],
  );
  // one-to-one 1..DIRECTS (the first HEAVY_DIRECTS with user 1), groups DIRECTS+1..DIRECTS+GROUPS
  await db.query(
    `INSERT INTO conversations (kind, user_low, user_high)
     SELECT 1, CASE WHEN i <= ${HEAVY_DIRECTS} THEN 1 ELSE 1 + i END, 600 + i FROM generate_series(1, ${DIRECTS}) AS i`,
  );
  await db.query(`INSERT INTO conversations (kind) SELECT 2 FROM generate_series(1, ${GROUPS})`);
  const member = (k: string) => `2 + (((c.id - ${DIRECTS + 1}) * 7 + ${k}) % 1000)`;
  await db.query(`INSERT INTO groups (id, group_name, owner_id, created_at) SELECT c.id, 'Group ' || c.id, ${member('0')}, $1 FROM conversations c WHERE kind = 2`, [base]);
  await db.query(
    `INSERT INTO conversation_members (conversation_id, user_id, joined_at)
     SELECT id, user_low, $1::bigint FROM conversations WHERE kind = 1
     UNION ALL SELECT id, user_high, $1 FROM conversations WHERE kind = 1
     UNION ALL SELECT c.id, ${member('k')}, $1 FROM conversations c, generate_series(0, ${GROUP_MEMBERS - 1}) AS k WHERE c.kind = 2
     UNION ALL SELECT c.id, 1, $1 FROM conversations c WHERE c.kind = 2 AND c.id <= ${DIRECTS + HEAVY_GROUPS}`,
    [base],
  );
  console.log(`  corpus, users, conversations, members: ${Date.now() - started} ms`);

  // the index is built once at the end (faster than row by row); slices of seq, so msg ids interleave
  // across all conversations as real traffic would
  await db.query(`DROP INDEX IF EXISTS messages_search`);
  const slice = 100;
  for (let from = 1; from <= PER_CONVERSATION; from += slice) {
    await db.query(
      `INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at, search_tokens)
       SELECT nextval('msg_id_seq'), c.id, s,
              CASE WHEN c.kind = 1 THEN CASE WHEN s % 2 = 0 THEN c.user_low ELSE c.user_high END ELSE ${member('s % 20')} END,
              'b' || c.id || '-' || s, t.type, t.content, t.extra, $1::bigint + s * 60000 + c.id * 7, t.tokens
         FROM conversations c CROSS JOIN generate_series($2::int, $3::int) AS s
         JOIN bench_search_corpus t ON t.id = (hashint8(c.id * 100000 + s) & 2147483647) % ${CORPUS} + 1
        ORDER BY s, c.id`,
      [base, from, from + slice - 1],
    );
    process.stdout.write(`  messages: ${(from + slice - 1) * (DIRECTS + GROUPS)}\r`);
  }
  console.log(`\n  messages inserted: ${Date.now() - started} ms`);
  await db.query(
    `UPDATE conversations c SET last_seq = m.seq, last_msg_id = m.id, last_time = m.created_at
       FROM messages m WHERE m.conversation_id = c.id AND m.seq = ${PER_CONVERSATION}`,
  );
  await db.query(`UPDATE conversation_members SET read_seq = ${PER_CONVERSATION}`);
  const indexStarted = Date.now();
  await db.query(`SET maintenance_work_mem = '256MB'`);
  await db.query(`CREATE INDEX messages_search ON messages USING gin (search_tokens)`);
  console.log(`  GIN index built in ${Date.now() - indexStarted} ms`);
  await db.query(`VACUUM ANALYZE`);
  console.log(`  seeded in ${Date.now() - started} ms`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

interface Search {
  kind: string;
  query: string;
  group_id?: string;
}

/** The 100 searches: 25 of each kind, interleaved. */
function searches(): Search[] {
  const common = ['the', 'meeting', 'time', 'project', 'please'];
  const rare = [RARE_WORD, 'xylo', RARE_CJK, `${RARE_WORD} friday`, 'xylophone office'];
  const cjk = ['会议', '東京', '价格', '確認', '北京'];
  const narrowed = ['the', 'meeting', '会议', '東京', 'report'];
  const list: Search[] = [];
  for (let i = 0; i < 25; i++) {
    list.push({ kind: 'common word', query: common[i % common.length] });
    list.push({ kind: 'rare word', query: rare[i % rare.length] });
    list.push({ kind: 'two-character CJK', query: cjk[i % cjk.length] });
    list.push({ kind: 'narrowed to one group', query: narrowed[i % narrowed.length], group_id: String(DIRECTS + 1 + ((i * 13) % HEAVY_GROUPS)) });
  }
  return list;
}

function openSocket(port: number, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/?token=${encodeURIComponent(token)}`);
    socket.once('error', reject);
    socket.once('message', () => resolve(socket)); // the sync frame
  });
}

/** The same statements the service runs (findCandidates), straight over a pg connection. */
async function bareSql(db: Client, search: Search): Promise<number> {
  const parsed = parseQuery(search.query)!;
  const query = async (sql: string, params?: unknown[]) => (await db.query(sql, params as any[])).rows;
  const queryable = {
    query,
    async transaction<T>(work: (tx: { query: typeof query }) => Promise<T>): Promise<T> {
      await db.query('BEGIN');
      try {
        return await work({ query });
      } finally {
        await db.query('COMMIT');
      }
    },
  };
  const started = performance.now();
  await findCandidates(queryable, { tsquery: parsed.tsquery, userId: 1, conversationId: search.group_id === undefined ? undefined : Number(search.group_id) }, Number.MAX_SAFE_INTEGER, 21);
  return performance.now() - started;
}

async function searchLatencies(port: number, token: string, db: Client, label: string): Promise<void> {
  const socket = await openSocket(port, token);
  const ask = requester(socket, 'search');
  const list = searches();
  const ws: Record<string, number[]> = {};
  const bare: Record<string, number[]> = {};
  const found: Record<string, number[]> = {};
  for (let i = 0; i < WARMUP; i++) await ask({ query: list[i].query, limit: 20 });
  for (const search of list) {
    const started = performance.now();
    const reply = await ask({ query: search.query, limit: 20, ...(search.group_id ? { group_id: search.group_id } : {}) });
    const ms = performance.now() - started;
    if (reply.code !== 200) throw new Error(`search ${JSON.stringify(search)}: ${reply.code} ${reply.msg}`);
    (ws[search.kind] ??= []).push(ms);
    (found[search.kind] ??= []).push(JSON.parse(reply.data).messages.length);
    (bare[search.kind] ??= []).push(await bareSql(db, search));
  }
  console.log(`\n100 searches (limit 20) by ${HEAVY} (in ${HEAVY_DIRECTS + HEAVY_GROUPS} conversations), ${label}, after ${WARMUP} warm-up:`);
  console.log('| searches | results per page (min–max) | WebSocket p50 / p99 | bare SQL p50 / p99 | p50 ratio |');
  console.log('|---|---|---|---|---|');
  const all = { ws: [] as number[], bare: [] as number[] };
  for (const kind of Object.keys(ws)) {
    all.ws.push(...ws[kind]);
    all.bare.push(...bare[kind]);
    console.log(
      `| ${kind} (${ws[kind].length}) | ${Math.min(...found[kind])}–${Math.max(...found[kind])} | ${fmt(percentile(ws[kind], 50))} / ${fmt(percentile(ws[kind], 99))} | ${fmt(percentile(bare[kind], 50))} / ${fmt(percentile(bare[kind], 99))} | ${(percentile(ws[kind], 50) / percentile(bare[kind], 50)).toFixed(2)} |`,
    );
  }
  console.log(`| all (100) | | ${fmt(percentile(all.ws, 50))} / ${fmt(percentile(all.ws, 99))} | ${fmt(percentile(all.bare, 50))} / ${fmt(percentile(all.bare, 99))} | ${(percentile(all.ws, 50) / percentile(all.bare, 50)).toFixed(2)} |`);

  console.log('\nworst cases (10 each, not in the 100):');
  for (const query of ['a', '的', 'the to', '会']) {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      await ask({ query, limit: 20 });
      times.push(performance.now() - started);
    }
    console.log(`  ${JSON.stringify(query)}: p50 ${fmt(percentile(times, 50))}, max ${fmt(Math.max(...times))}`);
  }
  socket.close();
}

/** CPU of every backend of the database by pid (only the measured server is loaded during a run). */
async function backendCpu(db: Client): Promise<Map<number, number>> {
  const { rows } = await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  return new Map(rows.map((row) => [row.pid, procStat(row.pid).cpuUs]));
}

interface SendResult {
  rate: number;
  p99: number;
  /** CPU µs per stored message: the server process, and the database backends */
  serverUs: number;
  dbUs: number;
}

async function sendRun(server: ServerProcess, db: Client, prefix: string): Promise<SendResult> {
  const args = ['bench/load.ts', '--url', `ws://127.0.0.1:${server.port}`, '--admin-token', ADMIN_TOKEN, '--json', '--scenario', 'send', '--pairs', '50', '--window', '4'];
  args.push('--duration', String(SEND_DURATION), '--warmup', '1', '--prefix', prefix);
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = server.process.pid!;
  let out = '';
  let startServer = 0;
  let endServer = 0;
  let startDb = Promise.resolve(new Map<number, number>());
  let endDb = Promise.resolve(new Map<number, number>());
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (/^MARK start$/m.test(out) && !startServer) {
      startServer = procStat(pid).cpuUs;
      startDb = backendCpu(db);
    }
    if (/^MARK end$/m.test(out) && !endServer) {
      endServer = procStat(pid).cpuUs;
      endDb = backendCpu(db);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`load generator exited with ${code}`);
  const result = JSON.parse(line.slice(7));
  const [before, after] = [await startDb, await endDb];
  let dbUs = 0;
  for (const [backend, cpu] of after) dbUs += cpu - (before.get(backend) ?? 0);
  const ops = Math.max(1, result.operations);
  return { rate: result.rate, p99: result.p99, serverUs: (endServer - startServer) / ops, dbUs: dbUs / ops };
}

/**
 * The 1:1 send benchmark with and without search lexemes, interleaved rounds, on the seeded database.
 * Throughput swings with the machine's load; the CPU per message (server + database) is the steadier cost.
 */
async function sendCost(db: Client): Promise<void> {
  const env = { DATABASE_URL, PORT: '0', LOG_LEVEL: 'log', ADMIN_TOKEN, RATE_LIMIT_PER_SEC: '0' };
  const withIndex = await startServerProcess(['src/main.ts'], { ...env, SEARCH_INDEX: 'true' });
  const without = await startServerProcess(['src/main.ts'], { ...env, SEARCH_INDEX: 'false' });
  // interrupted: the servers this run started go down with it
  const stop = (code: number) => {
    withIndex.process.kill('SIGTERM');
    without.process.kill('SIGTERM');
    process.exit(code);
  };
  process.once('SIGINT', () => stop(130));
  process.once('SIGTERM', () => stop(143));
  try {
    const runs: Record<'with' | 'without', SendResult[]> = { with: [], without: [] };
    const rateRatios: number[] = [];
    const cpuRatios: number[] = [];
    for (let round = 1; round <= SEND_ROUNDS; round++) {
      const order: Array<['with' | 'without', ServerProcess]> = round % 2 ? [['with', withIndex], ['without', without]] : [['without', without], ['with', withIndex]];
      const results: Partial<Record<'with' | 'without', SendResult>> = {};
      for (const [name, server] of order) {
        const result = await sendRun(server, db, `sr${round}${name}-${Date.now().toString(36)}`);
        runs[name].push(result);
        results[name] = result;
      }
      rateRatios.push(results.with!.rate / results.without!.rate);
      cpuRatios.push((results.with!.serverUs + results.with!.dbUs) / (results.without!.serverUs + results.without!.dbUs));
    }
    const median = (v: number[]) => percentile(v, 50);
    const row = (name: 'with' | 'without') => {
      const r = runs[name];
      return `${median(r.map((x) => x.rate)).toFixed(0)} msg/s (rounds ${r.map((x) => x.rate.toFixed(0)).join(', ')}), p99 ${fmt(median(r.map((x) => x.p99)))}, CPU per message ${median(r.map((x) => x.serverUs)).toFixed(0)} µs server + ${median(r.map((x) => x.dbUs)).toFixed(0)} µs database`;
    };
    console.log(`\n1:1 send (50 pairs, 4 in flight, ${SEND_ROUNDS} interleaved rounds of ${SEND_DURATION} s), same database (1M messages, GIN index present):`);
    console.log(`  SEARCH_INDEX=true   ${row('with')}`);
    console.log(`  SEARCH_INDEX=false  ${row('without')}`);
    console.log(`  with / without, throughput: median ratio ${median(rateRatios).toFixed(3)} (rounds ${rateRatios.map((r) => r.toFixed(3)).join(', ')})`);
    console.log(`  with / without, CPU per message: median ratio ${median(cpuRatios).toFixed(3)} (rounds ${cpuRatios.map((r) => r.toFixed(3)).join(', ')})`);
  } finally {
    withIndex.process.kill('SIGTERM');
    without.process.kill('SIGTERM');
  }
}

/** Designs not chosen, on the same data and user (PostgreSQL only): pg_trgm, and no search index at all. */
async function designs(db: Client): Promise<void> {
  const heavyConversations = `SELECT conversation_id FROM conversation_members WHERE user_id = 1`;
  const time = async (sql: string, params: unknown[]) => {
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      await db.query(sql, params);
      if (i > 0) times.push(performance.now() - started);
    }
    return `p50 ${fmt(percentile(times, 50))}, max ${fmt(Math.max(...times))}`;
  };
  const likeSql = (op: string) =>
    `SELECT m.id FROM messages m WHERE m.conversation_id IN (${heavyConversations}) AND m.type = 1 AND m.content ${op} $1 ORDER BY m.id DESC LIMIT 21`;
  console.log('\ndesigns not chosen (same data, same user, 5 runs each after one warm-up):');
  console.log('  no search index (conversation filter, then a scan of the text):');
  for (const [label, pattern, op] of [
    ['common word "meeting" (~* word boundary)', '\\mmeeting', '~*'],
    ['rare word "xylophone"', '\\mxylophone', '~*'],
    ['two-character CJK "東京" (LIKE)', '%東京%', 'LIKE'],
  ]) {
    console.log(`    ${label}: ${await time(likeSql(op), [pattern])}`);
  }
  const [{ available }] = (await db.query(`SELECT count(*) > 0 AS available FROM pg_available_extensions WHERE name = 'pg_trgm'`)).rows;
  if (!available) {
    console.log('  pg_trgm: not installed on this server');
    return;
  }
  await db.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
  const started = Date.now();
  await db.query(`SET maintenance_work_mem = '256MB'`);
  await db.query(`CREATE INDEX IF NOT EXISTS bench_messages_trgm ON messages USING gin (content gin_trgm_ops)`);
  const [{ size }] = (await db.query(`SELECT pg_size_pretty(pg_relation_size('bench_messages_trgm')) AS size`)).rows;
  console.log(`  pg_trgm GIN on content: built in ${Date.now() - started} ms, ${size}`);
  for (const [label, pattern, op] of [
    ['common word "meeting" (ILIKE)', '%meeting%', 'ILIKE'],
    ['rare word "xylophone" (ILIKE)', '%xylophone%', 'ILIKE'],
    ['two-character CJK "東京" (LIKE: no trigram in 2 characters)', '%東京%', 'LIKE'],
    ['three-character CJK "打ち合" (LIKE)', '%打ち合%', 'LIKE'],
  ]) {
    console.log(`    ${label}: ${await time(likeSql(op), [pattern])}`);
  }
  await db.query(`DROP INDEX bench_messages_trgm`);
}

async function main(): Promise<void> {
  await ensureBenchDatabase(DATABASE_URL);
  const db = new Client({ connectionString: DATABASE_URL });
  await db.connect();
  const server = await startServer(loadConfig({ DATABASE_URL, PORT: '0', LOG_LEVEL: 'error', ADMIN_TOKEN, RATE_LIMIT_PER_SEC: '0' }));
  try {
    if (await seeded(db)) console.log('reusing the seeded database (BENCH_RESEED=1 to seed again)');
    else {
      console.log(`seeding ${DIRECTS + GROUPS} conversations × ${PER_CONVERSATION} messages…`);
      await seed(db);
    }
    const [info] = (
      await db.query(
        `SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM conversation_members WHERE user_id = 1) AS conversations,
                pg_size_pretty(pg_relation_size('messages_search')) AS index_size, pg_size_pretty(pg_relation_size('messages')) AS table_size,
                (SELECT count(*) FROM messages m JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = 1) AS readable`,
      )
    ).rows;
    console.log(`database: ${info.messages} messages (table ${info.table_size}, search index ${info.index_size}); ${HEAVY} is in ${info.conversations} conversations (${info.readable} messages)`);
    const { token } = server.app.get(TokenService).issue(1, HEAVY, 3600);
    if (PARTS.has('search')) await searchLatencies(server.port, token, db, 'on the seeded database');
    if (PARTS.has('send')) {
      await sendCost(db);
      // the send benchmark stored its messages last, in conversations the user is not in: the newest
      // part of the table holds nothing for them, which a plan reading messages newest-first pays for
      const [{ newer }] = (await db.query(`SELECT count(*) AS newer FROM messages WHERE id > (SELECT max(id) FROM messages WHERE conversation_id <= ${DIRECTS + GROUPS})`)).rows;
      if (PARTS.has('search')) await searchLatencies(server.port, token, db, `again, after the send benchmark stored ${newer} newer messages elsewhere`);
    }
  } finally {
    await server.close();
  }
  try {
    if (process.env.BENCH_DESIGNS === '1') await designs(db);
  } finally {
    await db.end();
  }
}

void main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
