import { connectAll, createGroup, inviteCode } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

/** Reactions (PROTOCOL §4 Reactions) and their state in history. */
describe('reactions', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  const react = (c: WsClient, fields: Record<string, unknown>) => c.request('react', fields);
  const historyOf = async (c: WsClient, target: Record<string, unknown>) => {
    const reply = await c.request('history', target);
    expect(reply.code).toBe(200);
    return dataOf(reply).messages as any[];
  };
  const reactionsOn = async (c: WsClient, target: Record<string, unknown>, msgId: number) =>
    (await historyOf(c, target)).find((m) => m.msg_id === msgId)?.reactions;

  it('adds and removes, idempotently; the reply and the push carry the count after the change', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const alice2 = await t.connect('alice');
    const sent = await alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'hi' });
    const msgId = sent.msg_id!;

    const added = await bob.request('react', { msg_id: msgId, app_user_ids: 'alice', emoji: '👍', op: 'add' });
    expect(added).toMatchObject({ code: 200, action: 'react', user_id: expect.any(Number), msg_id: msgId });
    const expected = { msg_id: msgId, seq: 1, emoji: '👍', op: 'add', app_user_id: 'bob', count: 1 };
    expect(dataOf(added)).toEqual(expected);
    // to every participant's connections: alice's two, not the reactor's own (it has the reply)
    for (const c of [alice, alice2]) {
      const push = await c.push('reaction');
      expect(push).toMatchObject({ code: 200, msg_id: msgId, user_id: added.user_id });
      expect(push.group_id).toBeUndefined();
      expect(dataOf(push)).toEqual(expected);
    }

    // the same add again: 200, same count, nothing pushed
    const again = await bob.request('react', { msg_id: msgId, app_user_ids: 'alice', emoji: '👍', op: 'add' });
    expect(dataOf(again)).toEqual(expected);
    // alice adds the same emoji: count 2
    expect(dataOf(await alice.request('react', { msg_id: msgId, app_user_ids: 'bob', emoji: '👍', op: 'add' })).count).toBe(2);
    await bob.push('reaction', (f) => dataOf(f).app_user_id === 'alice');
    await alice2.push('reaction', (f) => dataOf(f).app_user_id === 'alice');
    expect(alice.received((f) => f.action === 'reaction')).toHaveLength(1); // only bob's first add

    // remove, twice: the second changes nothing and pushes nothing
    const removed = await bob.request('react', { msg_id: msgId, app_user_ids: 'alice', emoji: '👍', op: 'remove' });
    expect(dataOf(removed)).toEqual({ ...expected, op: 'remove', count: 1 });
    await alice.push('reaction', (f) => dataOf(f).op === 'remove');
    expect(dataOf(await bob.request('react', { msg_id: msgId, app_user_ids: 'alice', emoji: '👍', op: 'remove' })).count).toBe(1);
    const noEmoji = await bob.request('react', { msg_id: msgId, app_user_ids: 'alice', emoji: '🎉', op: 'remove' });
    expect(dataOf(noEmoji).count).toBe(0);
    await alice.quietFor(150);
    expect(alice.received((f) => f.action === 'reaction').map((f) => [dataOf(f).app_user_id, dataOf(f).op])).toEqual([
      ['bob', 'add'],
      ['bob', 'remove'],
    ]);
    // never stored as messages or system messages
    expect(await t.sql(`SELECT count(*)::int AS n FROM messages`)).toEqual([{ n: 1 }]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM system_messages`)).toEqual([{ n: 0 }]);
  });

  it('refuses bad input with 400 naming the field, and changes nothing', async () => {
    const { alice } = await connectAll(t, ['alice', 'bob']);
    const msgId = (await alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'hi' })).msg_id!;
    const base = { msg_id: msgId, app_user_ids: 'bob', emoji: '👍', op: 'add' };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...base, emoji: '' }, /emoji/],
      [{ ...base, emoji: 'a b' }, /emoji/],
      [{ ...base, emoji: '👍\n' }, /emoji/],
      [{ ...base, emoji: '\u0007' }, /emoji/],
      [{ ...base, emoji: 5 }, /emoji/],
      [{ ...base, emoji: '😀😀😀😀😀😀😀😀😀' }, /emoji/], // 9 code points (18 UTF-16 units)
      [{ ...base, op: 'toggle' }, /op/],
      [{ ...base, op: undefined }, /op/],
      [{ ...base, msg_id: '1' }, /msg_id/],
      [{ ...base, msg_id: 0 }, /msg_id/],
      [{ ...base, app_user_ids: undefined }, /app_user_ids or group_id/],
      [{ ...base, group_id: '1' }, /app_user_ids or group_id/],
    ];
    for (const [fields, msg] of cases) {
      const reply = await alice.request('react', fields);
      expect({ fields, code: reply.code }).toEqual({ fields, code: 400 });
      expect(reply.msg).toMatch(msg);
    }
    // 8 code points in 16 UTF-16 units is fine, and so is a ZWJ family (7 code points) and a flag
    for (const emoji of ['😀😀😀😀😀😀😀😀', '👨‍👩‍👧‍👦', '🇫🇷', '+1']) {
      expect((await alice.request('react', { ...base, emoji })).code).toBe(200);
    }
    expect(await t.sql(`SELECT count(*)::int AS n FROM message_reactions`)).toEqual([{ n: 4 }]);
  });

  it('at most 20 distinct emoji per message (400 beyond); more reactors on an existing emoji are fine', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const msgId = (await alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'hi' })).msg_id!;
    const emoji = Array.from({ length: 21 }, (_, i) => String.fromCodePoint(0x1f600 + i));
    for (const e of emoji.slice(0, 20)) expect((await alice.request('react', { msg_id: msgId, app_user_ids: 'bob', emoji: e, op: 'add' })).code).toBe(200);
    const over = await bob.request('react', { msg_id: msgId, app_user_ids: 'alice', emoji: emoji[20], op: 'add' });
    expect(over).toMatchObject({ code: 400, msg: expect.stringMatching(/emoji.*20 distinct/) });
    expect((await bob.request('react', { msg_id: msgId, app_user_ids: 'alice', emoji: emoji[0], op: 'add' })).code).toBe(200);
    // freeing one slot makes room for another
    expect((await alice.request('react', { msg_id: msgId, app_user_ids: 'bob', emoji: emoji[1], op: 'remove' })).code).toBe(200);
    expect((await bob.request('react', { msg_id: msgId, app_user_ids: 'alice', emoji: emoji[20], op: 'add' })).code).toBe(200);
    const [{ n }] = await t.sql(`SELECT count(DISTINCT emoji)::int AS n FROM message_reactions WHERE msg_id = $1`, [msgId]);
    expect(n).toBe(20);
  });

  it('the 20-distinct limit holds when many users add different new emoji at once', async () => {
    const users = Array.from({ length: 8 }, (_, i) => `u${i}`);
    const clients = await connectAll(t, ['owner', ...users]);
    const gid = await createGroup(clients.owner, users);
    const msgId = (await clients.owner.request('groupChat', { group_id: gid, type: 1, content: 'vote' })).msg_id!;
    for (let i = 0; i < 17; i++) {
      expect((await clients.owner.request('react', { msg_id: msgId, group_id: gid, emoji: String.fromCodePoint(0x1f600 + i), op: 'add' })).code).toBe(200);
    }
    // 17 used: 8 users race for the last 3 slots, each with a new emoji
    const replies = await Promise.all(
      users.map((u, i) => clients[u as keyof typeof clients].request('react', { msg_id: msgId, group_id: gid, emoji: String.fromCodePoint(0x1f680 + i), op: 'add' })),
    );
    expect(replies.filter((r) => r.code === 200)).toHaveLength(3);
    expect(replies.filter((r) => r.code === 400)).toHaveLength(5);
    const [{ n }] = await t.sql(`SELECT count(DISTINCT emoji)::int AS n FROM message_reactions WHERE msg_id = $1`, [msgId]);
    expect(n).toBe(20);
  });

  it('participants only: 403 for a non-member, 404 for another conversation, before joining, cleared, unknown or recalled', async () => {
    const { alice, bob, carol, dave } = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
    const gid = await createGroup(alice, ['bob']);
    const before = (await alice.request('groupChat', { group_id: gid, type: 1, content: 'before carol' })).msg_id!;
    expect((await carol.request('joinGroup', { extra: { group_id: gid, invite_code: await inviteCode(alice, gid) } })).code).toBe(200);
    const after = (await alice.request('groupChat', { group_id: gid, type: 1, content: 'after carol' })).msg_id!;
    const direct = (await alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'direct' })).msg_id!;
    const add = (c: WsClient, fields: Record<string, unknown>) => react(c, { emoji: '👍', op: 'add', ...fields });

    expect((await add(dave, { msg_id: after, group_id: gid })).code).toBe(403);
    expect((await add(carol, { msg_id: before, group_id: gid })).code).toBe(404); // before carol joined
    expect((await add(carol, { msg_id: after, group_id: gid })).code).toBe(200);
    expect((await add(bob, { msg_id: direct, group_id: gid })).code).toBe(404); // a message of another conversation
    expect((await add(carol, { msg_id: direct, app_user_ids: 'alice' })).code).toBe(404); // not carol's conversation
    expect((await add(dave, { msg_id: direct, app_user_ids: 'alice' })).code).toBe(404); // no conversation at all
    expect((await add(bob, { msg_id: 999999, app_user_ids: 'alice' })).code).toBe(404);
    expect((await add(bob, { msg_id: direct, app_user_ids: 'nobody' })).code).toBe(404);
    expect((await add(bob, { msg_id: direct, app_user_ids: 'bob' })).code).toBe(400);
    expect((await add(bob, { msg_id: after, group_id: '987654' })).code).toBe(404);

    // cleared: bob clears the group, its messages are no longer his to react to
    expect((await bob.request('clearHistory', { group_id: gid })).code).toBe(200);
    expect((await add(bob, { msg_id: after, group_id: gid })).code).toBe(404);
    expect((await add(alice, { msg_id: after, group_id: gid })).code).toBe(200); // others unaffected

    // recalled: 404, and its reactions are gone from history
    expect((await alice.request('recall', { msg_id: after, group_id: gid })).code).toBe(200);
    expect((await add(alice, { msg_id: after, group_id: gid, emoji: '🎉' })).code).toBe(404);
    expect((await react(carol, { msg_id: after, group_id: gid, emoji: '👍', op: 'remove' })).code).toBe(404);
    expect(await reactionsOn(alice, { group_id: gid }, after)).toBeUndefined();
    expect(await t.sql(`SELECT count(*)::int AS n FROM message_reactions`)).toEqual([{ n: 0 }]);
  });

  it('reactions racing a recall: each is 200 or 404, and none survives the recall', async () => {
    const users = Array.from({ length: 6 }, (_, i) => `v${i}`);
    const clients = await connectAll(t, ['owner', ...users]);
    const gid = await createGroup(clients.owner, users);
    for (let round = 0; round < 3; round++) {
      const msgId = (await clients.owner.request('groupChat', { group_id: gid, type: 1, content: `round ${round}` })).msg_id!;
      const reacts = users.map((u, i) =>
        clients[u as keyof typeof clients].request('react', { msg_id: msgId, group_id: gid, emoji: String.fromCodePoint(0x1f600 + i), op: 'add' }),
      );
      const recall = clients.owner.request('recall', { msg_id: msgId, group_id: gid });
      const replies = await Promise.all(reacts);
      expect((await recall).code).toBe(200);
      for (const reply of replies) expect([200, 404]).toContain(reply.code);
      expect(await t.sql(`SELECT count(*)::int AS n FROM message_reactions WHERE msg_id = $1`, [msgId])).toEqual([{ n: 0 }]);
    }
  });

  it('a muted member may not react (403) until the mute is lifted; banned_to_post does not stop reactions', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const gid = await createGroup(alice, ['bob']);
    const msgId = (await alice.request('groupChat', { group_id: gid, type: 1, content: 'hi' })).msg_id!;
    expect((await alice.request('muteMember', { extra: { group_id: gid, app_user_id: 'bob', minutes: 10 } })).code).toBe(200);
    expect(await bob.request('react', { msg_id: msgId, group_id: gid, emoji: '👍', op: 'add' })).toMatchObject({ code: 403, msg: expect.stringMatching(/muted/) });
    expect((await alice.request('muteMember', { extra: { group_id: gid, app_user_id: 'bob', minutes: 0 } })).code).toBe(200);
    expect((await alice.request('editGroup', { extra: { group_id: gid, banned_to_post: 1 } })).code).toBe(200);
    expect((await bob.request('react', { msg_id: msgId, group_id: gid, emoji: '👍', op: 'add' })).code).toBe(200);
  });

  it('group pushes reach every member who can read the message, on every connection, and nobody else', async () => {
    const { alice, bob, carol, dave } = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
    const bob2 = await t.connect('bob');
    const gid = await createGroup(alice, ['bob']);
    const msgId = (await alice.request('groupChat', { group_id: gid, type: 1, content: 'hi' })).msg_id!;
    expect((await carol.request('joinGroup', { extra: { group_id: gid, invite_code: await inviteCode(alice, gid) } })).code).toBe(200);
    const reply = await bob.request('react', { msg_id: msgId, group_id: gid, emoji: '❤️', op: 'add' });
    expect(reply).toMatchObject({ code: 200, group_id: gid });
    for (const c of [alice, bob2]) expect(await c.push('reaction')).toMatchObject({ group_id: gid, msg_id: msgId });
    const late = [...(await carol.quietFor(200, 'reaction')), ...dave.received((f) => f.action === 'reaction'), ...bob.received((f) => f.action === 'reaction')];
    expect(late).toEqual([]); // carol joined after the message, dave is no member, bob has the reply
  });

  it('history carries count, the first 10 reactors earliest first, and me; absent when none', async () => {
    const users = Array.from({ length: 12 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    const clients = await connectAll(t, ['alice', ...users]);
    const gid = await createGroup(clients.alice, users);
    const first = (await clients.alice.request('groupChat', { group_id: gid, type: 1, content: 'one' })).msg_id!;
    const second = (await clients.alice.request('groupChat', { group_id: gid, type: 1, content: 'two' })).msg_id!;
    // reactors in a known order (reverse of their user ids), one at a time, a few ms apart
    const order = [...users].reverse();
    for (const u of order) {
      expect((await clients[u as keyof typeof clients].request('react', { msg_id: first, group_id: gid, emoji: '👍', op: 'add' })).code).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await clients.r03.request('react', { msg_id: first, group_id: gid, emoji: '🎉', op: 'add' });
    await new Promise((resolve) => setTimeout(resolve, 3));
    await clients.alice.request('react', { msg_id: first, group_id: gid, emoji: '🎉', op: 'add' });

    const seen = await reactionsOn(clients.r03, { group_id: gid }, first);
    expect(seen).toEqual([
      { emoji: '👍', count: 12, app_user_ids: order.slice(0, 10), me: true },
      { emoji: '🎉', count: 2, app_user_ids: ['r03', 'alice'], me: true },
    ]);
    const aliceView = await reactionsOn(clients.alice, { group_id: gid }, first);
    expect(aliceView.map((r: any) => [r.emoji, r.me])).toEqual([
      ['👍', false],
      ['🎉', true],
    ]);
    // a message with no reaction has no reactions field
    const page = await historyOf(clients.alice, { group_id: gid });
    expect(page.find((m) => m.msg_id === second)).not.toHaveProperty('reactions');
    // the admin view (no reader): me is false everywhere
    const admin = await t.admin.call('GET', `/admin/messages?group_id=${gid}`);
    const adminFirst = (admin.body as any).messages.find((m: any) => m.msg_id === first);
    expect(adminFirst.reactions.map((r: any) => r.me)).toEqual([false, false]);
  });

  it('one-to-one history shows reactions to both participants', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const msgId = (await alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'hi' })).msg_id!;
    await bob.request('react', { msg_id: msgId, app_user_ids: 'alice', emoji: '😂', op: 'add' });
    expect(await reactionsOn(alice, { app_user_ids: 'bob' }, msgId)).toEqual([{ emoji: '😂', count: 1, app_user_ids: ['bob'], me: false }]);
    expect(await reactionsOn(bob, { app_user_ids: 'alice' }, msgId)).toEqual([{ emoji: '😂', count: 1, app_user_ids: ['bob'], me: true }]);
  });
});
