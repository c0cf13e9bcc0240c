import { checkConsistency, SendLog, SentMessage } from './support/consistency-checker';
import { PrivatePostgres } from './support/private-postgres';
import { startTestServer, TestServer } from './support/server';
import { TcpProxy } from './support/tcp-proxy';
import { dataOf, newNonce, WsClient } from './support/ws-client';

/**
 * The server against a PostgreSQL cluster of its own that the test kills and restarts (never the
 * shared one): backends terminated under load, then the whole cluster stopped hard for 5 s. The
 * process must live through it, answer code 0 (never hang, never 200 for what is not stored), say 503
 * on /health and on upgrades meanwhile, and recover by itself; a retry of every unsettled send with
 * its nonce then stores each exactly once (checked by the consistency checker).
 */

const SENDERS = ['s0', 's1', 's2', 's3'];
const PEERS = ['p0', 'p1', 'p2', 'p3'];
const FRESH_PER_SENDER = 25;
const REPLY_TIMEOUT_MS = 20_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('database faults (private PostgreSQL cluster)', () => {
  let pg: PrivatePostgres;
  let t: TestServer;
  let clients: Record<string, WsClient>;
  let groupId: string;
  let log: SendLog;
  let edits: number[];
  const requests = new Map<SentMessage, { client: WsClient; fields: Record<string, unknown> }>();
  let wave = 0;

  beforeAll(async () => {
    pg = await PrivatePostgres.create();
    t = await startTestServer({ DATABASE_URL: pg.url, RATE_LIMIT_PER_SEC: '0', DB_POOL_SIZE: '10' });
  }, 120_000);

  afterAll(async () => {
    await t?.close().catch(() => undefined);
    await pg?.destroy();
  }, 60_000);

  beforeEach(async () => {
    await t.reset();
    log = new SendLog();
    edits = [];
    requests.clear();
    wave = 0;
    clients = {};
    for (const id of SENDERS) clients[id] = await t.connect(id);
    const fresh = SENDERS.flatMap((_, i) => Array.from({ length: FRESH_PER_SENDER }, (_, k) => `f${i}_${k}`));
    await Promise.all([...PEERS, ...fresh].map((id) => t.admin.putUser(id, `${id}-nick`)));
    const created = await clients.s0.request('createGroup', { extra: { group_name: 'faults', app_user_ids: [...SENDERS.slice(1), 'p0'] } });
    expect(created.code).toBe(200);
    groupId = created.group_id!;
    // conversations with the peers exist before the faults; the fresh users get first messages under them
    for (let i = 0; i < SENDERS.length; i++) await send(SENDERS[i], 'chat', PEERS[i], { type: 1, content: 'hello', app_user_ids: PEERS[i] });
    expect(log.sent.every((entry) => entry.codes[0] === 200)).toBe(true);
  }, 60_000);

  /** One send, logged; resolves when its reply came (or did not, within the timeout). */
  async function send(sender: string, action: string, to: string, fields: Record<string, unknown>): Promise<void> {
    const entry = log.add(sender, action, to, newNonce());
    requests.set(entry, { client: clients[sender], fields });
    await attempt(entry);
  }

  async function attempt(entry: SentMessage): Promise<void> {
    const { client, fields } = requests.get(entry)!;
    try {
      log.reply(entry, await client.request(entry.action, { ...fields, nonce: entry.nonce }, REPLY_TIMEOUT_MS));
    } catch {
      // no reply: it counts as unsettled and is retried
    }
  }

  /** Each sender: a chat to its peer, a first message to a fresh user, a group message; the owner edits the group. */
  async function oneWave(): Promise<void> {
    const w = wave++;
    const work: Array<Promise<void>> = [];
    SENDERS.forEach((sender, i) => {
      const fresh = `f${i}_${w % FRESH_PER_SENDER}`;
      work.push(send(sender, 'chat', PEERS[i], { type: 1, content: `w${w} to peer`, app_user_ids: PEERS[i] }));
      work.push(send(sender, 'chat', fresh, { type: 1, content: `w${w} first`, app_user_ids: fresh }));
      work.push(send(sender, 'groupChat', groupId, { type: 1, content: `w${w} group`, group_id: groupId }));
    });
    work.push(
      clients.s0.request('editGroup', { extra: { group_id: groupId, notice: `notice ${w}` } }, REPLY_TIMEOUT_MS).then(
        (reply) => void edits.push(reply.code),
        () => void edits.push(-1),
      ),
    );
    await Promise.all(work);
  }

  /** Waves until `stop()` is called; resolves when the last wave's replies are in. */
  function burst(): { stop: () => Promise<void> } {
    let running = true;
    const loops = Array.from({ length: 3 }, async () => {
      while (running) {
        await oneWave();
        await sleep(25);
      }
    });
    return {
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  /** Retries every send without a final answer (no reply or code 0) with its nonce until all are settled. */
  async function settle(): Promise<void> {
    for (let round = 0; round < 10 && log.unsettled().length > 0; round++) {
      await Promise.all(log.unsettled().map((entry) => attempt(entry)));
      if (log.unsettled().length > 0) await sleep(500);
    }
    expect(log.unsettled().map((entry) => `${entry.senderAppUserId} ${entry.nonce} ${JSON.stringify(entry.codes)}`)).toEqual([]);
  }

  /** What happened, for the record (never asserted: it depends on timing). */
  function report(label: string): void {
    const zero = log.sent.filter((entry) => entry.codes.includes(0));
    const storedAfterAll = zero.filter((entry) => entry.codes.includes(831));
    console.info(`${label}: ${log.sent.length} sends, ${zero.length} answered code 0 at least once, ${storedAfterAll.length} of those were stored after all (831 on retry), ${edits.length} group edits (${edits.filter((code) => code === 0).length} code 0)`);
  }

  async function expectConsistent(): Promise<void> {
    for (const client of Object.values(clients)) client.close();
    const problems = await checkConsistency(t.sql, log, { connect: (id) => t.connect(id) });
    expect(problems).toEqual([]);
  }

  async function health(): Promise<number> {
    try {
      return (await fetch(`${t.baseUrl}/health`)).status;
    } catch {
      return -1;
    }
  }

  /** Polls `probe` until it returns true; the elapsed ms (fails after `boundMs`). */
  async function until(probe: () => Promise<boolean>, boundMs: number, what: string): Promise<number> {
    const started = Date.now();
    while (!(await probe())) {
      if (Date.now() - started > boundMs) throw new Error(`${what}: not within ${boundMs} ms`);
      await sleep(20);
    }
    return Date.now() - started;
  }

  it('survives its backends being terminated again and again under sends, first messages and group edits', async () => {
    const load = burst();
    let terminated = 0;
    const until3s = Date.now() + 3000;
    while (Date.now() < until3s) {
      terminated += await pg.terminateAppBackends();
      await sleep(30);
    }
    await load.stop();
    expect(terminated).toBeGreaterThan(0);
    expect(edits.every((code) => code === 200 || code === 0)).toBe(true);
    const answered = log.sent.filter((entry) => entry.codes.length > 0);
    expect(answered.length).toBeGreaterThan(0);
    // 831 first is possible too: a batch that committed just before its connection died is re-run alone
    expect(answered.filter((entry) => ![0, 200, 831].includes(entry.codes[0]))).toEqual([]);

    await settle();
    report('backends terminated');
    await expectConsistent();
  }, 120_000);

  it('lives through PostgreSQL stopped for 5 s: code 0 and 503 meanwhile, back by itself, retries stored once', async () => {
    const { token } = await t.admin.token('s1');
    const load = burst();
    await sleep(300);
    await pg.stopImmediate();
    const stoppedAt = Date.now();

    // during the outage: answers, not silence; /health and upgrades say 503
    await until(async () => (await health()) === 503, 10_000, '/health 503 during the outage');
    expect((await t.admin.call('GET', '/health', undefined, null)).body).toMatchObject({ details: { database: { status: 'down' } } });
    expect(await WsClient.refusedStatus(t.port, token)).toBe(503);
    const during = log.add('s2', 'chat', 'p2', newNonce());
    requests.set(during, { client: clients.s2, fields: { type: 1, content: 'during the outage', app_user_ids: 'p2' } });
    await attempt(during);
    expect(during.codes).toEqual([0]);

    await sleep(Math.max(0, stoppedAt + 5000 - Date.now()));
    await pg.start();
    const healthMs = await until(async () => (await health()) === 200, 30_000, '/health 200 after the restart');
    const sendMs = await until(
      async () => {
        const entry = log.add('s3', 'chat', 'p3', newNonce());
        requests.set(entry, { client: clients.s3, fields: { type: 1, content: 'after the restart', app_user_ids: 'p3' } });
        await attempt(entry);
        return entry.codes[0] === 200;
      },
      30_000,
      'a send answered 200 after the restart',
    );
    await load.stop();
    // what recovery took (reported, never asserted)
    console.info(`database back: /health 200 after ${healthMs} ms, first send 200 after ${healthMs + sendMs} ms`);

    expect(log.sent.filter((entry) => entry.codes.length === 0)).toEqual([]); // every request was answered
    expect(edits.every((code) => code === 200 || code === 0)).toBe(true);
    expect(log.sent.some((entry) => entry.codes[0] === 0)).toBe(true);

    await settle();
    report('PostgreSQL stopped');
    await expectConsistent();
  }, 120_000);

  it('a system message whose received mark fails to be written still arrives once', async () => {
    const undelivered = async (appUserId: string) =>
      (
        await t.sql<{ count: number }>(
          `SELECT count(*)::int AS count FROM system_messages s JOIN users u ON u.id = s.recipient_id WHERE u.app_user_id = $1 AND s.delivered_at IS NULL`,
          [appUserId],
        )
      )[0].count;
    await until(async () => (await undelivered('s1')) === 0, 10_000, "s1's invitation (17) marked received");
    // a real failure in the database: the UPDATE that marks a system message received raises while
    // `receipt_faults` says so (a sequence: not rolled back with the failing statement, so it counts attempts)
    await t.sql(`CREATE SEQUENCE receipt_attempts`);
    await t.sql(`CREATE TABLE receipt_faults (failing boolean NOT NULL)`);
    await t.sql(`INSERT INTO receipt_faults VALUES (true)`);
    await t.sql(`
      CREATE FUNCTION fail_receipt() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM nextval('receipt_attempts');
        IF (SELECT failing FROM receipt_faults) THEN RAISE EXCEPTION 'injected: cannot mark received'; END IF;
        RETURN NEW;
      END $$`);
    await t.sql(`
      CREATE TRIGGER fail_receipt BEFORE UPDATE OF delivered_at ON system_messages FOR EACH ROW
      WHEN (OLD.delivered_at IS NULL AND NEW.delivered_at IS NOT NULL) EXECUTE FUNCTION fail_receipt()`);
    try {
      const attempts = async () => (await t.sql<{ n: number }>(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM receipt_attempts`))[0].n;
      const edited = await clients.s0.request('editGroup', { extra: { group_id: groupId, group_name: 'renamed' } });
      expect(edited.code).toBe(200);
      const live = await clients.s1.push('systemMessage', (frame) => dataOf(frame).type === 12 && dataOf(frame).extra.group_name === 'renamed');
      await until(async () => (await attempts()) >= 1, 10_000, 'a failed attempt to mark the 12 received');
      expect(await undelivered('s1')).toBe(1);

      // reconnecting while the mark still fails: the 12 is not pushed again
      clients.s1.close();
      await clients.s1.closed;
      clients.s1 = await t.connect('s1');
      expect((await clients.s1.quietFor(500, 'systemMessage')).filter((frame) => frame.msg_id === live.msg_id)).toEqual([]);

      await until(async () => (await attempts()) >= 4, 10_000, 'the mark retried');
      // the fault ends: the retried mark lands by itself, and a later connect does not get the 12 either
      await t.sql(`UPDATE receipt_faults SET failing = false`);
      await until(async () => (await undelivered('s1')) === 0, 15_000, 'the retried mark written');
      clients.s1.close();
      await clients.s1.closed;
      clients.s1 = await t.connect('s1');
      expect((await clients.s1.quietFor(500, 'systemMessage')).filter((frame) => frame.msg_id === live.msg_id)).toEqual([]);
      expect(clients.s1.received((frame) => frame.msg_id === live.msg_id)).toEqual([]);
    } finally {
      await t.sql(`DROP TRIGGER IF EXISTS fail_receipt ON system_messages`);
      await t.sql(`DROP FUNCTION IF EXISTS fail_receipt()`);
      await t.sql(`DROP TABLE IF EXISTS receipt_faults`);
      await t.sql(`DROP SEQUENCE IF EXISTS receipt_attempts`);
    }
  }, 60_000);

  it('a message stored whose reply was lost: code 0, then on retry 831 with it, pushed then, stored once', async () => {
    // a second server whose database connections go through a proxy that can lose the database's reply
    const proxy = await TcpProxy.start(pg.port);
    const viaProxy = await startTestServer({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${proxy.port}/postgres`, RATE_LIMIT_PER_SEC: '0' });
    try {
      const sender = await viaProxy.connect('s1');
      const recipient = await viaProxy.connect('p1');
      await sleep(300); // the connects' own writes are done
      const entry = log.add('s1', 'chat', 'p1', newNonce());
      const fields = { type: 1, content: 'its reply is lost', app_user_ids: 'p1', nonce: entry.nonce };
      proxy.cutAfterNextRequest(300);
      log.reply(entry, await sender.request('chat', fields, REPLY_TIMEOUT_MS));
      expect(entry.codes).toEqual([0]);
      const [stored] = await pg.sql<{ id: number }>(
        `SELECT m.id FROM messages m JOIN users u ON u.id = m.sender_id WHERE u.app_user_id = 's1' AND m.nonce = $1`,
        [entry.nonce],
      );
      expect(stored).toBeDefined(); // committed: only the reply was lost
      expect(recipient.received((frame) => frame.nonce === entry.nonce)).toEqual([]);

      proxy.pass();
      const retry = await sender.request('chat', fields, REPLY_TIMEOUT_MS);
      log.reply(entry, retry);
      expect(retry).toMatchObject({ code: 831, msg_id: stored.id });
      const pushed = await recipient.push('chat', (frame) => frame.nonce === entry.nonce);
      expect(pushed).toMatchObject({ msg_id: stored.id, data: retry.data });
      const again = await sender.request('chat', fields, REPLY_TIMEOUT_MS);
      log.reply(entry, again);
      expect(again).toMatchObject({ code: 831, msg_id: stored.id });
      expect((await recipient.quietFor(300, 'chat')).filter((frame) => frame.nonce === entry.nonce)).toEqual([]); // pushed once

      for (const client of Object.values(clients)) client.close();
      expect(await checkConsistency(t.sql, log)).toEqual([]);
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  }, 60_000);

  it('system messages claimed on connect whose claim reply was lost are given back and arrive once later', async () => {
    const proxy = await TcpProxy.start(pg.port);
    const viaProxy = await startTestServer({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${proxy.port}/postgres`, RATE_LIMIT_PER_SEC: '0' });
    const invited = await clients.s0.request('inviteToGroup', { extra: { group_id: groupId, app_user_ids: ['p2'] } });
    expect(invited.code).toBe(200); // p2 is offline: its 17 waits in system_messages
    const row = async () =>
      (
        await pg.sql<{ msg_id: number; delivered_at: number | null }>(
          `SELECT s.msg_id, s.delivered_at FROM system_messages s JOIN users u ON u.id = s.recipient_id WHERE u.app_user_id = 'p2' AND s.type = 17`,
        )
      )[0];
    const { msg_id: invitation } = await row();
    // p2's claim on connect is slow (a trigger sleeps), so the line can be cut while PostgreSQL commits it
    await t.sql(`CREATE TABLE claim_faults (slow boolean NOT NULL)`);
    await t.sql(`INSERT INTO claim_faults VALUES (true)`);
    await t.sql(`
      CREATE FUNCTION slow_claim() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (SELECT slow FROM claim_faults) AND NEW.recipient_id = (SELECT id FROM users WHERE app_user_id = 'p2') THEN PERFORM pg_sleep(1.5); END IF;
        RETURN NEW;
      END $$`);
    await t.sql(`
      CREATE TRIGGER slow_claim BEFORE UPDATE OF delivered_at ON system_messages FOR EACH ROW
      WHEN (OLD.delivered_at IS NULL AND NEW.delivered_at IS NOT NULL) EXECUTE FUNCTION slow_claim()`);
    try {
      const { token } = await viaProxy.admin.token('p2');
      const first = await WsClient.open(viaProxy.port, token);
      await first.waitSync();
      await sleep(500); // the claim is in the trigger now
      proxy.refuse(); // the claim commits, its reply is lost; new database connections are refused
      await until(async () => (await row()).delivered_at !== null, 5_000, 'the claim committed');
      await sleep(1500);
      expect(first.received((frame) => frame.msg_id === invitation)).toEqual([]); // claimed, never written
      await t.sql(`UPDATE claim_faults SET slow = false`);
      proxy.pass();
      await until(async () => (await row()).delivered_at === null, 15_000, 'the claim given back');
      first.close();

      const again = await viaProxy.connect('p2');
      await again.push('systemMessage', (frame) => frame.msg_id === invitation);
      expect((await again.quietFor(300, 'systemMessage')).filter((frame) => frame.msg_id === invitation)).toEqual([]);
      await until(async () => (await row()).delivered_at !== null, 5_000, 'the 17 marked received');
    } finally {
      await viaProxy.close();
      await proxy.close();
      await t.sql(`DROP TRIGGER IF EXISTS slow_claim ON system_messages`);
      await t.sql(`DROP FUNCTION IF EXISTS slow_claim()`);
      await t.sql(`DROP TABLE IF EXISTS claim_faults`);
    }
  }, 60_000);
});
