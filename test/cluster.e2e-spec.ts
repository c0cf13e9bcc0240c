import { startTestServer, TestServer } from './support/server';
import { WsClient } from './support/ws-client';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('two nodes over Redis', () => {
  let node1: TestServer;
  let node2: TestServer;

  beforeAll(async () => {
    node1 = await startTestServer({ REDIS_URL });
    // node 2 shares node 1's database (PostgreSQL, or node 1's embedded one) and Redis
    node2 = await startTestServer({ REDIS_URL, DATABASE_URL: node1.server.databaseUrl });
  });
  afterAll(async () => {
    await node2?.close();
    await node1?.close();
  });
  beforeEach(() => node1.reset());

  it('reports Redis in /health', async () => {
    const health = await node1.admin.call('GET', '/health', undefined, null);
    expect(health.status).toBe(200);
    expect(health.body.details.redis.status).toBe('up');
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
  it('the server still starts and /health answers 503', async () => {
    const t = await startTestServer({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const health = await t.admin.call('GET', '/health', undefined, null);
      expect(health.status).toBe(503);
      expect(health.body.details.redis.status).toBe('down');
      expect(health.body.details.database.status).toBe('up');
    } finally {
      await t.close();
    }
  });
});
