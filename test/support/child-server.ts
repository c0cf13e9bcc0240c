import { ChildProcess, spawn } from 'child_process';
import { join } from 'path';
import { ADMIN_TOKEN } from './server';
import { AdminClient } from './admin';

const ROOT = join(__dirname, '..', '..');

/**
 * The server as its own process (src/main.ts through ts-node), for what an in-process server cannot
 * show: signals, kill -9, exit codes. Output is collected for assertions.
 */
export class ChildServer {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly process: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => process.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get admin(): AdminClient {
    return new AdminClient(`http://127.0.0.1:${this.port}`, ADMIN_TOKEN);
  }

  /** Starts `src/main.ts` with `env` (plus a test admin token, PORT=0) and waits until it listens. */
  static async start(env: Record<string, string>, timeoutMs = 60_000): Promise<ChildServer> {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ADMIN_TOKEN, LOG_LEVEL: 'log', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${output}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on port (\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before listening:\n${output}`));
      });
    });
    const server = new ChildServer(child, port);
    server.output = output;
    const collect = (chunk: Buffer) => (server.output += chunk.toString());
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    return server;
  }

  signal(signal: NodeJS.Signals): void {
    this.process.kill(signal);
  }

  /** Ends the process if it still runs (only the process this helper started). */
  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGKILL');
      await this.exited;
    }
  }
}
