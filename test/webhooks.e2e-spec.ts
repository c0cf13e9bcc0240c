import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ChildServer } from './support/child-server';
import { pgClient, startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';
import { WebhookReceiver } from './support/webhook-receiver';

const SECRET = 'webhook-secret-0123456789';

describe('event webhooks (PROTOCOL §11) from the durable outbox', () => {
  let receiver: WebhookReceiver;
  let server: TestServer;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
    server = await startTestServer({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_POLL_MS: '50' });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await receiver?.stop();
  });
  beforeEach(async () => {
    await server.reset();
    receiver.calls.length = 0;
    receiver.answer = () => ({ status: 200 });
  });

  it('posts message.created signed, with the headers of §11 and the stored message', async () => {
    const alice = await server.connect('alice');
    await server.connect('bob');
    const reply = await alice.request('chat', { type: 1, content: 'hello hook', extra: { k: 1 }, app_user_ids: 'bob' });
    expect(reply.code).toBe(200);
    const [call] = await receiver.until((calls) => calls.length >= 1);
    expect(call.signed).toBe(true);
    expect(call.event).toBe('message.created');
    expect(call.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(call.timestamp)).toBeGreaterThan(0);
    expect(call.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(call.body).toEqual({
      event: 'message.created',
      time: reply.time,
      data: { msg_id: reply.msg_id, seq: 1, time: reply.time, type: 1, content: 'hello hook', extra: { k: 1 }, app_user_id: 'alice', nickname: 'alice-nick', head: '', to_app_user_id: 'bob' },
    });
    // delivered rows leave the outbox
    for (let i = 0; i < 50 && (await server.sql('SELECT id FROM webhook_outbox')).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await server.sql('SELECT id FROM webhook_outbox')).toEqual([]);
  });

  it('keeps the order of a conversation and retries with backoff after receiver errors', async () => {
    const alice = await server.connect('alice');
    await server.connect('bob');
    // the receiver fails the first three calls it sees
    let failures = 3;
    receiver.answer = () => (failures-- > 0 ? { status: 503 } : { status: 204 });
    const sent: number[] = [];
    for (let i = 0; i < 10; i++) sent.push((await alice.request('chat', { type: 1, content: `m${i}`, app_user_ids: 'bob' })).msg_id as number);
    const calls = await receiver.until((all) => new Set(all.filter((c) => c.body.data).map((c) => c.eventId)).size >= 10 && all.length >= 13);
    expect(calls.every((call) => call.signed)).toBe(true);
    // the first event was tried 4 times, each time later than the one before; nothing overtook it
    expect(calls.slice(0, 4).map((call) => call.body.data.msg_id)).toEqual([sent[0], sent[0], sent[0], sent[0]]);
    expect(new Set(calls.slice(0, 4).map((call) => call.eventId)).size).toBe(1);
    const gaps = [1, 2, 3].map((i) => calls[i].at - calls[i - 1].at);
    expect(gaps[1]).toBeGreaterThanOrEqual(100 * 0.9);
    expect(gaps[2]).toBeGreaterThanOrEqual(200 * 0.9);
    const delivered = calls.slice(3).map((call) => call.body.data.msg_id);
    expect(delivered).toEqual(sent);
  });

  it('reports group operations in order with the group\'s messages, and user.disabled', async () => {
    const owner = await server.connect('owner');
    await server.admin.putUser('m1');
    await server.admin.putUser('m2');
    const created = await owner.request('createGroup', { extra: { group_name: 'G', app_user_ids: ['m1'] } });
    const groupId = created.group_id as string;
    await owner.request('groupChat', { type: 1, content: 'first', group_id: groupId });
    await owner.request('editGroup', { extra: { group_id: groupId, notice: 'n' } });
    await owner.request('inviteToGroup', { extra: { group_id: groupId, app_user_ids: ['m2'] } });
    await owner.request('removeFromGroup', { extra: { group_id: groupId, app_user_ids: ['m1'] } });
    const m2 = await server.connect('m2');
    expect((await m2.request('leaveGroup', { extra: { group_id: groupId } })).code).toBe(200);
    await owner.request('dissolveGroup', { extra: { group_id: groupId } });
    expect((await server.admin.call('POST', '/admin/users/m1/disable')).status).toBe(200);
    const calls = await receiver.until((all) => all.length >= 8);
    expect(calls.every((call) => call.signed)).toBe(true);
    const groupCalls = calls.filter((call) => call.event !== 'user.disabled');
    expect(groupCalls.map((call) => call.event)).toEqual([
      'group.created', 'message.created', 'group.edited', 'group.members_joined', 'group.members_removed', 'group.member_left', 'group.dissolved',
    ]);
    expect(groupCalls[0].body.data).toMatchObject({ group_id: groupId, group_name: 'G', owner: 'owner', by: { app_user_id: 'owner' } });
    expect(groupCalls[0].body.data.invite_code).toBeUndefined();
    expect(groupCalls[2].body.data).toMatchObject({ group_id: groupId, notice: 'n', by: { app_user_id: 'owner' } });
    expect(groupCalls[4].body.data).toMatchObject({ removed_member_list: [{ app_user_id: 'm1' }] });
    expect(groupCalls[5].body.data).toMatchObject({ member: { app_user_id: 'm2' }, by: { app_user_id: 'm2' } });
    expect(calls.find((call) => call.event === 'user.disabled')!.body.data).toEqual({ app_user_id: 'm1', nickname: 'm1' });
    expect(new Set(calls.map((call) => call.eventId)).size).toBe(calls.length);
    expect(dataOf(created).group_id).toBe(groupId);
  });

  it('reports edits and recalls after the message they change', async () => {
    const alice = await server.connect('alice');
    await server.connect('bob');
    const sent = await alice.request('chat', { type: 1, content: 'tpyo', app_user_ids: 'bob' });
    expect((await alice.request('edit', { msg_id: sent.msg_id, app_user_ids: 'bob', content: 'typo' })).code).toBe(200);
    expect((await alice.request('recall', { msg_id: sent.msg_id, app_user_ids: 'bob' })).code).toBe(200);
    const calls = await receiver.until((all) => all.length >= 3);
    expect(calls.map((call) => call.event)).toEqual(['message.created', 'message.edited', 'message.recalled']);
    expect(calls[1].body.data).toMatchObject({ msg_id: sent.msg_id, content: 'typo', to_app_user_id: 'bob', app_user_id: 'alice' });
    expect(calls[2].body.data).toMatchObject({ msg_id: sent.msg_id, to_app_user_id: 'bob', by: { app_user_id: 'alice' } });
    expect(calls.every((call) => call.signed)).toBe(true);
  });
});

