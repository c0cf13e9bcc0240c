import { ChildProcess, spawn } from 'child_process';
import { createConnection, createServer } from 'net';

const FIRST_PORT = 30001;
const LAST_PORT = 32000;
const running = new Set<ChildProcess>();
const REDIS_MISSING = 'redis-server is not installed (e.g. apt-get install redis-server): the Redis tests start redis-server processes of their own';

// a test that dies half-way must not leave a redis-server behind
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** True when nothing listens on 127.0.0.1:port (we can bind it ourselves). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** Resolves true once `PING` on 127.0.0.1:port answers `+PONG`. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      answer += data.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

/**
 * A redis-server of the test's own, on a free port in 30001–32000 (never the shared one on 6379),
 * without persistence: it can be killed and restarted on the same port, empty, like a Redis that
 * crashed and came back.
 */
export class PrivateRedis {
  private child?: ChildProcess;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts one on a free port (another free port is tried if the chosen one is taken meanwhile). */
  static async start(): Promise<PrivateRedis> {
    const span = LAST_PORT - FIRST_PORT + 1;
    const offset = Math.floor(Math.random() * span);
    for (let i = 0; i < 50; i++) {
      const port = FIRST_PORT + ((offset + i * 37) % span);
      if (!(await portFree(port))) continue;
      const redis = new PrivateRedis(port);
      if (await redis.spawn().catch((error: Error) => { if (error.message === REDIS_MISSING) throw error; return false; })) return redis;
    }
    throw new Error('no free port for a private redis-server in 30001-32000');
  }

  /** SIGKILL by pid (a crash): resolves once the process has exited. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** SIGTERM by pid (a clean stop): resolves once the process has exited. */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** Starts it again on the same port (empty); resolves when it answers PING. */
  async restart(): Promise<void> {
    if (this.child) await this.kill();
    for (let attempt = 0; attempt < 20; attempt++) {
      if (await this.spawn().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`redis-server did not start again on port ${this.port}`);
  }

  /** Spawns redis-server on this.port; true once it answers, false if it exited first (port taken). */
  private async spawn(): Promise<boolean> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: 'ignore',
    });
    let exited = false;
    child.once('exit', () => {
      exited = true;
      running.delete(child);
    });
    let missing = false;
    child.once('error', (error: NodeJS.ErrnoException) => {
      exited = true;
      missing = error.code === 'ENOENT';
    });
    running.add(child);
    const deadline = Date.now() + 5000;
    while (!exited && Date.now() < deadline) {
      if (await pings(this.port)) {
        if (exited) return false; // someone else's server answered
        this.child = child;
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (missing) throw new Error(REDIS_MISSING);
    if (!exited) child.kill('SIGKILL');
    return false;
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, signal);
    await exited;
  }
}
