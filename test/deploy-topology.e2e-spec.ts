import { randomBytes } from 'crypto';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EmbeddedDatabase } from '../src/database/embedded-database';
import { AdminClient } from './support/admin';
import { Balancer } from './support/balancer';
import { ChildServer } from './support/child-server';
import { PrivateRedis } from './support/private-redis';
import { ADMIN_TOKEN } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

jest.setTimeout(60_000);

/**
 * The topology of deploy/docker-compose.yml as processes (docs/operations.md, "Several nodes"): two
 * server processes on one database and one redis-server, behind a round-robin TCP balancer standing
 * in for nginx. Clients and the app's back end know only the balancer's address; consecutive
 * connections land on different nodes, and users on different nodes talk, get receipts and see each
 * other's presence. (test/cluster.e2e-spec.ts covers two in-process nodes without a balancer,
 * test/redis-faults.e2e-spec.ts what happens when Redis fails.)
 *
 * Without DATABASE_URL the nodes share an embedded database, one session behind its socket: only
 * the user on node 1 sends chat messages then (see redis-faults), and each node keeps one connection.
 */
describe('two nodes behind a load balancer, one PostgreSQL, one Redis', () => {
  let redis: PrivateRedis;
  let embedded: { db: EmbeddedDatabase; dir: string } | undefined;
  let nodes: ChildServer[] = [];
  let balancer: Balancer;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const dir = mkdtempSync(join(tmpdir(), 'im-topology-'));
      embedded = { db: new EmbeddedDatabase(dir, 8), dir };
      databaseUrl = await embedded.db.start();
    }
    const env = { REDIS_URL: redis.url, DATABASE_URL: databaseUrl, DB_POOL_SIZE: embedded ? '1' : '2', NO_COLOR: '1', MAX_UNAUTHENTICATED_PER_ADDRESS: '10000' };
    // node 1 first: it applies the migrations (node 2 waits for it, as in the compose file)
    nodes = [await ChildServer.start(env)];
    nodes.push(await ChildServer.start(env));
    balancer = await Balancer.start(nodes.map((node) => node.port));
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await balancer?.close();
    await Promise.all(nodes.map((node) => node.stop()));
    await redis?.stop();
    if (embedded) {
      await embedded.db.stop();
      rmSync(embedded.dir, { recursive: true, force: true });
    }
  });

  /** Opens a WebSocket through the balancer and returns it with the node it landed on. */
  async function connectThroughBalancer(token: string): Promise<{ client: WsClient; node: number }> {
    const before = [...balancer.sent];
    const client = await WsClient.open(balancer.port, token);
    clients.push(client);
    await client.waitSync();
    return { client, node: balancer.sent.findIndex((count, i) => count > before[i]) };
  }

  it('a client on each node exchanges messages, read receipts and presence, all through the balancer', async () => {
    // the app's back end talks to the balancer too; its requests land on either node
    const admin = new AdminClient(`http://127.0.0.1:${balancer.port}`, ADMIN_TOKEN);
    // users of this run only: the database is shared with the rest of the suite
    const run = randomBytes(4).toString('hex');
    const [aliceId, bobId] = [`alice-${run}`, `bob-${run}`];
    const { token: aliceToken } = await admin.ensureUserToken(aliceId);
    const { token: bobToken } = await admin.ensureUserToken(bobId);

    const alice = await connectThroughBalancer(aliceToken);
    const bob = await connectThroughBalancer(bobToken);
    expect(alice.node).not.toBe(bob.node);
    // a user on one node sees the other node's user online
    expect(dataOf(await alice.client.request('presence', { app_user_ids: [bobId] }))).toEqual({ online: { [bobId]: true } });
    expect(dataOf(await bob.client.request('presence', { app_user_ids: [aliceId] }))).toEqual({ online: { [aliceId]: true } });

    // the sender is the one on node 1 (see above); which one that is depends on the balancer's turn
    const [sender, receiver, senderId, receiverId] = alice.node === 0 ? [alice, bob, aliceId, bobId] : [bob, alice, bobId, aliceId];
    const sent = await sender.client.request('chat', { type: 1, content: 'across the balancer', app_user_ids: receiverId });
    expect(sent.code).toBe(200);
    const received = await receiver.client.push('chat', (frame) => frame.msg_id === sent.msg_id);
    expect(dataOf(received)).toMatchObject({ content: 'across the balancer', app_user_id: senderId, to_app_user_id: receiverId, seq: 1 });
    const receipt = await receiver.client.request('ack', { msg_id: sent.msg_id, status: 2, app_user_ids: senderId });
    expect(receipt.code).toBe(200);
    expect((await sender.client.push('ack')).msg_id).toBe(sent.msg_id);

    // the receiver leaves: the sender's node sees it offline
    receiver.client.close();
    await receiver.client.closed;
    let online = true;
    for (let i = 0; i < 50 && online; i++) {
      online = dataOf(await sender.client.request('presence', { app_user_ids: [receiverId] })).online[receiverId];
      if (online) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(online).toBe(false);
    expect(balancer.sent.every((count) => count > 0)).toBe(true);
  });
});
