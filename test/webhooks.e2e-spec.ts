import { ChildServer } from './support/child-server';
import { startTestServer, TestServer } from './support/server';
import { dataOf } from './support/ws-client';
import { WebhookReceiver } from './support/webhook-receiver';

const SECRET = 'webhook-secret-0123456789';

describe('event webhooks (PROTOCOL §11) from the durable outbox', () => {
  let receiver: WebhookReceiver;
  let server: TestServer;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
    server = await startTestServer({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_POLL_MS: '50' });
  });
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
});
