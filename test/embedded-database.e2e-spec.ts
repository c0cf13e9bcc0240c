import { mkdtempSync, rmSync } from 'fs';
import { connect, Socket } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { EmbeddedDatabase } from '../src/database/embedded-database';

/**
 * The embedded database holds the token signing key: its loopback listener must serve nobody who
 * lacks the password of its URL (docs/operations.md "Embedded database access"). Runs on a real
 * PGlite behind the real listener, whatever DATABASE_URL says.
 */
describe('embedded database access', () => {
  let dataDir: string;
  let embedded: EmbeddedDatabase;
  let url: URL;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'im-embedded-'));
    embedded = new EmbeddedDatabase(dataDir, 4);
    url = new URL(await embedded.start());
    const client = new Client({ connectionString: url.href });
    await client.connect();
    await client.query(`CREATE TABLE IF NOT EXISTS server_settings (key text PRIMARY KEY, value text NOT NULL)`);
    await client.query(`INSERT INTO server_settings VALUES ('token_secret', 'the-signing-key') ON CONFLICT DO NOTHING`);
    await client.end();
  }, 180_000); // a fresh PGlite data directory (initdb) takes long on a loaded machine
  afterAll(async () => {
    await embedded?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const withPassword = (password: string | null) => {
    const copy = new URL(url.href);
    copy.password = password ?? '';
    return copy.href;
  };

  it('listens on loopback only, and its URL carries a long random password', () => {
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.username).toBe('postgres');
    expect(url.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const other = new EmbeddedDatabase(dataDir, 1);
    expect((other as any).password).not.toBe(url.password);
  });

  it('serves a client that has the password (SCRAM-SHA-256), transactions included', async () => {
    const client = new Client({ connectionString: url.href });
    await client.connect();
    try {
      expect((await client.query(`SELECT value FROM server_settings WHERE key = 'token_secret'`)).rows).toEqual([{ value: 'the-signing-key' }]);
      await client.query('BEGIN');
      await client.query(`INSERT INTO server_settings VALUES ('k', 'v')`);
      await client.query('ROLLBACK');
      expect((await client.query(`SELECT count(*)::int AS n FROM server_settings WHERE key = 'k'`)).rows).toEqual([{ n: 0 }]);
    } finally {
      await client.end();
    }
  });

  it('refuses a wrong password with 28P01', async () => {
    for (const password of ['wrong', url.password.slice(0, -1), url.password + 'x']) {
      const client = new Client({ connectionString: withPassword(password) });
      client.on('error', () => undefined);
      await expect(client.connect()).rejects.toMatchObject({ code: '28P01' });
    }
  });

  it('refuses a client without a password: pg cannot even answer the SCRAM challenge', async () => {
    const client = new Client({ connectionString: withPassword(null) });
    client.on('error', () => undefined);
    await expect(client.connect()).rejects.toThrow(/password/);
    await client.end().catch(() => undefined);
  });

  it('executes nothing a raw client sends before authenticating, and hangs up on it', async () => {
    // startup, then a query straight away, as a client trusting the old listener would
    const socket = await open();
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(Buffer.concat([startupMessage({ user: 'postgres', database: 'postgres' }), query(`SELECT value FROM server_settings`)]));
    await closed;
    const messages = parseMessages(Buffer.concat(received));
    expect(messages.map((m) => m.type)).toEqual(['R', 'E']);
    expect(messages[0].body.readInt32BE(0)).toBe(10); // AuthenticationSASL
    expect(messages[1].body.toString()).toContain('C08P01');
    expect(Buffer.concat(received).toString()).not.toContain('the-signing-key');
  });

  it('answers an SSL request with N and still requires the password', async () => {
    const socket = await open();
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8, 0);
    ssl.writeInt32BE(80877103, 4);
    socket.write(ssl);
    socket.write(startupMessage({ user: 'postgres' }));
    await until(() => Buffer.concat(received).length >= 1 + 9);
    const all = Buffer.concat(received);
    expect(all.subarray(0, 1).toString()).toBe('N');
    expect(parseMessages(all.subarray(1))[0]).toMatchObject({ type: 'R' });
    socket.destroy();
  });

  it('lets a second client (another node given the URL) share the database', async () => {
    const [a, b] = [new Client({ connectionString: url.href }), new Client({ connectionString: url.href })];
    await a.connect();
    await b.connect();
    try {
      await a.query('BEGIN');
      await a.query(`INSERT INTO server_settings VALUES ('shared', '1')`);
      const seenByB = b.query(`SELECT count(*)::int AS n FROM server_settings WHERE key = 'shared'`);
      await a.query('COMMIT');
      expect((await seenByB).rows[0].n).toBe(1); // b waited for a's transaction (one session behind the queue)
    } finally {
      await a.end();
      await b.end();
    }
  });

  function open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => resolve(socket));
      socket.once('error', reject);
    });
  }
});

function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.concat([...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)), Buffer.from('\0')]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

function query(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`);
  const head = Buffer.alloc(5);
  head.write('Q', 0);
  head.writeInt32BE(4 + text.length, 1);
  return Buffer.concat([head, text]);
}

function parseMessages(buffer: Buffer): Array<{ type: string; body: Buffer }> {
  const messages: Array<{ type: string; body: Buffer }> = [];
  for (let at = 0; at + 5 <= buffer.length; ) {
    const length = buffer.readInt32BE(at + 1);
    messages.push({ type: String.fromCharCode(buffer[at]), body: buffer.subarray(at + 5, at + 1 + length) });
    at += 1 + length;
  }
  return messages;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
