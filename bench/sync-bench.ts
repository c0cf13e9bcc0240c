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
import { WebSocket } from 'ws';
import { loadConfig } from '../src/config/app-config';
import { startServer } from '../src/server';
import { TokenService } from '../src/auth/token.service';
import { SyncService, UNREAD_SQL } from '../src/sync/sync.service';
import { CONVERSATIONS_SQL, ConversationsService } from '../src/sync/conversations.service';
import { SyncTimings } from '../src/sync/sync.types';

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
const DIRECTS = 700;
const GROUPS = 300;
const PER_CONVERSATION = 1000; // 1,000 conversations × 1,000 = 1,000,000 messages
const GROUP_EXTRA_MEMBERS = 50;
const RECONNECTS = Number(process.env.BENCH_RECONNECTS ?? 100);
const WARMUP = 10;
const HEAVY = 'bench-heavy';

async function ensureDatabase(): Promise<void> {
  const url = new URL(DATABASE_URL);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/bench/i.test(name) && process.env.BENCH_FORCE !== '1') {
    throw new Error(`refusing to empty database "${name}": use a database of its own (name containing "bench") or BENCH_FORCE=1`);
  }
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  await admin.end();
}

async function seeded(db: Client): Promise<boolean> {
  if (process.env.BENCH_RESEED === '1') return false;
  const [row] = (
    await db.query(
      `SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM users WHERE app_user_id = $1) AS heavy,
              EXISTS (SELECT 1 FROM messages WHERE recalled_at IS NOT NULL) AS lifecycle`,
      [HEAVY],
    )
  ).rows;
  return Number(row.messages) === (DIRECTS + GROUPS) * PER_CONVERSATION && Number(row.heavy) === 1 && row.lifecycle;
}

