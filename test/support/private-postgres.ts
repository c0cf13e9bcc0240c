import { execFile } from 'child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { promisify } from 'util';

const run = promisify(execFile);

/** The newest PostgreSQL installed under /usr/lib/postgresql/<version>/bin (initdb, pg_ctl). */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((name) => existsSync(join(root, name, 'bin', 'initdb')) && existsSync(join(root, name, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL binaries (initdb, pg_ctl) under ${root}/*/bin`);
  return join(root, versions[0], 'bin');
}

/** True when nothing listens on 127.0.0.1:port (we could bind it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port in 20000–30000: below the ephemeral range, so no outgoing connection can take it meanwhile. */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if ((await portFree(port)) && (await portFree(port))) return port;
  }
  throw new Error('no free port in 20000-30000');
}

/**
 * A PostgreSQL cluster of its own for fault tests (never the shared one): `initdb` into a temporary
 * directory owned by the `postgres` OS user, trust authentication, 127.0.0.1 on a free port. The test
 * can stop it hard, start it again and kill the app's backends; `destroy` stops only this cluster (its
 * postmaster pid from postmaster.pid) and removes the directory.
 */
export class PrivatePostgres {
  readonly port: number;
  readonly url: string;
  private readonly dir: string;
  private readonly data: string;
  private readonly bin = postgresBin();
  private forgetExitHook = () => undefined as void;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.data = join(dir, 'data');
    this.port = port;
    this.url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  }

  /** initdb + start. */
  static async create(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'im-private-pg-'));
    chmodSync(dir, 0o700);
    const { uid, gid } = await postgresUser();
    chownSync(dir, uid, gid);
    const pg = new PrivatePostgres(dir, await freePort());
    // if the test process dies without destroy(), its cluster must not outlive it (only our postmaster, by pid)
    const onExit = () => {
      const pid = pg.postmasterPid();
      if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGQUIT');
    };
    process.once('exit', onExit);
    pg.forgetExitHook = () => process.removeListener('exit', onExit);
    try {
      await pg.asPostgres(join(pg.bin, 'initdb'), ['-D', pg.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
      await pg.start();
    } catch (error) {
      await pg.destroy();
      throw error;
    }
    return pg;
  }

  /** Starts the cluster and waits until it accepts connections. */
  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      `-k ${this.dir}`, // the unix socket in our directory, not /var/run/postgresql
      "-c listen_addresses='127.0.0.1'",
      '-c fsync=off',
      '-c max_connections=100',
    ].join(' ');
    await this.asPostgres(join(this.bin, 'pg_ctl'), ['-D', this.data, '-l', join(this.dir, 'log'), '-o', options, '-w', '-t', '60', 'start']);
  }

  /** `pg_ctl stop -m immediate`: every backend dies at once, no shutdown checkpoint (like a crash). */
  async stopImmediate(): Promise<void> {
    await this.asPostgres(join(this.bin, 'pg_ctl'), ['-D', this.data, '-m', 'immediate', '-w', 'stop']);
  }

  async restart(): Promise<void> {
    await this.stopImmediate();
    await this.start();
  }

  /** A fresh connection as the superuser (the caller ends it). */
  async client(): Promise<Client> {
    const client = new Client({ connectionString: this.url });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async sql<T = any>(text: string, params?: unknown[]): Promise<T[]> {
    const client = await this.client();
    try {
      return (await client.query(text, params as any[])).rows as T[];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * pg_terminate_backend on every client backend but this one (the app's pool connections):
   * returns how many were terminated.
   */
  async terminateAppBackends(): Promise<number> {
    const rows = await this.sql<{ terminated: boolean }>(
      `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
       WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'`,
    );
    return rows.filter((row) => row.terminated).length;
  }

  /** The postmaster's pid, from postmaster.pid (undefined when it is not running). */
  postmasterPid(): number | undefined {
    const file = join(this.data, 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** Stops this cluster (only its own postmaster, by pid) and removes its directory. */
  async destroy(): Promise<void> {
    const pid = this.postmasterPid();
    if (pid !== undefined) {
      await this.stopImmediate().catch(() => undefined);
      if (alive(pid)) {
        try {
          process.kill(pid, 'SIGKILL'); // postmaster.pid names exactly the process we started
        } catch {
          // already gone
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    this.forgetExitHook();
  }

  private async asPostgres(command: string, args: string[]): Promise<void> {
    try {
      await run('runuser', ['-u', 'postgres', '--', command, ...args], { timeout: 90_000 });
    } catch (error) {
      const log = existsSync(join(this.dir, 'log')) ? readFileSync(join(this.dir, 'log'), 'utf8').slice(-2000) : '';
      const { stderr } = error as { stderr?: string };
      throw new Error(`${command} ${args.join(' ')} failed: ${(error as Error).message}\n${stderr ?? ''}\n${log}`);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}
