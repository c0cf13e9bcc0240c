/**
 * Read-by benchmark (issue 12): one group of 2,000 members with 1,000 messages (a third of them sent
 * by the measured user), read positions spread over the whole history. Measures, in the same run:
 *  - `readBy` (limit 100 and 500): the server's time (ReadByService.readBy, timed in process) against
 *    the bare READ_BY statement run by a plain pg client;
 *  - a 100-message `history` page with read_count: the server's time (HistoryService.history) against
 *    the bare history SELECT plus the bare READ_COUNTS statement;
 *  - what a WebSocket client sees for both (request → reply).
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_bench npx ts-node bench/read-by-bench.ts
 *
 * The database is emptied and seeded: a name without "bench" is refused unless BENCH_FORCE=1.
 */
import 'reflect-metadata';
import { performance } from 'perf_hooks';
import { Client } from 'pg';
import { ensureBenchDatabase } from './bench-database';
import { WebSocket } from 'ws';
import { TokenService } from '../src/auth/token.service';
import { loadConfig } from '../src/config/app-config';
import { HistoryService } from '../src/messaging/history.service';
import { READ_BY, READ_COUNTS, ReadByService } from '../src/messaging/read-by.service';
import { startServer } from '../src/server';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/im_bench';
const MEMBERS = 2000;
const MESSAGES = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 100);
const WARMUP = 10;

/** User 1 owns group 1 (conversation 1); users 2..2000 are members; every third message is user 1's. */
async function seed(db: Client): Promise<void> {
  const base = Date.now() - 24 * 3600 * 1000;
  await db.query(`TRUNCATE system_messages, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
  await db.query(`ALTER SEQUENCE msg_id_seq RESTART WITH 1`);
  await db.query(
    `INSERT INTO users (app_user_id, nickname, head, created_at, updated_at)
     SELECT 'rb-user-' || i, 'User ' || i, '', $1, $1 FROM generate_series(1, $2::int) AS i`,
    [base, MEMBERS],
  );
  await db.query(`INSERT INTO conversations (kind) VALUES (2)`);
  await db.query(`INSERT INTO groups (id, group_name, cover, owner_id, created_at) VALUES (1, 'Big', '', 1, $1)`, [base]);
  await db.query(
    `INSERT INTO conversation_members (conversation_id, user_id, read_seq, joined_seq, joined_at, role)
     SELECT 1, i, 0, 0, $1, CASE WHEN i BETWEEN 2 AND 21 THEN 1 ELSE 0 END FROM generate_series(1, $2::int) AS i`,
    [base, MEMBERS],
  );
  await db.query(
    `INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at)
     SELECT nextval('msg_id_seq'), 1, s, CASE WHEN s % 3 = 0 THEN 1 ELSE 2 + (s % ($2::int - 1)) END, 'rb-' || s, 1,
            'message ' || s, '{}'::jsonb, $1::bigint + s * 1000
       FROM generate_series(1, $3::int) AS s`,
    [base, MEMBERS, MESSAGES],
  );
  await db.query(
    `UPDATE conversations c SET last_seq = m.seq, last_msg_id = m.id, last_time = m.created_at FROM messages m WHERE m.conversation_id = 1 AND m.seq = $1 AND c.id = 1`,
    [MESSAGES],
  );
  // read positions spread over the whole history (every member somewhere between 0 and the end)
  await db.query(`UPDATE conversation_members SET read_seq = (user_id * 7919) % ($1::int + 1) WHERE conversation_id = 1`, [MESSAGES]);
  await db.query(`VACUUM ANALYZE`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const fmt = (ms: number) => `${ms.toFixed(2).padStart(7)} ms`;

/** Wraps an async method so every call's duration is recorded (server-side timing, in process). */
function timeMethod(target: any, name: string, into: number[]): void {
  const original = target[name].bind(target);
  target[name] = async (...args: unknown[]) => {
    const started = performance.now();
    try {
      return await original(...args);
    } finally {
      into.push(performance.now() - started);
    }
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

function openSocket(port: number, token: string): Promise<{ request: (frame: Record<string, unknown>) => Promise<any> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/?token=${encodeURIComponent(token)}`);
    const waiting = new Map<string, (frame: any) => void>();
    let counter = 0;
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString());
      if (frame.nonce && waiting.has(frame.nonce)) {
        waiting.get(frame.nonce)!(frame);
        waiting.delete(frame.nonce);
      }
    });
    socket.once('error', reject);
    socket.once('open', () =>
      resolve({
        request: (frame) =>
          new Promise((done) => {
            const nonce = `rb-${++counter}`;
            waiting.set(nonce, done);
            socket.send(JSON.stringify({ ...frame, nonce }));
          }),
      }),
    );
  });
}

