/**
 * The `sync` scenario of bench/run.ts (issue 10: "sync frame, 1,000 unread conversations over 1M
 * messages: p99 ≤ 1.5 × the bare SQL"). Against a running IM server whose database holds the seed of
 * bench/sync-seed.ts, measured interleaved one by one, `samples` times after `warmup` rounds:
 *   (a) open   socket opened with the heavy user's token → its first frame (the type-19 sync frame);
 *   (b) action `{"action":"sync","nonce":…}` on an open socket → the `sync` reply with that nonce
 *              (PROTOCOL §6: same data as the type-19 frame);
 *   (c) bare   UNREAD_SQL (src/sync/sync.service.ts) for the heavy user's id, as a prepared statement
 *              on the bench's own pg connection (what the server runs, without the server).
 */
import { Client } from 'pg';
import { WebSocket } from 'ws';

export interface SyncResult {
  run: number;
  conversations: number;
  messages: number;
  /** items of the sync frame (conversations with unread messages) and its size */
  friends: number;
  groups: number;
  frameBytes: number;
  warmup: number;
  /** ms per sample, in the order measured */
  open: number[];
  action: number[];
  bare: number[];
  failed: number;
}

const TIMEOUT_MS = 30_000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS))),
  ]);
}

/** (a): open → first frame (checked to be the type-19 frame); the socket is closed before resolving. */
function openToSyncFrame(url: string): Promise<{ ms: number; bytes: number; data: any }> {
  const started = performance.now();
  const socket = new WebSocket(url, { perMessageDeflate: false });
  return withTimeout(
    new Promise<{ ms: number; bytes: number; data: any }>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('message', (raw) => {
        const ms = performance.now() - started;
        const text = raw.toString();
        const data = JSON.parse(JSON.parse(text).data);
        if (data.type !== 19) return reject(new Error(`first frame is not the sync frame: ${text.slice(0, 200)}`));
        socket.once('close', () => resolve({ ms, bytes: text.length, data }));
        socket.close();
      });
    }),
    'socket open → sync frame',
  ).catch((error) => {
    socket.terminate();
    throw error;
  });
}

export async function measureSync(options: {
  run: number;
  port: number;
  token: string;
  db: Client;
  heavyId: number;
  conversations: number;
  messages: number;
  samples: number;
  warmup: number;
}): Promise<SyncResult> {
  const { UNREAD_SQL } = await import('../src/sync/sync.service');
  const url = `ws://127.0.0.1:${options.port}/?token=${encodeURIComponent(options.token)}`;
  // the socket of (b), opened once (its own sync frame skipped)
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await withTimeout(
    new Promise((resolve, reject) => {
      socket.once('message', resolve);
      socket.once('error', reject);
    }),
    'socket for the sync action',
  );
  const waiting = new Map<string, (frame: any) => void>();
  socket.on('message', (raw) => {
    const frame = JSON.parse(raw.toString());
    waiting.get(frame.nonce)?.(frame);
  });
  const syncAction = async (nonce: string): Promise<number> => {
    const started = performance.now();
    const reply = await withTimeout(
      new Promise<any>((resolve) => {
        waiting.set(nonce, resolve);
        socket.send(JSON.stringify({ action: 'sync', nonce }));
      }),
      'sync action',
    ).finally(() => waiting.delete(nonce));
    const ms = performance.now() - started;
    if (reply.action !== 'sync' || reply.code !== 200) throw new Error(`sync reply ${reply.action} ${reply.code}: ${reply.msg}`);
    return ms;
  };
  const bare = async (): Promise<number> => {
    const started = performance.now();
    await options.db.query({ name: 'bench_sync_unread', text: UNREAD_SQL, values: [options.heavyId] });
    return performance.now() - started;
  };

  const result: SyncResult = {
    run: options.run,
    conversations: options.conversations,
    messages: options.messages,
    friends: 0,
    groups: 0,
    frameBytes: 0,
    warmup: options.warmup,
    open: [],
    action: [],
    bare: [],
    failed: 0,
  };
  const run = Date.now().toString(36);
  try {
    for (let i = 0; i < options.warmup + options.samples; i++) {
      const measured = i >= options.warmup;
      try {
        const opened = await openToSyncFrame(url);
        result.friends = opened.data.extra.friendList.length;
        result.groups = opened.data.extra.groupList.length;
        result.frameBytes = opened.bytes;
        const action = await syncAction(`${run}-${i}`);
        const sql = await bare();
        if (measured) {
          result.open.push(opened.ms);
          result.action.push(action);
          result.bare.push(sql);
        }
      } catch (error) {
        if (!measured) throw error;
        result.failed++;
        process.stderr.write(`sync sample ${i}: ${(error as Error).message}\n`);
      }
    }
  } finally {
    socket.terminate();
  }
  return result;
}

/** The p-th percentile (nearest rank) of ms samples. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
