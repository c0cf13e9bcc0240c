import { connectAll, createGroup } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Typing indicators (PROTOCOL §4 Typing, §7): throttle, 200-member cap, never stored. */
describe('typing', () => {
  let t: TestServer;

  beforeAll(async () => {
    // a window no busy machine outlasts: "inside the window" never depends on timing
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0', TYPING_INTERVAL_MS: '60000' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  const typing = (c: WsClient, fields: Record<string, unknown>) => c.request('typing', fields);

  it('pushes to the other participant, at most once per window per (user, conversation); never stored', async () => {
    const { alice, bob, carol } = await connectAll(t, ['alice', 'bob', 'carol']);
    const alice2 = await t.connect('alice');
    const reply = await typing(alice, { app_user_ids: 'bob' });
    expect(reply).toMatchObject({ code: 200, action: 'typingResult', msg: 'OK' });
    expect(reply.data).toBeUndefined();
    const push = await bob.push('typing');
    expect(push).toMatchObject({ code: 200, action: 'typing', user_id: expect.any(Number) });
    expect(push.group_id).toBeUndefined();
    expect(dataOf(push)).toEqual({ app_user_id: 'alice', to_app_user_id: 'bob' });

    // inside the window (60 s here): 200 and no push; another conversation and another user are separate keys
    expect((await typing(alice, { app_user_ids: 'bob' })).code).toBe(200);
    expect((await typing(alice2, { app_user_ids: 'bob' })).code).toBe(200); // the same user on another device
    expect((await typing(alice, { app_user_ids: 'carol' })).code).toBe(200);
    await carol.push('typing', (f) => dataOf(f).app_user_id === 'alice');
    expect((await typing(bob, { app_user_ids: 'alice' })).code).toBe(200);
    for (const c of [alice, alice2]) await c.push('typing', (f) => dataOf(f).app_user_id === 'bob');
    expect(await bob.quietFor(200, 'typing')).toEqual([]);
    expect(bob.received((f) => f.action === 'typing')).toHaveLength(1);
    // the typist's own other connections get nothing
    expect(alice2.received((f) => f.action === 'typing' && dataOf(f).app_user_id === 'alice')).toEqual([]);

    // never stored
    expect(await t.sql(`SELECT count(*)::int AS n FROM messages`)).toEqual([{ n: 0 }]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM system_messages`)).toEqual([{ n: 0 }]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM conversations`)).toEqual([{ n: 0 }]);
  });

  it('after the window the next typing is pushed again (TYPING_INTERVAL_MS)', async () => {
    const short = await startTestServer({ RATE_LIMIT_PER_SEC: '0', TYPING_INTERVAL_MS: '250' });
    try {
      await short.reset();
      const alice = await short.connect('alice');
      const bob = await short.connect('bob');
      expect((await typing(alice, { app_user_ids: 'bob' })).code).toBe(200);
      await bob.push('typing');
      await sleep(300);
      expect((await typing(alice, { app_user_ids: 'bob' })).code).toBe(200);
      await bob.push('typing');
      expect(bob.received((f) => f.action === 'typing')).toHaveLength(2);
    } finally {
      await short.close();
    }
  });

  it('with Redis unreachable, typing still works and the throttle holds on this node', async () => {
    const lonely = await startTestServer({ RATE_LIMIT_PER_SEC: '0', TYPING_INTERVAL_MS: '60000', REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      await lonely.reset();
      const alice = await lonely.connect('alice');
      const bob = await lonely.connect('bob');
      expect((await typing(alice, { app_user_ids: 'bob' })).code).toBe(200);
      await bob.push('typing');
      expect((await typing(alice, { app_user_ids: 'bob' })).code).toBe(200);
      expect(await bob.quietFor(200, 'typing')).toEqual([]);
    } finally {
      await lonely.close();
    }
  });

  it('groups: to the other members; 403 for a non-member, 404 for a gone group, 400 for bad input', async () => {
    const { alice, bob, carol, dave } = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
    const gid = await createGroup(alice, ['bob', 'carol']);
    const reply = await typing(bob, { group_id: gid });
    expect(reply).toMatchObject({ code: 200, action: 'typingResult', group_id: gid });
    for (const c of [alice, carol]) {
      const push = await c.push('typing');
      expect(push.group_id).toBe(gid);
      expect(dataOf(push)).toEqual({ app_user_id: 'bob', group_id: gid });
    }
    expect(await bob.quietFor(150, 'typing')).toEqual([]);
    expect(dave.received((f) => f.action === 'typing')).toEqual([]);

    expect((await typing(dave, { group_id: gid })).code).toBe(403);
    expect((await typing(alice, { group_id: '987654' })).code).toBe(404);
    expect((await typing(alice, { app_user_ids: 'nobody' })).code).toBe(404);
    expect((await typing(alice, { app_user_ids: 'alice' })).code).toBe(400);
    for (const fields of [{}, { app_user_ids: 'bob', group_id: gid }, { group_id: 3 }, { app_user_ids: ['bob', 'carol'] }]) {
      const bad = await typing(alice, fields);
      expect({ fields, code: bad.code }).toEqual({ fields, code: 400 });
      expect(bad.msg).toMatch(/app_user_ids|group_id/);
    }
    expect((await alice.request('dissolveGroup', { extra: { group_id: gid } })).code).toBe(200);
    expect((await typing(bob, { group_id: gid })).code).toBe(404);
  });

  it('a muted member gets 200 and pushes nothing (they cannot send what they type)', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const gid = await createGroup(alice, ['bob']);
    expect((await alice.request('muteMember', { extra: { group_id: gid, app_user_id: 'bob', minutes: 10 } })).code).toBe(200);
    expect((await typing(bob, { group_id: gid })).code).toBe(200);
    expect(await alice.quietFor(200, 'typing')).toEqual([]);
    expect((await alice.request('muteMember', { extra: { group_id: gid, app_user_id: 'bob', minutes: 0 } })).code).toBe(200);
    expect((await typing(bob, { group_id: gid })).code).toBe(200);
    expect(dataOf(await alice.push('typing'))).toEqual({ app_user_id: 'bob', group_id: gid });
  });

  it('a peer who blocked the typist sees nothing; the typist still gets 200', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    expect((await bob.request('block', { app_user_ids: 'alice' })).code).toBe(200);
    expect((await typing(alice, { app_user_ids: 'bob' })).code).toBe(200);
    expect(await bob.quietFor(200, 'typing')).toEqual([]);
  });

  it('groups of more than 200 members get the reply and no push; at 200 the push goes out', async () => {
    const members = Array.from({ length: 200 }, (_, i) => `m${i}`);
    for (const id of ['owner', ...members]) await t.admin.putUser(id);
    const created = await t.admin.call('POST', '/admin/groups', { owner: 'owner', group_name: 'Big', members });
    expect(created.status).toBe(200);
    const gid = created.body.group_id as string;
    const owner = await t.connect('owner');
    const m0 = await t.connect('m0');
    // 201 members: no push
    expect(await typing(owner, { group_id: gid })).toMatchObject({ code: 200, group_id: gid });
    expect(await m0.quietFor(300, 'typing')).toEqual([]);
    // 200 members: pushed (a different typist, so the throttle is not what decides)
    expect((await t.admin.call('DELETE', `/admin/groups/${gid}/members`, { app_user_ids: ['m199'] })).status).toBe(200);
    const m1 = await t.connect('m1');
    expect((await typing(m1, { group_id: gid })).code).toBe(200);
    expect(dataOf(await m0.push('typing'))).toEqual({ app_user_id: 'm1', group_id: gid });
    expect(dataOf(await owner.push('typing'))).toEqual({ app_user_id: 'm1', group_id: gid });
  });
});