async function main(): Promise<void> {
  await ensureBenchDatabase(DATABASE_URL);
  const db = new Client({ connectionString: DATABASE_URL });
  await db.connect();
  const server = await startServer(loadConfig({ DATABASE_URL, PORT: '0', LOG_LEVEL: 'error', ADMIN_TOKEN: 'bench-admin-token-0123456789', RATE_LIMIT_PER_SEC: '0' }));
  try {
    console.log(`seeding one group of ${MEMBERS} members with ${MESSAGES} messages…`);
    await seed(db);
    const readByServer: number[] = [];
    const historyServer: number[] = [];
    timeMethod(server.app.get(ReadByService), 'readBy', readByServer);
    timeMethod(server.app.get(HistoryService), 'history', historyServer);
    const { token } = await server.app.get(TokenService).issue(1, 'rb-user-1', 3600);
    const client = await openSocket(server.port, token);
    const [{ id: target }] = (await db.query(`SELECT id FROM messages WHERE conversation_id = 1 AND seq = $1`, [MESSAGES / 2 - ((MESSAGES / 2) % 3)])).rows;

    const historySql = `SELECT m.id AS msg_id, m.seq, m.created_at AS time, m.sender_id AS user_id, m.type, m.content, m.extra,
              s.app_user_id, s.nickname, s.head, c.kind
       FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN users s ON s.id = m.sender_id
       WHERE m.conversation_id = 1 AND m.seq > 0 ORDER BY m.seq DESC LIMIT 101`;
    const ownSeqs: number[] = [];
    for (let seq = MESSAGES; seq > MESSAGES - 100; seq--) if (seq % 3 === 0) ownSeqs.push(seq);

    for (const limit of [100, 500]) {
      readByServer.length = 0;
      const bare: number[] = [];
      const ws: number[] = [];
      let sample: any;
      for (let i = 0; i < WARMUP + ROUNDS; i++) {
        const wsMs = await timed(async () => (sample = await client.request({ action: 'readBy', extra: { group_id: '1', msg_id: Number(target), limit } })));
        const bareMs = await timed(() => db.query(READ_BY, [1, target, 1, limit]));
        if (i >= WARMUP) {
          ws.push(wsMs);
          bare.push(bareMs);
        }
      }
      const server = readByServer.slice(WARMUP);
      const data = JSON.parse(sample.data);
      console.log(`\nreadBy, limit ${limit} (read ${data.read_count} / unread ${data.unread_count} of ${MEMBERS - 1}), ${ROUNDS} requests after ${WARMUP} warm-up:`);
      console.log(`  server (ReadByService.readBy)   p50 ${fmt(percentile(server, 50))}  p99 ${fmt(percentile(server, 99))}`);
      console.log(`  bare READ_BY statement (pg)     p50 ${fmt(percentile(bare, 50))}  p99 ${fmt(percentile(bare, 99))}`);
      console.log(`  client request → reply          p50 ${fmt(percentile(ws, 50))}  p99 ${fmt(percentile(ws, 99))}`);
      console.log(`  server / bare statement: p50 ${(percentile(server, 50) / percentile(bare, 50)).toFixed(2)}`);
    }

    historyServer.length = 0;
    const bareHistory: number[] = [];
    const bareCounts: number[] = [];
    const ws: number[] = [];
    let page: any;
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const wsMs = await timed(async () => (page = await client.request({ action: 'history', group_id: '1', limit: 100 })));
      const historyMs = await timed(() => db.query(historySql));
      const countsMs = await timed(() => db.query(READ_COUNTS, [1, 1, ownSeqs]));
      if (i >= WARMUP) {
        ws.push(wsMs);
        bareHistory.push(historyMs);
        bareCounts.push(countsMs);
      }
    }
    const server2 = historyServer.slice(WARMUP);
    const messages = JSON.parse(page.data).messages;
    const bareBoth = bareHistory.map((ms, i) => ms + bareCounts[i]);
    console.log(`\nhistory page of 100 (${messages.filter((m: any) => m.read_count !== undefined).length} with read_count), ${ROUNDS} requests after ${WARMUP} warm-up:`);
    console.log(`  server (HistoryService.history, with read_count)  p50 ${fmt(percentile(server2, 50))}  p99 ${fmt(percentile(server2, 99))}`);
    console.log(`  bare history SELECT                                 p50 ${fmt(percentile(bareHistory, 50))}  p99 ${fmt(percentile(bareHistory, 99))}`);
    console.log(`  bare READ_COUNTS statement                          p50 ${fmt(percentile(bareCounts, 50))}  p99 ${fmt(percentile(bareCounts, 99))}`);
    console.log(`  client request → reply                              p50 ${fmt(percentile(ws, 50))}  p99 ${fmt(percentile(ws, 99))}`);
    console.log(`  server / (bare SELECT + bare READ_COUNTS): p50 ${(percentile(server2, 50) / percentile(bareBoth, 50)).toFixed(2)}`);
    console.log(`  READ_COUNTS share of the bare pair: p50 ${(percentile(bareCounts, 50) / percentile(bareBoth, 50)).toFixed(2)}`);
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
