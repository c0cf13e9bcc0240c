import { PrivateRedis } from './support/private-redis';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

describe('two nodes over Redis', () => {
  let node1: TestServer;
  let node2: TestServer;
  // a redis-server of this test's own unless TEST_REDIS_URL names one: a shared Redis would mix the
  // pushes and presence of test runs going on at the same time
  let redis: PrivateRedis | undefined;
  let REDIS_URL: string;

  beforeAll(async () => {
    if (process.env.TEST_REDIS_URL) REDIS_URL = process.env.TEST_REDIS_URL;
    else REDIS_URL = (redis = await PrivateRedis.start()).url;
    // a typing window no busy machine outlasts (the throttle test must not depend on timing)
    node1 = await startTestServer({ REDIS_URL, TYPING_INTERVAL_MS: '60000' });
    // node 2 shares node 1's database (PostgreSQL, or node 1's embedded one) and Redis
    node2 = await startTestServer({ REDIS_URL, DATABASE_URL: node1.server.databaseUrl, TYPING_INTERVAL_MS: '60000' });
  });
  afterAll(async () => {
    await node2?.close();
    await node1?.close();
    await redis?.stop();
  });
  beforeEach(async () => {
    await node2.reset(); // closes node 2's clients too
    await node1.reset();
  });

  it('reports Redis in /health', async () => {
    const health = await node1.admin.call('GET', '/health', undefined, null);
    expect(health.status).toBe(200);
    expect(health.body.details.redis.status).toBe('up');
  });

  it('a chat sent on one node reaches the recipient and the sender\'s other device on the other node', async () => {
    const alice = await node1.connect('alice');
    const bob = await node2.connect('bob');
    const aliceWeb = await node2.connect('alice');
    const reply = await alice.request('chat', { type: 1, content: 'across nodes', app_user_ids: 'bob' });
    expect(reply.code).toBe(200);
    const received = await bob.push('chat');
    expect(received.msg_id).toBe(reply.msg_id);
    expect(dataOf(received)).toMatchObject({ content: 'across nodes', app_user_id: 'alice', to_app_user_id: 'bob', seq: 1 });
    expect((await aliceWeb.push('chat')).msg_id).toBe(reply.msg_id);
    expect(await alice.quietFor(200, 'chat')).toHaveLength(0);
  });

  it('presence sees connections held by the other node, and forgets them when they close', async () => {
    const carol = await node2.connect('carol');
    const asker = await node1.connect('dave');
    await node1.admin.putUser('erin');
    const online = await asker.request('presence', { app_user_ids: ['carol', 'erin'] });
    expect(dataOf(online)).toEqual({ online: { carol: true, erin: false } });
    carol.close();
    await carol.closed;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(dataOf(await asker.request('presence', { app_user_ids: ['carol'] }))).toEqual({ online: { carol: false } });
  });

  it('the typing throttle holds across nodes: one push per (user, conversation) whichever node the typist is on', async () => {
    const alice = await node1.connect('alice');
    const aliceWeb = await node2.connect('alice');
    const bob = await node1.connect('bob');
    expect((await alice.request('typing', { app_user_ids: 'bob' })).code).toBe(200);
    expect(dataOf(await bob.push('typing'))).toEqual({ app_user_id: 'alice', to_app_user_id: 'bob' });
    expect((await aliceWeb.request('typing', { app_user_ids: 'bob' })).code).toBe(200);
    expect(await bob.quietFor(300, 'typing')).toEqual([]);
    // bob typing back, from node 1, reaches alice on both nodes
    expect((await bob.request('typing', { app_user_ids: 'alice' })).code).toBe(200);
    for (const c of [alice, aliceWeb]) expect(dataOf(await c.push('typing'))).toEqual({ app_user_id: 'bob', to_app_user_id: 'alice' });
  });

  it('a reaction made on one node reaches the participants on the other', async () => {
    const alice = await node1.connect('alice');
    const bob = await node2.connect('bob');
    const sent = await alice.request('chat', { type: 1, content: 'react to me', app_user_ids: 'bob' });
    expect((await bob.request('react', { msg_id: sent.msg_id, app_user_ids: 'alice', emoji: '👍', op: 'add' })).code).toBe(200);
    expect(dataOf(await alice.push('reaction'))).toMatchObject({ msg_id: sent.msg_id, emoji: '👍', count: 1, app_user_id: 'bob' });
  });

  it('a user disabled through one node is disconnected on the other node', async () => {
    const { token } = await node1.admin.ensureUserToken('bob');
    const onNode2 = await WsClient.open(node2.port, token);
    await onNode2.request('ping');
    expect((await node1.admin.call('POST', '/admin/users/bob/disable')).status).toBe(200);
    expect(await onNode2.push('error')).toMatchObject({ code: 401, msg: 'user disabled' });
    expect((await onNode2.closed).code).toBe(4401);
  });
});

describe('Redis unreachable', () => {
  it('the server still starts, /health answers 503 and /health/live 200', async () => {
    const t = await startTestServer({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const health = await t.admin.call('GET', '/health', undefined, null);
      expect(health.status).toBe(503);
      expect(health.body.details.redis.status).toBe('down');
      expect(health.body.details.database.status).toBe('up');
      expect(await t.admin.call('GET', '/health/live', undefined, null)).toEqual({ status: 200, body: { status: 'ok' } });
    } finally {
      await t.close();
    }
  });
});
