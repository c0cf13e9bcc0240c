/**
 * Load generator: point it at a running server (this one, or the raw `ws` baseline of bench/raw-server.ts).
 *
 *   npx ts-node --transpile-only bench/load.ts --url ws://host:port --admin-token TOKEN --scenario send --duration 10
 *
 * Scenarios:
 *   send     PAIRS pairs of users, each side keeping WINDOW `chat` requests in flight (durable 1:1 sends);
 *            throughput = sendResults 200 per second, latency = request → sendResult.
 *   fanout   one group of MEMBERS members, all online; SENDERS of them keep WINDOW `groupChat` in flight;
 *            throughput = pushes received per second, latency = request → push received.
 *   connect  CONNECTIONS sockets opened with CONCURRENCY at a time (a connect storm), kept open for
 *            --hold seconds; reports connects/s and time to first frame (open request → first frame).
 *            --warm N first opens N other users' connections (not measured) and keeps them open
 *            through the storm: the storm meets a server already holding connections, with its
 *            code warm and its database pool open, as a server does in production.
 * Users are named `<prefix>-…` and created through the admin API (PUT is idempotent), of --url or of
 * --admin-url (another server on the same database and TOKEN_SECRET: bench/run.ts creates the connect
 * storm's users there, so the stormed server is fresh). With --raw the target is the raw baseline: no
 * admin API, the user id travels in the URL.
 * A progress line goes to stderr every second; --json prints the result as one JSON line on stdout.
 */
import { Agent as HttpAgent, request as httpRequest } from 'http';
import { Agent as HttpsAgent, request as httpsRequest } from 'https';
import { WebSocket } from 'ws';

interface Options {
  url: string;
  /** where the admin API is (default: --url); bench/run.ts creates the storm's users on another server */
  adminUrl: string;
  adminToken: string;
  scenario: 'send' | 'fanout' | 'connect';
  duration: number;
  warmup: number;
  pairs: number;
  window: number;
  members: number;
  senders: number;
  connections: number;
  concurrency: number;
  hold: number;
  warm: number;
  prefix: string;
  raw: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    url: process.env.BENCH_URL ?? 'ws://127.0.0.1:3000',
    adminUrl: '',
    adminToken: process.env.ADMIN_TOKEN ?? '',
    scenario: 'send',
    duration: 10,
    warmup: 2,
    pairs: 50,
    window: 4,
    members: 1000,
    senders: 4,
    connections: 10_000,
    concurrency: 200,
    hold: 0,
    warm: 0,
    prefix: 'load',
    raw: false,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const key = arg.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Options;
    if (!arg.startsWith('--') || !(key in o)) throw new Error(`unknown option ${arg} (see the header of bench/load.ts)`);
    if (typeof o[key] === 'boolean') (o as any)[key] = true;
    else if (typeof o[key] === 'number') (o as any)[key] = Number(argv[++i]);
    else (o as any)[key] = argv[++i];
  }
  if (!['send', 'fanout', 'connect'].includes(o.scenario)) throw new Error(`--scenario must be send, fanout or connect`);
  if (!o.raw && !o.adminToken) throw new Error('--admin-token (or ADMIN_TOKEN) is required against the IM server');
  return o;
}

export interface LoadResult {
  scenario: string;
  target: 'raw' | 'im';
  /** operations per second over the measured window (sends, deliveries or connects) */
  rate: number;
  operations: number;
  seconds: number;
  failed: number;
  p50: number;
  p99: number;
  /** latency percentiles 1..100 (ms), for the CDF plot */
  cdf: number[];
  /** CPU of this load generator per operation, µs */
  loadCpuUsPerOp: number;
  params: Record<string, number>;
}

