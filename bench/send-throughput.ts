/**
 * Durable send throughput: K clients each keep W `chat` requests in flight until N messages are
 * stored, against the real server (in this process) and database. Reported with two baselines run
 * in the same process tree, so the numbers compare across noisy machines:
 *   - transport: `ping` round trips through the same server (no database),
 *   - database: single-row INSERT commits into a scratch table with the same concurrency.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_bench npx ts-node bench/send-throughput.ts
 *   env: BENCH_MESSAGES (default 20000), BENCH_CLIENTS (20), BENCH_WINDOW (16), BENCH_SPREAD (1)
 */
import 'reflect-metadata';
import { Pool } from 'pg';
import { WebSocket } from 'ws';
import { loadConfig } from '../src/config/app-config';
import { Db } from '../src/database/db';
import { startServer } from '../src/server';

const TOTAL = Number(process.env.BENCH_MESSAGES ?? 20000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 20);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 16);
/** How many peers each client spreads its messages over (1 = one conversation per client). */
const SPREAD = Math.min(Number(process.env.BENCH_SPREAD ?? 1), Number(process.env.BENCH_CLIENTS ?? 20) - 1);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

async function admin(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return response.json();
}

function open(port: number, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/?token=${token}`);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Each socket keeps WINDOW requests in flight until `total` replies came back; returns per-second rate. */
async function drive(sockets: WebSocket[], total: number, request: (client: number, i: number) => object): Promise<number> {
  let sent = 0;
  let done = 0;
  let failed = 0;
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    sockets.forEach((socket, client) => {
      const sendNext = () => {
        if (sent >= total) return;
        const i = sent++;
        socket.send(JSON.stringify({ ...request(client, i), nonce: `b${client}-${i}-${started}` }));
      };
      socket.on('message', (raw) => {
        const frame = JSON.parse(raw.toString());
        if (frame.action !== 'sendResult' && frame.action !== 'pong') return;
        if (frame.code !== 200) failed++;
        if (++done === total) resolve();
        sendNext();
      });
      for (let w = 0; w < WINDOW; w++) sendNext();
    });
  });
  for (const socket of sockets) socket.removeAllListeners('message');
  if (failed > 0) throw new Error(`${failed} requests failed`);
  return total / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function insertBaseline(pool: Pool, total: number): Promise<number> {
  await pool.query('CREATE TABLE IF NOT EXISTS bench_rows (id bigserial primary key, conversation bigint, seq int, body text)');
  await pool.query('TRUNCATE bench_rows');
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      await pool.query('INSERT INTO bench_rows (conversation, seq, body) VALUES ($1, $2, $3)', [i % 100, i, 'hello']);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
  const rate = total / (Number(process.hrtime.bigint() - started) / 1e9);
  await pool.query('DROP TABLE bench_rows');
  return rate;
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, PORT: '0', ADMIN_TOKEN, RATE_LIMIT_PER_SEC: '0', LOG_LEVEL: 'warn' });
  const server = await startServer(config);
  const base = `http://127.0.0.1:${server.port}`;
  try {
    const pool = server.app.get(Db).pool;
    await pool.query(`TRUNCATE system_messages, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
    const sockets: WebSocket[] = [];
    for (let c = 0; c < CLIENTS; c++) {
      await admin(base, 'PUT', `/admin/users/bench${c}`, { nickname: `bench ${c}` });
      const { token } = await admin(base, 'POST', `/admin/users/bench${c}/tokens`, {});
      sockets.push(await open(server.port, token));
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // connect sequences done

    const warm = Math.min(2000, TOTAL / 10);
    await drive(sockets, warm, (c) => ({ action: 'chat', type: 1, content: 'warm up', app_user_ids: `bench${(c + 1) % CLIENTS}` }));
    const ping = await drive(sockets, TOTAL, () => ({ action: 'ping' }));
    const insert = await insertBaseline(new Pool({ connectionString: server.databaseUrl, max: CLIENTS }), TOTAL);
    const chat = await drive(sockets, TOTAL, (c, i) => ({ action: 'chat', type: 1, content: `message ${i}`, app_user_ids: `bench${(c + 1 + (i % SPREAD)) % CLIENTS}` }));

    const [{ count }] = (await pool.query('SELECT count(*)::int AS count FROM messages')).rows;
    console.log(`messages stored: ${count} (expected ${TOTAL + warm})`);
    console.log(`clients ${CLIENTS}, window ${WINDOW}, peers per client ${SPREAD}, messages ${TOTAL}`);
    console.log(`ping round trips      ${ping.toFixed(0)}/s   (transport baseline)`);
    console.log(`single-row INSERTs    ${insert.toFixed(0)}/s   (database baseline)`);
    console.log(`durable chat sends    ${chat.toFixed(0)}/s`);
    console.log(`ratio chat/insert ${(chat / insert).toFixed(2)}, chat/ping ${(chat / ping).toFixed(2)}`);
    for (const socket of sockets) socket.close();
  } finally {
    await server.close();
  }
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