/** Everything set-based (generate_series), following the server's conventions for seq, last_* and read positions. */
async function seed(db: Client): Promise<void> {
  const started = Date.now();
  const base = Date.now() - 90 * 24 * 3600 * 1000;
  await db.query(`TRUNCATE system_messages, message_reactions, message_edits, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
  await db.query(`ALTER SEQUENCE msg_id_seq RESTART WITH 1`);
  // user 1 = the heavy user; 2..701 = peers; 702.. = group members
  await db.query(
    `INSERT INTO users (app_user_id, nickname, head, created_at, updated_at)
     SELECT CASE WHEN i = 1 THEN $1 ELSE 'bench-user-' || i END, 'User ' || i, 'https://cdn.example.com/h/' || i || '.jpg', $2, $2
       FROM generate_series(1, $3::int) AS i`,
    [HEAVY, base, 1 + DIRECTS + GROUP_EXTRA_MEMBERS],
  );
  await db.query(`INSERT INTO conversations (kind, user_low, user_high) SELECT 1, 1, 1 + i FROM generate_series(1, $1::int) AS i`, [DIRECTS]);
  await db.query(`INSERT INTO conversations (kind) SELECT 2 FROM generate_series(1, $1::int)`, [GROUPS]);
  await db.query(
    `INSERT INTO groups (id, group_name, cover, owner_id, created_at)
     SELECT id, 'Group ' || id, 'https://cdn.example.com/g/' || id || '.jpg', ${2 + DIRECTS}, $1 FROM conversations WHERE kind = 2`,
    [base],
  );
  await db.query(
    `INSERT INTO conversation_members (conversation_id, user_id, joined_at)
     SELECT id, user_low, $1::bigint FROM conversations WHERE kind = 1
     UNION ALL SELECT id, user_high, $1 FROM conversations WHERE kind = 1
     UNION ALL SELECT c.id, u, $1 FROM conversations c, generate_series(1, 1) AS u WHERE c.kind = 2
     UNION ALL SELECT c.id, u, $1 FROM conversations c, generate_series(${2 + DIRECTS}, ${1 + DIRECTS + GROUP_EXTRA_MEMBERS}) AS u WHERE c.kind = 2`,
    [base],
  );
  console.log(`  users, conversations, members: ${Date.now() - started} ms`);

  // Messages: the heavy user writes seq ≡ 3 (mod 10) up to 893, the others the rest; types cycle 1..8.
  // Inserted in slices of 100 conversations (one statement each), interleaved in time like real traffic.
  const slice = 100;
  for (let from = 1; from <= DIRECTS + GROUPS; from += slice) {
    await db.query(
      `INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at, recalled_at, mention_ids, mention_all)
       SELECT id, conversation_id, seq, sender_id, nonce, type,
              CASE WHEN recalled THEN '' ELSE content END, CASE WHEN recalled THEN '{}'::jsonb ELSE extra END, created_at,
              CASE WHEN recalled THEN created_at + 30000 END,
              CASE WHEN mentions AND NOT recalled AND seq % 10 <> 1 THEN CASE WHEN seq % 2 = 0 THEN ARRAY[1, ${2 + DIRECTS} + (seq % ${GROUP_EXTRA_MEMBERS})] ELSE ARRAY[${2 + DIRECTS} + ((seq + 1) % ${GROUP_EXTRA_MEMBERS})] END END,
              mentions AND NOT recalled AND seq % 10 = 1
       FROM (
       -- 1% recalled (any conversation); 5% of all messages mention: a sixth of the group messages
       SELECT nextval('msg_id_seq') AS id, c.id AS conversation_id, s AS seq, (s * 7 + c.id) % 100 = 0 AS recalled,
              c.kind = 2 AND (s + c.id * 3) % 6 = 1 AS mentions,
              CASE WHEN s % 10 = 3 AND s <= 893 THEN 1
                   WHEN c.kind = 1 THEN c.user_high
                   ELSE ${2 + DIRECTS} + (s % ${GROUP_EXTRA_MEMBERS}) END AS sender_id,
              'b' || c.id || '-' || s AS nonce,
              ((s + c.id) % 8) + 1 AS type,
              CASE WHEN ((s + c.id) % 8) + 1 = 1 THEN repeat('message text ', 1 + s % 20) ELSE '' END AS content,
              CASE ((s + c.id) % 8) + 1
                WHEN 8 THEN jsonb_build_object('file_name', 'file-' || s || '.pdf', 'file_size', s, 'etag', 'e' || s)
                WHEN 3 THEN jsonb_build_object('url', 'https://cdn.example.com/i.jpg', 'width', 800, 'height', 600, 'is_original', 2)
                ELSE '{}'::jsonb END AS extra,
              $1::bigint + s * 60000 + c.id * 7 AS created_at
         FROM conversations c, generate_series(1, ${PER_CONVERSATION}) AS s
        WHERE c.id BETWEEN $2 AND $3
        ORDER BY s, c.id) AS x`,
      [base, from, from + slice - 1],
    );
    process.stdout.write(`  messages: ${Math.min(from + slice - 1, DIRECTS + GROUPS) * PER_CONVERSATION}\r`);
  }
  console.log(`\n  messages inserted: ${Date.now() - started} ms`);
  await db.query(
    `UPDATE conversations c SET last_seq = m.seq, last_msg_id = m.id, last_time = m.created_at
       FROM messages m WHERE m.conversation_id = c.id AND m.seq = ${PER_CONVERSATION}`,
  );
  // Read positions: every sender at least at their own last message; the heavy user somewhere
  // between 893 and 1000 (a fifth fully read), so about 800 conversations have unread messages.
  await db.query(
    `UPDATE conversation_members cm SET read_seq = x.seq FROM
       (SELECT conversation_id, sender_id, max(seq) AS seq FROM messages GROUP BY 1, 2) AS x
      WHERE cm.conversation_id = x.conversation_id AND cm.user_id = x.sender_id`,
  );
  await db.query(
    `UPDATE conversation_members SET read_seq = CASE WHEN conversation_id % 5 = 0 THEN ${PER_CONVERSATION} ELSE 893 + (conversation_id * 37) % 107 END
      WHERE user_id = 1`,
  );
  await db.query(`VACUUM ANALYZE`);
  console.log(`  seeded in ${Date.now() - started} ms`);
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
  let counter = 0;
  const ask = (fields: Record<string, unknown>) =>
    new Promise<any>((resolve) => {
      const nonce = `cl-${++counter}`;
      const listener = (raw: unknown) => {
        const frame = JSON.parse(String(raw));
        if (frame.nonce !== nonce) return;
        socket.off('message', listener);
        resolve(frame);
      };
      socket.on('message', listener);
      socket.send(JSON.stringify({ action: 'conversations', nonce, ...fields }));
    });
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
  await ensureDatabase();
  const db = new Client({ connectionString: DATABASE_URL });
  await db.connect();
  const server = await startServer(
    loadConfig({ DATABASE_URL, PORT: '0', LOG_LEVEL: 'error', ADMIN_TOKEN: 'bench-admin-token-0123456789', RATE_LIMIT_PER_SEC: '0' }),
  );
  try {
    if (await seeded(db)) console.log('reusing the seeded database (BENCH_RESEED=1 to seed again)');
    else {
      console.log(`seeding ${DIRECTS + GROUPS} conversations × ${PER_CONVERSATION} messages…`);
      await seed(db);
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
