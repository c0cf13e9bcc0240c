import { connectAll, createGroup, inviteCode, systemMessage } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

/** clearHistory (PROTOCOL §4 "Clear history (for me)", §5 type 23). */
describe('clearHistory', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  const seqsOf = async (c: WsClient, target: Record<string, unknown>) => {
    const reply = await c.request('history', { ...target, limit: 100 });
    expect(reply.code).toBe(200);
    return (dataOf(reply).messages as Array<{ seq: number }>).map((m) => m.seq);
  };
  const counts = async (c: WsClient) => {
    const extra = dataOf(await c.request('sync')).extra;
    const list = dataOf(await c.request('conversations')).conversations as any[];
    return {
      sync: [...extra.friendList.map((i: any) => [i.app_user_id, i.count]), ...extra.groupList.map((i: any) => [i.group_id, i.count])],
      list: list.map((i) => [i.app_user_id ?? i.group_id, i.count]),
    };
  };

  it('one-to-one across two devices: type 23 to the other, hidden on both, peer unaffected, counts 0, later messages shown', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const alice2 = await t.connect('alice');
    for (const text of ['a', 'b', 'c']) await bob.request('chat', { app_user_ids: 'alice', type: 1, content: text });
    await alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'd' });
    await bob.request('chat', { app_user_ids: 'alice', type: 1, content: 'e' });
    expect((await counts(alice)).sync).toEqual([['bob', 1]]);

    const reply = await alice.request('clearHistory', { app_user_ids: 'bob' });
    expect(reply).toMatchObject({ code: 200, action: 'clearHistory' });
    expect(reply.group_id).toBeUndefined();
    expect(dataOf(reply)).toEqual({ seq: 5 });
    const pushed = await systemMessage(alice2, 23);
    expect(pushed).toMatchObject({ code: 200, user_id: expect.any(Number), msg_id: expect.any(Number) });
    expect(pushed.group_id).toBeUndefined();
    expect(dataOf(pushed)).toEqual({ content: '', type: 23, sub_type: 'personal', extra: { seq: 5, to_app_user_id: 'bob' } });
    // only the other connections; bob sees nothing of it
    expect(alice.received((f) => f.action === 'systemMessage' && dataOf(f).type === 23)).toEqual([]);
    expect(bob.received((f) => f.action === 'systemMessage' && dataOf(f).type === 23)).toEqual([]);
    // pushed only, never stored
    expect(await t.sql(`SELECT count(*)::int AS n FROM system_messages`)).toEqual([{ n: 0 }]);

    expect(await seqsOf(alice, { app_user_ids: 'bob' })).toEqual([]);
    expect(await seqsOf(alice2, { app_user_ids: 'bob' })).toEqual([]);
    expect(await seqsOf(bob, { app_user_ids: 'alice' })).toEqual([5, 4, 3, 2, 1]);
    expect(await counts(alice)).toEqual({ sync: [], list: [['bob', 0]] });
    // bob's unread (alice's "d" was acked by nothing: bob sent after it, so 0) is untouched
    expect((await counts(bob)).list).toEqual([['alice', 0]]);

    // paging never reaches below the cleared position
    const older = await alice.request('history', { app_user_ids: 'bob', before_seq: 5 });
    expect(dataOf(older)).toEqual({ messages: [], has_more: false });
    const newer = await alice.request('history', { app_user_ids: 'bob', after_seq: 0 });
    expect(dataOf(newer)).toEqual({ messages: [], has_more: false });

    // later messages show and count as usual
    await bob.request('chat', { app_user_ids: 'alice', type: 1, content: 'f' });
    expect(await seqsOf(alice, { app_user_ids: 'bob' })).toEqual([6]);
    expect((await counts(alice)).sync).toEqual([['bob', 1]]);
    // admin history read as alice hides the same, read as bob does not
    const asAlice = await t.admin.call('GET', '/admin/messages?app_user_id=alice&peer=bob');
    expect(asAlice.body.messages.map((m: any) => m.seq)).toEqual([6]);
    const asBob = await t.admin.call('GET', '/admin/messages?app_user_id=bob&peer=alice');
    expect(asBob.body.messages.map((m: any) => m.seq)).toEqual([6, 5, 4, 3, 2, 1]);

    // clearing again moves on; clearing when nothing is new keeps the position (never back)
    expect(dataOf(await alice2.request('clearHistory', { app_user_ids: 'bob' }))).toEqual({ seq: 6 });
    await systemMessage(alice, 23, (d) => d.extra.seq === 6);
    expect(dataOf(await alice.request('clearHistory', { app_user_ids: 'bob' }))).toEqual({ seq: 6 });
    expect(await seqsOf(alice, { app_user_ids: 'bob' })).toEqual([]);
  });

  it('groups: the member alone is affected; read position moves (never back); other members keep everything', async () => {
    const { alice, bob, carol } = await connectAll(t, ['alice', 'bob', 'carol']);
    const bob2 = await t.connect('bob');
    const gid = await createGroup(alice, ['bob', 'carol']);
    for (const text of ['1', '2', '3']) await alice.request('groupChat', { group_id: gid, type: 1, content: text });
    const reply = await bob.request('clearHistory', { group_id: gid });
    expect(reply).toMatchObject({ code: 200, group_id: gid });
    expect(dataOf(reply)).toEqual({ seq: 3 });
    const pushed = await systemMessage(bob2, 23);
    expect(pushed.group_id).toBe(gid);
    expect(dataOf(pushed)).toEqual({ group_id: gid, content: '', type: 23, sub_type: 'personal', extra: { seq: 3, group_id: gid } });
    expect(carol.received((f) => f.action === 'systemMessage' && dataOf(f).type === 23)).toEqual([]);

    expect(await seqsOf(bob, { group_id: gid })).toEqual([]);
    expect(await seqsOf(carol, { group_id: gid })).toEqual([3, 2, 1]);
    expect((await counts(bob)).sync).toEqual([]);
    expect((await counts(carol)).sync).toEqual([[gid, 3]]);
    const [bobRow] = await t.sql(
      `SELECT m.read_seq, m.cleared_seq FROM conversation_members m JOIN users u ON u.id = m.user_id WHERE u.app_user_id = 'bob' AND m.conversation_id = $1`,
      [gid],
    );
    expect(bobRow).toEqual({ read_seq: 3, cleared_seq: 3 });
    // the admin view of the whole group (no reader) is unaffected; with bob as reader it hides
    expect((await t.admin.call('GET', `/admin/messages?group_id=${gid}`)).body.messages).toHaveLength(3);
    expect((await t.admin.call('GET', `/admin/messages?group_id=${gid}&app_user_id=bob`)).body.messages).toHaveLength(0);

    await alice.request('groupChat', { group_id: gid, type: 1, content: '4' });
    expect(await seqsOf(bob, { group_id: gid })).toEqual([4]);
    expect((await counts(bob)).sync).toEqual([[gid, 1]]);
  });

  it('a re-joined group: the new membership starts at its joining, whatever was cleared before', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const gid = await createGroup(alice, ['bob']);
    for (const text of ['1', '2']) await alice.request('groupChat', { group_id: gid, type: 1, content: text });
    expect(dataOf(await bob.request('clearHistory', { group_id: gid }))).toEqual({ seq: 2 });
    expect((await bob.request('leaveGroup', { extra: { group_id: gid } })).code).toBe(200);
    expect((await bob.request('clearHistory', { group_id: gid })).code).toBe(403);
    await alice.request('groupChat', { group_id: gid, type: 1, content: '3' });
    expect((await bob.request('joinGroup', { extra: { group_id: gid, invite_code: await inviteCode(alice, gid) } })).code).toBe(200);
    await alice.request('groupChat', { group_id: gid, type: 1, content: '4' });
    expect(await seqsOf(bob, { group_id: gid })).toEqual([4]);
    expect(dataOf(await bob.request('clearHistory', { group_id: gid }))).toEqual({ seq: 4 });
    expect(await seqsOf(bob, { group_id: gid })).toEqual([]);
  });

  it('refusals: 403 non-member, 404 unknown user or gone group, 400 bad input; a one-to-one with no message answers seq 0', async () => {
    const { alice, dave } = await connectAll(t, ['alice', 'dave']);
    const alice2 = await t.connect('alice');
    await t.admin.putUser('bob');
    const gid = await createGroup(alice, []);
    expect((await dave.request('clearHistory', { group_id: gid })).code).toBe(403);
    expect((await alice.request('clearHistory', { group_id: '987654' })).code).toBe(404);
    expect((await alice.request('clearHistory', { app_user_ids: 'nobody' })).code).toBe(404);
    expect((await alice.request('clearHistory', { app_user_ids: 'alice' })).code).toBe(400);
    for (const fields of [{}, { app_user_ids: 'bob', group_id: gid }, { group_id: 7 }, { app_user_ids: 'not valid' }]) {
      const bad = await alice.request('clearHistory', fields);
      expect({ fields, code: bad.code }).toEqual({ fields, code: 400 });
      expect(bad.msg).toMatch(/app_user_ids|group_id/);
    }
    expect(alice2.received((f) => f.action === 'systemMessage' && dataOf(f).type === 23)).toEqual([]);
    // no conversation yet: seq 0, nothing created
    expect(dataOf(await alice.request('clearHistory', { app_user_ids: 'bob' }))).toEqual({ seq: 0 });
    await systemMessage(alice2, 23, (d) => d.extra.seq === 0 && d.extra.to_app_user_id === 'bob');
    expect(await t.sql(`SELECT count(*)::int AS n FROM conversations WHERE kind = 1`)).toEqual([{ n: 0 }]);
    expect((await alice.request('clearHistory', { group_id: gid })).code).toBe(200); // an empty group: seq 0
    expect((await alice.request('dissolveGroup', { extra: { group_id: gid } })).code).toBe(200);
    expect((await alice.request('clearHistory', { group_id: gid })).code).toBe(404);
  });
});
