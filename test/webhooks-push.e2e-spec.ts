import { PrivateRedis } from './support/private-redis';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';
import { WebhookReceiver } from './support/webhook-receiver';

const SECRET = 'webhook-secret-0123456789';

describe('offline push webhook (PROTOCOL §11) over two nodes', () => {
  let push: WebhookReceiver;
  let redis: PrivateRedis | undefined;
  let node1: TestServer;
  let node2: TestServer;

  beforeAll(async () => {
    push = await WebhookReceiver.start(SECRET);
    const REDIS_URL = process.env.TEST_REDIS_URL ?? (redis = await PrivateRedis.start()).url;
    const env = { REDIS_URL, PUSH_WEBHOOK_URL: push.url, WEBHOOK_SECRET: SECRET, WEBHOOK_POLL_MS: '50', RATE_LIMIT_PER_SEC: '0' };
    node1 = await startTestServer(env);
    node2 = await startTestServer({ ...env, DATABASE_URL: node1.server.databaseUrl });
  }, 120_000);
  afterAll(async () => {
    await node2?.close();
    await node1?.close();
    await redis?.stop();
    await push?.stop();
  });
  beforeEach(async () => {
    await node2.reset();
    await node1.reset();
    push.calls.length = 0;
  });

  /** Waits until `asker` sees every one of `ids` offline (a closed socket leaves presence on both nodes). */
  async function offline(asker: WsClient, ids: string[]): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const online = dataOf(await asker.request('presence', { app_user_ids: ids })).online as Record<string, boolean>;
      if (ids.every((id) => !online[id])) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`still online: ${ids.join(', ')}`);
  }

  it('goes to exactly the recipients offline on every node who did not mute, with exact badges', async () => {
    for (const id of ['s', 'a', 'b', 'c', 'd', 'e', 'x', 'y']) await node1.admin.putUser(id);
    const group = (await node1.admin.call('POST', '/admin/groups', { owner: 's', group_name: 'Team', members: ['a', 'b', 'c', 'd', 'e'] })).body;
    // c: 3 unread from y (muted by c: not in the badge), 2 from x of which one is recalled
    const y = await node2.connect('y');
    for (let i = 0; i < 3; i++) expect((await y.request('chat', { type: 1, content: `y${i}`, app_user_ids: 'c' })).code).toBe(200);
    const x = await node1.connect('x');
    const fromX = [];
    for (let i = 0; i < 2; i++) fromX.push((await x.request('chat', { type: 1, content: `x${i}`, app_user_ids: 'c' })).msg_id);
    expect((await x.request('recall', { app_user_ids: 'c', msg_id: fromX[0] })).code).toBe(200);
    const c = await node2.connect('c');
    expect((await c.request('setConversation', { app_user_ids: 'y', muted: true })).code).toBe(200);
    // d muted the group: no push for it
    const d = await node1.connect('d');
    expect((await d.request('setConversation', { group_id: group.group_id, muted: true })).code).toBe(200);
    c.close();
    d.close();
    const s = await node1.connect('s');
    await node1.connect('a'); // online on node 1
    await node2.connect('b'); // online on node 2
    await offline(s, ['c', 'd']);

    const sent = await s.request('groupChat', { type: 1, content: 'standup in 5', group_id: group.group_id });
    expect(sent.code).toBe(200);
    const calls = await push.until((all) => all.some((call) => call.body.message.msg_id === sent.msg_id));
    const forMessage = calls.filter((call) => call.body.message.msg_id === sent.msg_id);
    expect(forMessage).toHaveLength(1);
    const [call] = forMessage;
    expect(call.signed).toBe(true);
    expect(call.event).toBe('message.offline');
    expect(call.body).toEqual({
      event: 'message.offline',
      message: {
        msg_id: sent.msg_id,
        seq: 1,
        type: 1,
        preview: 'standup in 5',
        sender: { app_user_id: 's', nickname: 's', head: '' },
        group_id: group.group_id,
        group_name: 'Team',
        mentions_me: [],
      },
      recipients: [
        { app_user_id: 'c', badge: 2 },
        { app_user_id: 'e', badge: 1 },
      ],
    });
    // the pushes of the one-to-one messages went to c alone, as their to_app_user_id
    const direct = calls.filter((one) => one.body.message.to_app_user_id !== undefined);
    expect(direct.length).toBeGreaterThan(0);
    for (const one of direct) expect(one.body.recipients.map((r: any) => r.app_user_id)).toEqual(['c']);
    expect(new Set(calls.map((one) => one.eventId)).size).toBe(calls.length);

    // mentions: mentions_me names the offline recipients the message mentions (a is online: no push)
    const mention = await s.request('groupChat', { type: 1, content: '@e @a look', extra: { mentions: ['e', 'a'] }, group_id: group.group_id });
    expect(mention.code).toBe(200);
    const mentionCalls = (await push.until((all) => all.some((one) => one.body.message.msg_id === mention.msg_id))).filter((one) => one.body.message.msg_id === mention.msg_id);
    expect(mentionCalls).toHaveLength(1);
    expect(mentionCalls[0].body.message.mentions_me).toEqual(['e']);
    expect(mentionCalls[0].body.recipients).toEqual([
      { app_user_id: 'c', badge: 3 },
      { app_user_id: 'e', badge: 2 },
    ]);
    // @all mentions every recipient
    const all = await s.request('groupChat', { type: 1, content: 'everyone', extra: { mention_all: true }, group_id: group.group_id });
    expect(all.code).toBe(200);
    const allCalls = (await push.until((every) => every.some((one) => one.body.message.msg_id === all.msg_id))).filter((one) => one.body.message.msg_id === all.msg_id);
    expect(allCalls[0].body.message.mentions_me).toEqual(['c', 'e']);
  });

  it('splits a large group into calls of at most 1,000 recipients', async () => {
    await node1.sql(`INSERT INTO users (app_user_id, nickname, created_at, updated_at) SELECT 'u' || g, 'U' || g, 0, 0 FROM generate_series(1, 1204) g`);
    const members = Array.from({ length: 1204 }, (_, i) => `u${i + 1}`);
    await node1.admin.putUser('boss');
    const group = await node1.admin.call('POST', '/admin/groups', { owner: 'boss', group_name: 'Big', members });
    expect(group.status).toBe(200);
    const boss = await node2.connect('boss');
    const sent = await boss.request('groupChat', { type: 3, extra: { url: 'https://cdn.example/p.jpg', width: 10, height: 10, is_original: 2 }, group_id: group.body.group_id });
    expect(sent.code).toBe(200);
    const calls = await push.until((all) => all.reduce((n, call) => n + call.body.recipients.length, 0) >= 1204);
    expect(calls.map((call) => call.body.recipients.length)).toEqual([1000, 204]);
    const everyone = calls.flatMap((call) => call.body.recipients);
    expect(new Set(everyone.map((r: any) => r.app_user_id))).toEqual(new Set(members));
    expect(everyone.every((r: any) => r.badge === 1)).toBe(true);
    expect(calls.every((call) => call.body.message.preview === '[image]' && call.signed)).toBe(true);
  });
});
