/**
 * Reactions in history (issue 13): one group of 2,000 members with 1,000 messages. The newest 100 are
 * heavily reacted to (each 5 emoji × 60 reactors, one of them 20 emoji × 100 reactors: 31,600 rows on the
 * page); the 100 before them have none. Measured in the same run, interleaved:
 *  - a 100-message `history` page WITH reactions vs the page just before it WITHOUT (server time,
 *    HistoryService.history timed in process): what the reactions add to a page;
 *  - the bare PAGE_REACTIONS statement (plain pg client) for the reacted page;
 *  - `react` add+remove round trips from a WebSocket client on the 20-emoji message (the row lock, the
 *    distinct count, the audience query of 2,000 members).
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_bench npx ts-node bench/reactions-bench.ts
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
import { PAGE_REACTIONS_SQL } from '../src/messaging/reactions.service';
import { startServer } from '../src/server';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/im_bench';
const MEMBERS = 2000;
const MESSAGES = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60);
const WARMUP = 10;

async function seed(db: Client): Promise<void> {
  const base = Date.now() - 24 * 3600 * 1000;
  await db.query(`TRUNCATE system_messages, message_reactions, message_edits, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
  await db.query(`ALTER SEQUENCE msg_id_seq RESTART WITH 1`);
  await db.query(
    `INSERT INTO users (app_user_id, nickname, head, created_at, updated_at)
     SELECT 'rx-user-' || i, 'User ' || i, '', $1, $1 FROM generate_series(1, $2::int) AS i`,
    [base, MEMBERS],
  );
  await db.query(`INSERT INTO conversations (kind) VALUES (2)`);
  await db.query(`INSERT INTO groups (id, group_name, cover, owner_id, created_at) VALUES (1, 'Big', '', 1, $1)`, [base]);
  await db.query(
    `INSERT INTO conversation_members (conversation_id, user_id, read_seq, joined_seq, joined_at)
     SELECT 1, i, 0, 0, $1 FROM generate_series(1, $2::int) AS i`,
    [base, MEMBERS],
  );
  await db.query(
    `INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at)
     SELECT nextval('msg_id_seq'), 1, s, 2 + (s % ($2::int - 1)), 'rx-' || s, 1, 'message ' || s, '{}'::jsonb, $1::bigint + s * 1000
       FROM generate_series(1, $3::int) AS s`,
    [base, MEMBERS, MESSAGES],
  );
  await db.query(`UPDATE conversations c SET last_seq = $1, last_msg_id = $3, last_time = $2 WHERE c.id = 1`, [MESSAGES, base + MESSAGES * 1000, MESSAGES]);
  const emoji = Array.from({ length: 20 }, (_, i) => String.fromCodePoint(0x1f600 + i));
  // the newest 100 messages: 5 emoji × 60 reactors each
  await db.query(
    `INSERT INTO message_reactions (msg_id, user_id, emoji, created_at)
     SELECT m, 1 + ((m * 31 + e * 97 + r) % $2::int), ($3::text[])[e], $4::bigint + r
       FROM generate_series($1::int - 99, $1::int) AS m, generate_series(1, 5) AS e, generate_series(1, 60) AS r
     ON CONFLICT DO NOTHING`,
    [MESSAGES, MEMBERS, emoji, base],
  );
  // the newest message: 20 emoji × 100 reactors
  await db.query(
    `INSERT INTO message_reactions (msg_id, user_id, emoji, created_at)
     SELECT $1::int, 1 + ((e * 101 + r) % $2::int), ($3::text[])[e], $4::bigint + r
       FROM generate_series(1, 20) AS e, generate_series(1, 100) AS r
     ON CONFLICT DO NOTHING`,
    [MESSAGES, MEMBERS, emoji, base],
  );
  await db.query(`VACUUM ANALYZE`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const fmt = (ms: number) => `${ms.toFixed(2).padStart(7)} ms`;

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
            const nonce = `rx-${++counter}`;
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
    console.log(`seeding one group of ${MEMBERS} members, ${MESSAGES} messages, reactions on the newest 100…`);
    await seed(db);
    const [{ n: rows }] = (await db.query(`SELECT count(*)::int AS n FROM message_reactions`)).rows;
    const history = server.app.get(HistoryService);
    const { token } = await server.app.get(TokenService).issue(1, 'rx-user-1', 3600);
    const client = await openSocket(server.port, token);
    
    const pageIds = Array.from({ length: 100 }, (_, i) => MESSAGES - i);

    const withReactions: number[] = [];
    const without: number[] = [];
    const bare: number[] = [];
    const react: number[] = [];
    let sample: any;
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const a = await timed(async () => (sample = await history.history({ userId: 1, groupId: 1, limit: 100 })));
      const b = await timed(() => history.history({ userId: 1, groupId: 1, beforeSeq: MESSAGES - 99, limit: 100 }));
      const c = await timed(() => db.query(PAGE_REACTIONS_SQL, [pageIds, 1]));
      const d = await timed(async () => {
        await client.request({ action: 'react', group_id: '1', msg_id: MESSAGES, emoji: '😀', op: 'add' });
        await client.request({ action: 'react', group_id: '1', msg_id: MESSAGES, emoji: '😀', op: 'remove' });
      });
      if (i >= WARMUP) {
        withReactions.push(a);
        without.push(b);
        bare.push(c);
        react.push(d / 2);
      }
    }
    const reacted = sample.messages.filter((m: any) => m.reactions).length;
    console.log(`\n${rows} reaction rows; page of 100 with reactions on ${reacted} messages; ${ROUNDS} rounds after ${WARMUP} warm-up, interleaved:`);
    console.log(`  history page WITH reactions (server)     p50 ${fmt(percentile(withReactions, 50))}  p99 ${fmt(percentile(withReactions, 99))}`);
    console.log(`  history page WITHOUT reactions (server)  p50 ${fmt(percentile(without, 50))}  p99 ${fmt(percentile(without, 99))}`);
    console.log(`  bare PAGE_REACTIONS statement (pg)       p50 ${fmt(percentile(bare, 50))}  p99 ${fmt(percentile(bare, 99))}`);
    console.log(`  react (add or remove), client round trip p50 ${fmt(percentile(react, 50))}  p99 ${fmt(percentile(react, 99))}`);
    console.log(`  with / without: p50 ${(percentile(withReactions, 50) / percentile(without, 50)).toFixed(2)}, p99 ${(percentile(withReactions, 99) / percentile(without, 99)).toFixed(2)}`);
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
