import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { AdminClient } from './support/admin';
import { ChildServer } from './support/child-server';
import { Frame, newNonce, WsClient } from './support/ws-client';

/** Every message of the a↔b conversation, oldest first, through the admin history API. */
async function allMessages(admin: AdminClient, a: string, b: string): Promise<Array<{ seq: number; content: string }>> {
  const messages: Array<{ seq: number; content: string }> = [];
  for (let after = 0; ; ) {
    const { status, body } = await admin.call('GET', `/admin/messages?app_user_id=${a}&peer=${b}&after_seq=${after}&limit=100`);
    if (status !== 200) throw new Error(`history: ${status} ${JSON.stringify(body)}`);
    messages.push(...body.messages);
    if (!body.has_more) return messages;
    after = body.messages[body.messages.length - 1].seq;
  }
}

describe('shutdown (PROTOCOL §2): SIGTERM drains, closes with 1012, loses nothing', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'im-shutdown-'));
  const env: Record<string, string> = { RATE_LIMIT_PER_SEC: '0', ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATA_DIR: dataDir }) };
  let server: ChildServer | undefined;

  beforeAll(async () => {
    if (!process.env.DATABASE_URL) return;
    const client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(`DO $$ BEGIN IF to_regclass('messages') IS NOT NULL THEN
      TRUNCATE system_messages, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE; END IF; END $$`);
    await client.end();
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers what it read, closes every socket with 1012, exits 0; resent messages end stored exactly once', async () => {
    server = await ChildServer.start(env);
    await server.admin.putUser('pipe', 'Pipe');
    await server.admin.putUser('sink', 'Sink');
    const { token } = await server.admin.token('pipe');
    const { token: sinkToken } = await server.admin.token('sink');
    const client = await WsClient.open(server.port, token);
    const sink = await WsClient.open(server.port, sinkToken);
    await client.waitSync();

    // pipeline sends without waiting; SIGTERM lands while many are in flight
    const nonces: string[] = [];
    const replies = new Map<string, Frame>();
    client.socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Frame;
      if (frame.action === 'sendResult' && frame.nonce) replies.set(frame.nonce, frame);
    });
    let open = true;
    void client.closed.then(() => (open = false));
    const pump = (async () => {
      while (open && nonces.length < 1500) {
        for (let i = 0; i < 20 && open; i++) {
          const nonce = newNonce();
          nonces.push(nonce);
          client.send({ action: 'chat', nonce, type: 1, content: nonce, app_user_ids: 'sink' });
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    while (replies.size < 200) await new Promise((resolve) => setTimeout(resolve, 5));
    server.signal('SIGTERM');

    const [closed, sinkClosed, exit] = await Promise.all([client.closed, sink.closed, server.exited]);
    await pump;
    expect(closed.code).toBe(1012);
    expect(sinkClosed.code).toBe(1012);
    expect(exit.code).toBe(0);
    // every request it answered was answered properly: no server failures, no pool-closed errors
    expect([...replies.values()].filter((reply) => reply.code !== 200)).toEqual([]);
    expect(server.output).not.toMatch(/Cannot use a pool after calling end/);
    const answered = new Set(replies.keys());

    // the client reconnects (here: to the restarted server) and resends everything unanswered
    server = await ChildServer.start(env);
    const again = await WsClient.open(server.port, token);
    await again.waitSync();
    const unanswered = nonces.filter((nonce) => !answered.has(nonce));
    for (let i = 0; i < unanswered.length; i += 50) {
      const batch = unanswered.slice(i, i + 50);
      const results = await Promise.all(batch.map((nonce) => again.request('chat', { nonce, type: 1, content: nonce, app_user_ids: 'sink' }, 15_000)));
      for (const result of results) expect([200, 831]).toContain(result.code);
    }
    again.close();

    const stored = await allMessages(server.admin, 'pipe', 'sink');
    expect(stored.map((message) => message.content).sort()).toEqual([...nonces].sort());
    expect(stored.map((message) => message.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(answered.size).toBeGreaterThanOrEqual(200);
  }, 180_000);
});
