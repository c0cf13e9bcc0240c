import { ChildProcess, spawn } from 'child_process';
import { join } from 'path';
import { createInterface } from 'readline';
import { AdminClient } from './admin';
import { ADMIN_TOKEN } from './server';
import { WsClient } from './ws-client';

const ROOT = join(__dirname, '..', '..');
const running = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface LogLine {
  /** When the test process read it (ms since the epoch). */
  at: number;
  text: string;
}

/**
 * The real server (src/main.ts through ts-node) as a separate process, so a test can SIGKILL it
 * like a crashed node and read everything it logs (stdout and stderr, one entry per line).
 */
export class ServerProcess {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<void>;
  port = 0;
  admin!: AdminClient;
  private readonly clients = new Set<WsClient>();

  private constructor(private readonly child: ChildProcess) {
    running.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        running.delete(child);
        resolve();
      }),
    );
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (text) => this.lines.push({ at: Date.now(), text }));
    }
  }

  /** Starts a node with this environment (PORT=0, log level `log`, the test admin token) and waits until it listens. */
  static async start(env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join('src', 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1', LOG_LEVEL: 'log', ADMIN_TOKEN, ...env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const node = new ServerProcess(child);
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void node.exited.then(() => (exited = true));
    for (;;) {
      const listening = node.lines.map((line) => /listening on port (\d+)/.exec(line.text)).find(Boolean);
      if (listening) {
        node.port = Number(listening[1]);
        node.admin = new AdminClient(`http://127.0.0.1:${node.port}`, ADMIN_TOKEN);
        return node;
      }
      if (exited || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`server process did not start:\n${node.lines.map((line) => line.text).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Opens a WebSocket as `appUserId` (created if needed) and waits for the sync frame. */
  async connect(appUserId: string): Promise<WsClient> {
    const { token } = await this.admin.ensureUserToken(appUserId);
    const client = await WsClient.open(this.port, token);
    this.clients.add(client);
    await client.waitSync();
    return client;
  }

  /** Log lines read between `from` and `to` (ms since the epoch). */
  linesBetween(from: number, to = Date.now()): string[] {
    return this.lines.filter((line) => line.at >= from && line.at <= to).map((line) => line.text);
  }

  /** SIGKILL by pid: the node dies without any cleanup. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.child.pid!, 'SIGKILL');
    await this.exited;
  }

  /** SIGTERM (graceful shutdown); SIGKILL if it has not exited after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    for (const client of this.clients) client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    process.kill(this.child.pid!, 'SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
