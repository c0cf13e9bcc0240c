/**
 * Sync benchmark (issue 5): one user with 1,000 conversations (700 one-to-one, 300 groups) over
 * 1,000,000 stored messages; 100 reconnects, each answered by the type-19 frame built on the server.
 * Issue 12 adds the conversation list: with 10 of the 1,000 pinned, 100 `conversations` pages of 100
 * (server time vs the bare CONVERSATIONS_SQL in the same run) and a walk of the whole list.
 * Issue 13 adds the message lifecycle: 1% of the messages are recalled and 5% mention someone (group
 * messages: the heavy user, another member, or @all), so `count` subtracts recalled ones and
 * `mention_count` is counted; the bare UNREAD_SQL and the pre-issue-13 query (last_seq - read_seq,
 * no lifecycle) are timed from the bench's own connection in the same run.
 * Reports, from the same run: the server-side build time (query + mapping + encoding), the SQL query
 * time alone, their ratio, and what the client saw (open → sync frame).
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_bench npx ts-node bench/sync-bench.ts
 *
 * The database is emptied and seeded (kept between runs when already seeded; BENCH_RESEED=1 forces
 * a new seed). It must be a database of its own: the script refuses a name without "bench" unless
 * BENCH_FORCE=1.
 */
import 'reflect-metadata';
import { Client } from 'pg';
import { ensureBenchDatabase } from './bench-database';
import { requester } from './ws-requests';
import { WebSocket } from 'ws';
import { loadConfig } from '../src/config/app-config';
import { startServer } from '../src/server';
import { TokenService } from '../src/auth/token.service';
import { SyncService, UNREAD_SQL } from '../src/sync/sync.service';
import { CONVERSATIONS_SQL, ConversationsService } from '../src/sync/conversations.service';
import { SyncTimings } from '../src/sync/sync.types';
import { SYNC_SEED_FULL, isSyncSeeded, seedSync } from './sync-seed';

/** UNREAD_SQL as it was before issue 13 (no recalled/mention counting): the baseline of the same run. */
const UNREAD_SQL_BEFORE_LIFECYCLE = `
  SELECT c.kind, c.id, c.last_seq - m.read_seq AS count, c.last_msg_id, c.last_time, msg.type,
         CASE WHEN msg.type = 1 THEN left(msg.content, 100) END AS preview,
         CASE WHEN msg.type = 8 THEN msg.extra->>'file_name' END AS file_name,
         u.app_user_id, u.nickname, u.head, g.group_name, g.cover, m.muted, m.pinned
    FROM conversation_members m
    JOIN conversations c ON c.id = m.conversation_id
    JOIN messages msg ON msg.id = c.last_msg_id
    LEFT JOIN users u ON c.kind = 1 AND u.id = CASE WHEN c.user_low = m.user_id THEN c.user_high ELSE c.user_low END
    LEFT JOIN groups g ON c.kind = 2 AND g.id = c.id
   WHERE m.user_id = $1 AND c.last_seq > m.read_seq
     AND ((c.kind = 1 AND u.id IS NOT NULL) OR (c.kind = 2 AND g.id IS NOT NULL AND g.dissolved_at IS NULL))
   ORDER BY c.last_time DESC, c.last_msg_id DESC`;

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/im_bench';
// 700 + 300 conversations × 1,000 = 1,000,000 messages (the seed is bench/sync-seed.ts, shared with bench/run.ts)
const SIZE = SYNC_SEED_FULL;
const { directs: DIRECTS, groups: GROUPS, perConversation: PER_CONVERSATION } = SIZE;
const RECONNECTS = Number(process.env.BENCH_RECONNECTS ?? 100);
const WARMUP = 10;
const HEAVY = SIZE.heavy;

async function seeded(db: Client): Promise<boolean> {
  if (process.env.BENCH_RESEED === '1') return false;
  return isSyncSeeded(db, SIZE);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

function openAndWaitSync(port: number, token: string): Promise<{ clientMs: number; bytes: number; data: any }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = new WebSocket(`ws://127.0.0.1:${port}/?token=${encodeURIComponent(token)}`);
    socket.once('error', reject);
    socket.once('message', (raw) => {
      const clientMs = performance.now() - started;
      const text = raw.toString();
      const frame = JSON.parse(text);
      socket.once('close', () => resolve({ clientMs, bytes: text.length, data: JSON.parse(frame.data) }));
      socket.close();
    });
  });
}

