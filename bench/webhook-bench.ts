/**
 * Webhook outbox cost (issue 14): 1:1 send throughput of the server with WEBHOOK_URL set (to a fast
 * local receiver in this process, answering 204 at once) against the same server with it unset, in the
 * same run: interleaved rounds, each variant a server process of its own on the same database, loaded
 * by bench/load.ts (`send` scenario) as a child process. With webhooks on, every stored message also
 * writes its `message.created` row inside the same send statement, and the dispatcher delivers it.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/im_bench npx ts-node --transpile-only bench/webhook-bench.ts
 *
 * BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_PAIRS (20), BENCH_WINDOW (4). The database is written to
 * (users and messages of the `wh-` prefixes); use one of its own.
 */
import { createServer } from 'http';
import { AddressInfo } from 'net';
import { Client } from 'pg';
import { startServer, startUntil, stopProcess } from './processes';

const DATABASE_URL = process.env.DATABASE_URL;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 20);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 4);
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const SECRET = 'bench-webhook-secret-0123456789';

async function load(port: number, prefix: string): Promise<number> {
  const { process: child, match } = await startUntil(
    ['bench/load.ts', '--url', `ws://127.0.0.1:${port}`, '--admin-token', ADMIN_TOKEN, '--scenario', 'send', '--duration', String(SECONDS), '--pairs', String(PAIRS), '--window', String(WINDOW), '--prefix', prefix, '--json'],
    {},
    /RESULT (.*)\n/,
  );
  child.kill();
  const result = JSON.parse(match[1]) as { rate: number; failed: number };
  if (result.failed > 0) throw new Error(`${result.failed} sends failed`);
  return result.rate;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  if (!DATABASE_URL) throw new Error('DATABASE_URL is required');
  let received = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const base = { DATABASE_URL, ADMIN_TOKEN, PORT: '0', RATE_LIMIT_PER_SEC: '0', LOG_LEVEL: 'log', CONSOLE_ENABLED: 'false' };
  const envs = {
    off: base,
    on: { ...base, WEBHOOK_URL: hookUrl, WEBHOOK_SECRET: SECRET },
    // writes the outbox rows with its sends but delivers nothing (WEBHOOK_WORKER=false): the durable write alone
    write: { ...base, WEBHOOK_URL: hookUrl, WEBHOOK_SECRET: SECRET, WEBHOOK_WORKER: 'false' },
  };
  const rates = { off: [] as number[], on: [] as number[], write: [] as number[] };
  const writeRatios: number[] = [];
  const db = new Client({ connectionString: DATABASE_URL });
  await db.connect();
  /** Waits until the dispatcher delivered everything (so the next measurement does not pay for this one's backlog). */
  const drained = async (): Promise<number> => {
    let backlog = 0;
    for (let i = 0; i < 300; i++) {
      backlog = Number((await db.query(`SELECT count(*) AS n FROM webhook_outbox`)).rows[0].n);
      if (backlog === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return backlog;
  };
  // one server process at a time: a worker of the variant with delivery would otherwise deliver the
  // write-only variant's rows too (they share the database)
  const measure = async (variant: 'off' | 'on' | 'write'): Promise<number> => {
    const server = await startServer(['src/main.ts'], envs[variant]);
    try {
      return await load(server.port, `wh-${variant}`);
    } finally {
      if (variant === 'on') await drained();
      await stopProcess(server);
      if (variant === 'write') await db.query(`DELETE FROM webhook_outbox`);
    }
  };
  const ratios: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // alternate which variant goes first, so neither always runs on a warmer or cooler machine
      const order: Array<'off' | 'on' | 'write'> = round % 2 === 0 ? ['off', 'write', 'on'] : ['on', 'write', 'off'];
      const got: Record<string, number> = {};
      for (const variant of order) {
        got[variant] = await measure(variant);
      }
      rates.off.push(got.off);
      rates.on.push(got.on);
      rates.write.push(got.write);
      ratios.push(got.on / got.off);
      writeRatios.push(got.write / got.off);
      console.error(
        `round ${round + 1}: off ${got.off.toFixed(0)} msg/s, write only ${got.write.toFixed(0)} (${(got.write / got.off).toFixed(3)}), write + deliver ${got.on.toFixed(0)} (${(got.on / got.off).toFixed(3)})`,
      );
    }
    const backlog = await drained();
    await db.end();
    const summary = {
      rounds: ROUNDS,
      seconds: SECONDS,
      pairs: PAIRS,
      window: WINDOW,
      offMsgPerSec: Math.round(median(rates.off)),
      writeOnlyMsgPerSec: Math.round(median(rates.write)),
      onMsgPerSec: Math.round(median(rates.on)),
      ratioWriteOnlyOff: Number(median(writeRatios).toFixed(3)),
      writeRatios: writeRatios.map((ratio) => Number(ratio.toFixed(3))),
      ratioOnOff: Number(median(ratios).toFixed(3)),
      ratios: ratios.map((ratio) => Number(ratio.toFixed(3))),
      eventsReceived: received,
      outboxBacklogAfter: backlog,
    };
    console.log(JSON.stringify(summary));
  } finally {
    receiver.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