/** With --json, tells the caller (bench/run.ts) where the measured window starts and ends, on stdout. */
function mark(o: Options, what: string): void {
  if (o.json) process.stdout.write(`MARK ${what}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The admin REST API over keep-alive connections (node:http's Agent): about half the client CPU of
 * fetch per call, which matters for the 20,000 calls of a 10,000-user storm on a 2-core machine.
 */
class Admin {
  private readonly base: URL;
  private readonly agent: HttpAgent;
  constructor(
    url: string,
    private readonly token: string,
  ) {
    this.base = new URL(url.replace(/^ws/, 'http'));
    this.agent = this.base.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 64 }) : new HttpAgent({ keepAlive: true, maxSockets: 64 });
  }
  call(method: string, path: string, body?: unknown): Promise<any> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const send = this.base.protocol === 'https:' ? httpsRequest : httpRequest;
    const target = new URL(this.base.pathname.replace(/\/$/, '') + path, this.base);
    return new Promise((resolve, reject) => {
      const request = send(
        target,
        {
          method,
          agent: this.agent,
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', ...(data === undefined ? {} : { 'content-length': Buffer.byteLength(data) }) },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status < 200 || status >= 300) return reject(new Error(`${method} ${path}: ${status} ${text}`));
            try {
              resolve(text ? JSON.parse(text) : undefined);
            } catch (error) {
              reject(error);
            }
          });
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(data);
    });
  }
  close(): void {
    this.agent.destroy();
  }
}

/** Ids of users to connect as: app_user_ids (IM) with their tokens, created with bounded concurrency. */
async function users(o: Options, names: string[]): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  if (o.raw) return tokens;
  const started = performance.now();
  const admin = new Admin(o.adminUrl || o.url, o.adminToken);
  let next = 0;
  // 64 at a time over keep-alive connections
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < names.length) {
        const name = names[next++];
        await admin.call('PUT', `/admin/users/${name}`, { nickname: name });
        tokens.set(name, (await admin.call('POST', `/admin/users/${name}/tokens`, { ttl_seconds: 86_400 })).token);
      }
    }),
  );
  admin.close();
  process.stderr.write(`[im ${o.scenario}] ${names.length} users and tokens made in ${((performance.now() - started) / 1000).toFixed(1)} s (admin API, not measured)\n`);
  return tokens;
}

function socketUrl(o: Options, name: string, tokens: Map<string, string>): string {
  const base = o.url.replace(/\/$/, '');
  return o.raw ? `${base}/?user=${encodeURIComponent(name)}` : `${base}/?token=${tokens.get(name)}`;
}

/** Opens a socket and resolves on its first frame (the sync frame), with the time it took. */
function open(url: string): Promise<{ socket: WebSocket; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.once('message', () => resolve({ socket, ms: performance.now() - started }));
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`closed ${code} before the first frame`)));
  });
}

function percentiles(samples: number[]): { p50: number; p99: number; cdf: number[] } {
  if (samples.length === 0) return { p50: 0, p99: 0, cdf: [] };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), cdf: Array.from({ length: 100 }, (_, i) => at((i + 1) / 100)) };
}

function progress(o: Options, label: string, count: () => number, seconds: number): () => void {
  const started = performance.now();
  let last = 0;
  const timer = setInterval(() => {
    const now = count();
    const elapsed = (performance.now() - started) / 1000;
    process.stderr.write(`\r[${o.raw ? 'raw' : 'im'} ${o.scenario}] ${elapsed.toFixed(0)}/${seconds}s  ${label} ${now}  (${now - last}/s)   `);
    last = now;
  }, 1000);
  return () => {
    clearInterval(timer);
    process.stderr.write('\n');
  };
}

/** Keeps `window` requests in flight per socket; `done` is called by the caller's frame handler. */
async function measure(
  o: Options,
  label: string,
  start: (onOp: (latencyMs: number, ok: boolean) => void) => () => void,
): Promise<Omit<LoadResult, 'scenario' | 'target' | 'params'>> {
  let counting = false;
  let operations = 0;
  let failed = 0;
  const latencies: number[] = [];
  const stop = start((latency, ok) => {
    if (!counting) return;
    operations++;
    if (!ok) failed++;
    if (latencies.length < 2_000_000) latencies.push(latency);
  });
  await sleep(o.warmup * 1000);
  mark(o, 'start');
  const cpu = process.cpuUsage();
  const began = performance.now();
  counting = true;
  const done = progress(o, label, () => operations, o.duration);
  await sleep(o.duration * 1000);
  counting = false;
  const seconds = (performance.now() - began) / 1000;
  const used = process.cpuUsage(cpu);
  mark(o, 'end');
  done();
  stop();
  await sleep(300); // replies still in flight drain
  return { rate: operations / seconds, operations, seconds, failed, ...percentiles(latencies), loadCpuUsPerOp: (used.user + used.system) / Math.max(1, operations) };
}

async function sendScenario(o: Options): Promise<LoadResult> {
  const names = Array.from({ length: o.pairs * 2 }, (_, i) => `${o.prefix}-p${i}`);
  const tokens = await users(o, names);
  const sockets = await Promise.all(names.map(async (name) => (await open(socketUrl(o, name, tokens))).socket));
  const run = Date.now().toString(36);
  // one message per pair first: the conversations exist before the load (a first message creates its
  // conversation on its own, a one-off not measured here)
  await Promise.all(
    sockets.map(
      (socket, i) =>
        new Promise<void>((resolve) => {
          if (i % 2) return resolve();
          const onFrame = (raw: Buffer) => {
            if (!raw.toString().includes('"sendResult"')) return;
            socket.off('message', onFrame);
            resolve();
          };
          socket.on('message', onFrame);
          socket.send(`{"action":"chat","nonce":"${run}-first-${i}","type":1,"content":"hello","app_user_ids":"${names[i + 1]}"}`);
        }),
    ),
  );
  const result = await measure(o, 'sends', (onOp) => {
    let running = true;
    sockets.forEach((socket, i) => {
      const peer = names[i ^ 1];
      const sentAt = new Map<string, number>();
      let n = 0;
      const sendOne = () => {
        const nonce = `${run}-${i}-${n++}`;
        sentAt.set(nonce, performance.now());
        socket.send(`{"action":"chat","nonce":"${nonce}","type":1,"content":"message ${n}","app_user_ids":"${peer}"}`);
      };
      socket.on('message', (raw) => {
        const frame = JSON.parse(raw.toString());
        if (frame.action !== 'sendResult') return;
        const at = sentAt.get(frame.nonce);
        if (at === undefined) return;
        sentAt.delete(frame.nonce);
        onOp(performance.now() - at, frame.code === 200);
        if (running) sendOne();
      });
      for (let w = 0; w < o.window; w++) sendOne();
    });
    return () => (running = false);
  });
  for (const socket of sockets) socket.terminate();
  return { scenario: 'send', target: o.raw ? 'raw' : 'im', ...result, params: { pairs: o.pairs, window: o.window } };
}

async function fanoutScenario(o: Options): Promise<LoadResult> {
  const names = Array.from({ length: o.members }, (_, i) => `${o.prefix}-m${i}`);
  const tokens = await users(o, names);
  let groupId = '0';
  if (!o.raw) {
    const admin = new Admin(o.adminUrl || o.url, o.adminToken);
    const group = await admin.call('POST', '/admin/groups', { owner: names[0], group_name: `${o.prefix} fan-out`, members: names.slice(1) });
    groupId = String(group.group_id);
    admin.close();
  }
  const sockets: WebSocket[] = [];
  for (let i = 0; i < names.length; i += 100) {
    sockets.push(...(await Promise.all(names.slice(i, i + 100).map(async (name) => (await open(socketUrl(o, name, tokens))).socket))));
  }
  await sleep(500); // the connect sequences (system messages of the group's creation) are written
  const run = Date.now().toString(36);
  const senders = Math.min(o.senders, sockets.length);
  const result = await measure(o, 'deliveries', (onOp) => {
    let running = true;
    const sentAt = new Map<string, number>();
    sockets.forEach((socket, i) => {
      socket.on('message', (raw) => {
        const text = raw.toString();
        if (!text.includes('"groupChat"')) return;
        const frame = JSON.parse(text);
        const at = sentAt.get(frame.nonce);
        if (at !== undefined) onOp(performance.now() - at, true);
      });
      if (i >= senders) return;
      let n = 0;
      const sendOne = () => {
        const nonce = `${run}-${i}-${n++}`;
        sentAt.set(nonce, performance.now());
        socket.send(`{"action":"groupChat","nonce":"${nonce}","type":1,"content":"fan-out ${n}","group_id":"${groupId}"}`);
      };
      socket.on('message', (raw) => {
        const text = raw.toString();
        if (!text.includes('"sendResult"')) return;
        if (running) sendOne();
      });
      for (let w = 0; w < o.window; w++) sendOne();
    });
    return () => (running = false);
  });
  for (const socket of sockets) socket.terminate();
  return { scenario: 'fanout', target: o.raw ? 'raw' : 'im', ...result, params: { members: o.members, senders, window: o.window } };
}

async function connectScenario(o: Options): Promise<LoadResult> {
  const names = Array.from({ length: o.connections }, (_, i) => `${o.prefix}-c${i}`);
  const warmNames = Array.from({ length: o.warm }, (_, i) => `${o.prefix}-w${i}`);
  const tokens = await users(o, [...warmNames, ...names]);
  const warmSockets: WebSocket[] = [];
  if (o.warm > 0) {
    let at = 0;
    await Promise.all(
      Array.from({ length: Math.min(o.concurrency, warmNames.length) }, async () => {
        while (at < warmNames.length) warmSockets.push((await open(socketUrl(o, warmNames[at++], tokens))).socket);
      }),
    );
    await sleep(1000);
  }
  const sockets: WebSocket[] = [];
  const times: number[] = [];
  let failed = 0;
  let next = 0;
  mark(o, 'start');
  const cpu = process.cpuUsage();
  const began = performance.now();
  const done = progress(o, 'connected', () => sockets.length, 0);
  const step = Math.max(1, Math.floor(names.length / 10));
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, names.length) }, async () => {
      while (next < names.length) {
        const name = names[next++];
        try {
          const { socket, ms } = await open(socketUrl(o, name, tokens));
          sockets.push(socket);
          times.push(ms);
          if (sockets.length % step === 0) mark(o, `at ${sockets.length}`);
        } catch {
          failed++;
        }
      }
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  const used = process.cpuUsage(cpu);
  mark(o, 'end');
  done();
  // the server's RSS with every connection open is read by the caller during --hold
  await sleep(Math.min(1000, o.hold * 500));
  mark(o, `holding ${sockets.length}`);
  await sleep(o.hold * 1000);
  for (const socket of [...sockets, ...warmSockets]) socket.terminate();
  return {
    scenario: 'connect',
    target: o.raw ? 'raw' : 'im',
    rate: sockets.length / seconds,
    operations: sockets.length,
    seconds,
    failed,
    ...percentiles(times),
    loadCpuUsPerOp: (used.user + used.system) / Math.max(1, sockets.length),
    params: { connections: o.connections, concurrency: o.concurrency, ...(o.warm > 0 ? { warm: o.warm } : {}) },
  };
}

export async function runLoad(o: Options): Promise<LoadResult> {
  if (o.scenario === 'send') return sendScenario(o);
  if (o.scenario === 'fanout') return fanoutScenario(o);
  return connectScenario(o);
}

if (require.main === module) {
  const o = parseArgs(process.argv.slice(2));
  runLoad(o).then(
    (result) => {
      if (o.json) process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
      else {
        const { cdf: _cdf, ...summary } = result;
        console.log(summary);
      }
      process.exit(0);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