/** The conversation list of the 1,000-conversation user: first pages of 100 and a walk of the whole list. */
async function conversationList(server: Awaited<ReturnType<typeof startServer>>, db: Client, token: string): Promise<void> {
  await db.query(`UPDATE conversation_members SET pinned = (conversation_id % 100 = 7) WHERE user_id = 1`);
  const serverMs: number[] = [];
  const service = server.app.get(ConversationsService) as any;
  const original = service.list.bind(service);
  service.list = async (...args: unknown[]) => {
    const started = performance.now();
    try {
      return await original(...args);
    } finally {
      serverMs.push(performance.now() - started);
    }
  };
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/?token=${encodeURIComponent(token)}`);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const ask = requester(socket, 'conversations');
  const bare: number[] = [];
  const client: number[] = [];
  let first: any;
  for (let i = 0; i < WARMUP + RECONNECTS; i++) {
    const started = performance.now();
    first = JSON.parse((await ask({ limit: 100 })).data);
    const clientMs = performance.now() - started;
    const bareStarted = performance.now();
    await db.query(CONVERSATIONS_SQL, [1, null, 101]);
    const bareMs = performance.now() - bareStarted;
    if (i >= WARMUP) {
      client.push(clientMs);
      bare.push(bareMs);
    }
  }
  const measured = serverMs.slice(WARMUP);
  const pinned = first.conversations.filter((c: any) => c.pinned).length;
  console.log(`
conversation list, first page (limit 100): ${first.conversations.length} items (${pinned} pinned), has_more ${first.has_more}; ${RECONNECTS} requests after ${WARMUP} warm-up:`);
  console.log(`  server (ConversationsService.list)   p50 ${fmt(percentile(measured, 50))}  p99 ${fmt(percentile(measured, 99))}`);
  console.log(`  bare CONVERSATIONS_SQL (pg)          p50 ${fmt(percentile(bare, 50))}  p99 ${fmt(percentile(bare, 99))}`);
  console.log(`  client request → reply               p50 ${fmt(percentile(client, 50))}  p99 ${fmt(percentile(client, 99))}`);
  console.log(`  server / bare: p50 ${(percentile(measured, 50) / percentile(bare, 50)).toFixed(2)}`);
  // the whole list, page by page, as a new device would load it
  const walkStarted = performance.now();
  let pages = 0;
  let items = 0;
  let page = first;
  let zero = 0;
  for (;;) {
    pages++;
    items += page.conversations.length;
    zero += page.conversations.filter((c: any) => c.count === 0).length;
    const last = page.conversations.filter((c: any) => !c.pinned).pop();
    if (!page.has_more || !last) break;
    page = JSON.parse((await ask({ limit: 100, before_time: last.time })).data);
  }
  console.log(`  whole list: ${items} conversations (${zero} with count 0) in ${pages} pages, ${fmt(performance.now() - walkStarted)} (client side, after the first page)`);
  socket.close();
}

async function main(): Promise<void> {
  await ensureBenchDatabase(DATABASE_URL);
  const db = new Client({ connectionString: DATABASE_URL });
  await db.connect();
  const server = await startServer(
    loadConfig({ DATABASE_URL, PORT: '0', LOG_LEVEL: 'error', ADMIN_TOKEN: 'bench-admin-token-0123456789', RATE_LIMIT_PER_SEC: '0' }),
  );
  try {
    if (await seeded(db)) console.log('reusing the seeded database (BENCH_RESEED=1 to seed again)');
    else {
      console.log(`seeding ${DIRECTS + GROUPS} conversations × ${PER_CONVERSATION} messages…`);
      await seedSync(db, SIZE, (line) => console.log(line));
    }
    const [counts] = (await db.query(`SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM conversation_members WHERE user_id = 1) AS conversations`)).rows;
    console.log(`database: ${counts.messages} messages; ${HEAVY} is in ${counts.conversations} conversations`);

    const timings: SyncTimings[] = [];
    server.app.get(SyncService).onSyncBuilt((t) => timings.push(t));
    const { token } = await server.app.get(TokenService).issue(1, HEAVY, 3600);

    const clientMs: number[] = [];
    const bareMs: number[] = [];
    const beforeMs: number[] = [];
    let sample: { bytes: number; data: any } | undefined;
    for (let i = 0; i < WARMUP + RECONNECTS; i++) {
      const result = await openAndWaitSync(server.port, token);
      // the same query from the bench's own connection, and the query as it was before issue 13
      let started = performance.now();
      await db.query(UNREAD_SQL, [1]);
      const bare = performance.now() - started;
      started = performance.now();
      await db.query(UNREAD_SQL_BEFORE_LIFECYCLE, [1]);
      const before = performance.now() - started;
      if (i >= WARMUP) {
        clientMs.push(result.clientMs);
        bareMs.push(bare);
        beforeMs.push(before);
      }
      sample = result;
    }
    const measured = timings.slice(WARMUP);
    const build = measured.map((t) => t.buildMs);
    const query = measured.map((t) => t.queryMs);
    const rest = measured.map((t) => t.buildMs - t.queryMs);
    const extra = sample!.data.extra;
    console.log(`\nsync frame: ${extra.friendList.length} friends + ${extra.groupList.length} groups with unread, ${(sample!.bytes / 1024).toFixed(0)} KiB`);
    console.log(`${RECONNECTS} reconnects (after ${WARMUP} warm-up):`);
    console.log(`  server build (query + mapping + encoding)  p50 ${fmt(percentile(build, 50))}  p99 ${fmt(percentile(build, 99))}`);
    console.log(`  SQL query alone (pool round trip)          p50 ${fmt(percentile(query, 50))}  p99 ${fmt(percentile(query, 99))}`);
    console.log(`  mapping + encoding                         p50 ${fmt(percentile(rest, 50))}  p99 ${fmt(percentile(rest, 99))}`);
    console.log(`  client: socket open → sync frame           p50 ${fmt(percentile(clientMs, 50))}  p99 ${fmt(percentile(clientMs, 99))}`);
    const ratio = query.reduce((a, b) => a + b, 0) / build.reduce((a, b) => a + b, 0);
    console.log(`  bare UNREAD_SQL (bench connection)        p50 ${fmt(percentile(bareMs, 50))}  p99 ${fmt(percentile(bareMs, 99))}`);
    console.log(`  pre-issue-13 query (no recall/mentions)   p50 ${fmt(percentile(beforeMs, 50))}  p99 ${fmt(percentile(beforeMs, 99))}`);
    console.log(`  server build / bare query: p50 ${(percentile(build, 50) / percentile(bareMs, 50)).toFixed(2)}, p99 ${(percentile(build, 99) / percentile(bareMs, 99)).toFixed(2)}`);
    console.log(`  bare query / pre-issue-13 query: p50 ${(percentile(bareMs, 50) / percentile(beforeMs, 50)).toFixed(2)}, p99 ${(percentile(bareMs, 99) / percentile(beforeMs, 99)).toFixed(2)}`);
    const mentioned = [...extra.friendList, ...extra.groupList].reduce((sum: number, item: any) => sum + item.mention_count, 0);
    const [life] = (await db.query(`SELECT count(*) FILTER (WHERE recalled_at IS NOT NULL) AS recalled, count(*) FILTER (WHERE mention_all OR mention_ids IS NOT NULL) AS mentioning FROM messages`)).rows;
    console.log(`  lifecycle data: ${life.recalled} recalled, ${life.mentioning} mentioning messages; the heavy user's sync shows ${mentioned} unread mentions`);
    console.log(`  query / build ratio: p50 ${(percentile(query, 50) / percentile(build, 50)).toFixed(2)}, overall ${ratio.toFixed(2)}`);


    // PostgreSQL's own execution time of the same query, for reference (no network, no parsing).
    const explain = (await db.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${UNREAD_SQL}`, [1])).rows[0]['QUERY PLAN'][0];
    console.log(`  EXPLAIN ANALYZE of the query: execution ${fmt(explain['Execution Time'])}, planning ${fmt(explain['Planning Time'])}`);

    await conversationList(server, db, token);
  } finally {
    await server.close();
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
