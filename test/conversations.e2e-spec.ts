import { connectAll, createGroup, disconnect } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

/** The conversation list and per-user conversation settings (PROTOCOL §6). */
describe('conversations and setConversation', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  const page = async (c: WsClient, fields: Record<string, unknown> = {}) => {
    const reply = await c.request('conversations', fields);
    expect(reply).toMatchObject({ code: 200, action: 'conversations' });
    return dataOf(reply) as { conversations: any[]; has_more: boolean };
  };
  const names = (items: any[]) => items.map((item) => item.app_user_id ?? `g${item.group_id}`);
  const unread = async (c: WsClient) => {
    const extra = dataOf(await c.request('sync')).extra;
    return [...extra.friendList.map((i: any) => [i.app_user_id, i.count]), ...extra.groupList.map((i: any) => [i.group_id, i.count])];
  };

  it('lists every conversation with a message: pinned first, then newest first, exact counts (0 included), paged with before_time', async () => {
    const peers = ['p1', 'p2', 'p3', 'p4', 'p5'];
    for (const id of [...peers, 'quiet']) await t.admin.putUser(id, `${id}-nick`);
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    // p1..p5 write to alice in that order; bob twice; alice answers p2 (count 0 for p2)
    const sent: Record<string, number> = {};
    for (const id of peers) {
      const c = await t.connect(id);
      const reply = await c.request('chat', { app_user_ids: 'alice', type: 1, content: `from ${id}` });
      sent[id] = reply.time!;
      c.close();
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct ms
    }
    const gid = await createGroup(bob, ['alice']);
    await bob.request('groupChat', { group_id: gid, type: 1, content: 'group hi' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await alice.request('chat', { app_user_ids: 'p2', type: 1, content: 'answer' });
    // a group with no message and a conversation never written are not listed
    await createGroup(bob, ['alice']);
    expect((await alice.request('setConversation', { app_user_ids: 'quiet', muted: true })).code).toBe(200);

    const first = await page(alice);
    expect(names(first.conversations)).toEqual(['p2', `g${gid}`, 'p5', 'p4', 'p3', 'p1']);
    expect(first.has_more).toBe(false);
    expect(first.conversations[0]).toEqual({
      app_user_id: 'p2',
      nickname: 'p2-nick',
      head: '',
      count: 0,
      mention_count: 0,
      last_message: 'answer',
      last_msg_id: expect.any(Number),
      last_type: 1,
      time: expect.any(Number),
      muted: false,
      pinned: false,
      kind: 'direct',
    });
    expect(first.conversations[1]).toMatchObject({ kind: 'group', group_id: gid, group_name: 'Team', count: 1, last_message: 'group hi' });
    expect(first.conversations.map((c) => c.count)).toEqual([0, 1, 1, 1, 1, 1]);

    // pins: p1 and the group go first (newest first among them), on the first page only, beside `limit` unpinned ones
    expect(await alice.request('setConversation', { app_user_ids: 'p1', pinned: true })).toMatchObject({ code: 200, data: expect.any(String) });
    expect(dataOf(await alice.request('setConversation', { group_id: gid, pinned: true, muted: true }))).toEqual({ muted: true, pinned: true, group_id: gid });
    const pinnedPage = await page(alice, { limit: 2 });
    expect(names(pinnedPage.conversations)).toEqual([`g${gid}`, 'p1', 'p2', 'p5']);
    expect(pinnedPage.conversations.slice(0, 2).map((c) => c.pinned)).toEqual([true, true]);
    expect(pinnedPage.conversations[0].muted).toBe(true);
    expect(pinnedPage.has_more).toBe(true);
    const next = await page(alice, { limit: 2, before_time: pinnedPage.conversations[3].time });
    expect(names(next.conversations)).toEqual(['p4', 'p3']);
    expect(next.has_more).toBe(false);
    expect((await page(alice, { limit: 2, before_time: next.conversations[1].time })).conversations).toEqual([]);

    // muted and pinned are in sync items too; counts are unchanged by settings
    const syncExtra = dataOf(await alice.request('sync')).extra;
    expect(syncExtra.groupList[0]).toMatchObject({ group_id: gid, count: 1, muted: true, pinned: true });
    expect(syncExtra.friendList.find((i: any) => i.app_user_id === 'p1')).toMatchObject({ count: 1, muted: false, pinned: true });
    expect(await unread(alice)).toEqual([
      ['p5', 1],
      ['p4', 1],
      ['p3', 1],
      ['p1', 1],
      [gid, 1],
    ]);

    // leaving a group takes it off the list
    expect((await alice.request('leaveGroup', { extra: { group_id: gid } })).code).toBe(200);
    expect(names((await page(alice)).conversations)).toEqual(['p1', 'p2', 'p5', 'p4', 'p3']);

    // the admin route
    const admin = await t.admin.call('GET', '/admin/users/alice/conversations?limit=2');
    expect(admin.status).toBe(200);
    expect(names(admin.body.conversations)).toEqual(['p1', 'p2', 'p5']);
    expect(admin.body.has_more).toBe(true);
    const older = await t.admin.call('GET', `/admin/users/alice/conversations?limit=2&before_time=${admin.body.conversations[2].time}`);
    expect(names(older.body.conversations)).toEqual(['p4', 'p3']);
    expect(await t.admin.call('GET', '/admin/users/alice/conversations?limit=0')).toMatchObject({ status: 400, body: { msg: expect.stringContaining('limit') } });
    expect(await t.admin.call('GET', '/admin/users/alice/conversations?before_time=x')).toMatchObject({ status: 400, body: { msg: expect.stringContaining('before_time') } });
    expect((await t.admin.call('GET', '/admin/users/nobody/conversations')).status).toBe(404);
    expect((await t.admin.call('GET', '/admin/users/alice/conversations', undefined, null)).status).toBe(401);
  });

  it('setConversation: type 24 to the other connections only; settings survive a reconnect; bad input is 400, outsiders 403/404', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const alice2 = await t.connect('alice');
    await bob.request('chat', { app_user_ids: 'alice', type: 1, content: 'hi' });
    const gid = await createGroup(bob, ['alice']);
    await bob.request('groupChat', { group_id: gid, type: 1, content: 'hello' });

    const reply = await alice.request('setConversation', { app_user_ids: 'bob', muted: true });
    expect(reply).toMatchObject({ code: 200, action: 'setConversation' });
    expect(dataOf(reply)).toEqual({ muted: true, pinned: false, to_app_user_id: 'bob' });
    const pushed = await alice2.push('systemMessage', (frame) => dataOf(frame).type === 24);
    expect(dataOf(pushed)).toEqual({ content: '', type: 24, sub_type: 'personal', extra: { muted: true, pinned: false, to_app_user_id: 'bob' } });
    expect(pushed.user_id).toBeGreaterThan(0);
    const groupSet = await alice2.request('setConversation', { group_id: gid, pinned: true });
    expect(groupSet.group_id).toBe(gid);
    const pushedGroup = await alice.push('systemMessage', (frame) => dataOf(frame).type === 24);
    expect(pushedGroup.group_id).toBe(gid);
    expect(dataOf(pushedGroup)).toEqual({ group_id: gid, content: '', type: 24, sub_type: 'personal', extra: { muted: false, pinned: true, group_id: gid } });
    // never to the connection that asked, nor to the other participant
    await alice.quietFor(200);
    expect(alice.received((f) => f.action === 'systemMessage' && dataOf(f).type === 24)).toHaveLength(1);
    expect(bob.received((f) => f.action === 'systemMessage' && dataOf(f).type === 24)).toHaveLength(0);
    // only the missing flag keeps its value
    expect(dataOf(await alice.request('setConversation', { app_user_ids: 'bob', pinned: true }))).toEqual({ muted: true, pinned: true, to_app_user_id: 'bob' });
    // bob's own settings are his own
    expect((await page(bob)).conversations.every((c) => !c.muted && !c.pinned)).toBe(true);

    alice2.close();
    await alice2.closed;
    await disconnect(t, alice, 'alice');
    const again = await t.connect('alice');
    const sync = dataOf(again.received((f) => f.action === 'systemMessage' && dataOf(f).type === 19)[0]).extra;
    expect(sync.friendList[0]).toMatchObject({ app_user_id: 'bob', muted: true, pinned: true, count: 1 });
    expect(sync.groupList[0]).toMatchObject({ group_id: gid, muted: false, pinned: true, count: 1 });
    expect(names((await page(again)).conversations)).toEqual([`g${gid}`, 'bob']);

    // input
    expect(await again.request('setConversation', { app_user_ids: 'bob' })).toMatchObject({ code: 400, msg: expect.stringMatching(/muted or pinned/) });
    expect(await again.request('setConversation', { app_user_ids: 'bob', muted: 1 })).toMatchObject({ code: 400, msg: expect.stringContaining('muted') });
    expect(await again.request('setConversation', { app_user_ids: 'bob', group_id: gid, muted: true })).toMatchObject({ code: 400 });
    expect(await again.request('setConversation', { muted: true })).toMatchObject({ code: 400 });
    expect(await again.request('conversations', { limit: 101 })).toMatchObject({ code: 400, msg: expect.stringContaining('limit') });
    expect(await again.request('conversations', { before_time: -1 })).toMatchObject({ code: 400, msg: expect.stringContaining('before_time') });
    expect((await again.request('setConversation', { app_user_ids: 'nobody', muted: true })).code).toBe(404);
    expect((await again.request('setConversation', { app_user_ids: 'alice', muted: true })).code).toBe(400);
    expect((await again.request('setConversation', { group_id: '999999', muted: true })).code).toBe(404);
    const carol = await t.connect('carol');
    expect((await carol.request('setConversation', { group_id: gid, muted: true })).code).toBe(403);
  });
});