describe('event webhooks: two nodes on one database', () => {
  let receiver: WebhookReceiver;
  let node1: TestServer;
  let node2: TestServer;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
    const env = { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_POLL_MS: '20', RATE_LIMIT_PER_SEC: '0' };
    node1 = await startTestServer(env);
    node2 = await startTestServer({ ...env, DATABASE_URL: node1.server.databaseUrl });
  }, 120_000);
  afterAll(async () => {
    await node2?.close();
    await node1?.close();
    await receiver?.stop();
  });

  it('deliver every event exactly once between them, in order per conversation', async () => {
    await node2.reset();
    await node1.reset();
    const senders = await Promise.all(['p0', 'p1', 'p2', 'p3', 'p4', 'p5'].map((id, i) => (i % 2 === 0 ? node1 : node2).connect(id)));
    for (const id of ['q0', 'q1', 'q2']) await node1.admin.putUser(id);
    // a slow receiver keeps both nodes' dispatchers busy at once
    receiver.answer = async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { status: 200 };
    };
    const total = 6 * 3 * 8;
    const sends: Array<Promise<unknown>> = [];
    for (let round = 0; round < 8; round++) {
      senders.forEach((sender, i) => ['q0', 'q1', 'q2'].forEach((to) => sends.push(sender.request('chat', { type: 1, content: `${i}-${to}-${round}`, app_user_ids: to }))));
    }
    expect((await Promise.all(sends)).every((reply: any) => reply.code === 200)).toBe(true);
    const calls = await receiver.until((all) => all.length >= total, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a double send to show
    expect(receiver.calls).toHaveLength(total);
    expect(new Set(receiver.calls.map((call) => call.eventId)).size).toBe(total);
    const byConversation = new Map<string, number[]>();
    for (const call of calls) {
      const key = `${call.body.data.app_user_id}>${call.body.data.to_app_user_id}`;
      byConversation.set(key, [...(byConversation.get(key) ?? []), call.body.data.seq]);
    }
    expect(byConversation.size).toBe(18);
    for (const seqs of byConversation.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });
});

describe('event webhooks: at least once across kill -9', () => {
  let receiver: WebhookReceiver;
  let child: ChildServer | undefined;
  let dataDir: string | undefined;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
  });
  afterAll(async () => {
    await child?.stop();
    await receiver?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('an event committed but not delivered when the server is killed is delivered after the restart', async () => {
    const database = process.env.DATABASE_URL;
    if (database) {
      const client = await pgClient();
      await client.query(`TRUNCATE webhook_outbox, system_messages, message_reactions, message_edits, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
      await client.end();
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'im-webhook-kill-'));
    }
    const env = {
      ...(database ? { DATABASE_URL: database } : { DATA_DIR: dataDir! }),
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_TIMEOUT_MS: '500',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_POLL_MS: '50',
      RATE_LIMIT_PER_SEC: '0',
    };
    // the receiver takes the calls and never answers: they are in flight when the server dies
    receiver.answer = () => 'hang';
    child = await ChildServer.start(env, 120_000);
    await child.admin.putUser('bob');
    await child.admin.putUser('alice');
    const alice = await WsClient.open(child.port, (await child.admin.token('alice')).token);
    await alice.waitSync();
    const sent: number[] = [];
    for (let i = 0; i < 20; i++) {
      const reply = await alice.request('chat', { type: 1, content: `before the crash ${i}`, app_user_ids: 'bob' });
      expect(reply.code).toBe(200);
      sent.push(reply.msg_id as number);
    }
    await receiver.until((calls) => calls.length >= 1);
    child.signal('SIGKILL');
    await child.exited;
    alice.close();

    receiver.answer = () => ({ status: 200 });
    child = await ChildServer.start(env, 120_000);
    const delivered = (calls: typeof receiver.calls) => new Set(calls.filter((call) => call.event === 'message.created').map((call) => call.body.data.msg_id));
    await receiver.until((calls) => sent.every((id) => delivered(calls).has(id)), 30_000, 'every message.created after the restart');
    // none missing; a repeat carries the same event id as the first try, so the receiver can drop it
    const idsByMessage = new Map<number, Set<string>>();
    for (const call of receiver.calls) {
      expect(call.signed).toBe(true);
      const ids = idsByMessage.get(call.body.data.msg_id) ?? new Set<string>();
      ids.add(call.eventId);
      idsByMessage.set(call.body.data.msg_id, ids);
    }
    expect([...idsByMessage.keys()].sort((a, b) => a - b)).toEqual(sent);
    for (const ids of idsByMessage.values()) expect(ids.size).toBe(1);
    // in order: the first delivery of each message follows seq
    const firsts: number[] = [];
    for (const call of receiver.calls) if (!firsts.includes(call.body.data.msg_id)) firsts.push(call.body.data.msg_id);
    expect(firsts).toEqual(sent);
  }, 300_000);
});
