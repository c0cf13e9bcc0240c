import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

/** Unread counts kept by the real send and ack paths (chat, groupChat, ack over WebSocket). */
describe('sync counts through real chat, groupChat and ack', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  async function lists(client: WsClient): Promise<{ friends: Record<string, number>; groups: Record<string, number> }> {
    const reply = await client.request('sync');
    expect(reply.code).toBe(200);
    const { friendList, groupList } = dataOf(reply).extra;
    return {
      friends: Object.fromEntries(friendList.map((item: any) => [item.app_user_id, item.count])),
      groups: Object.fromEntries(groupList.map((item: any) => [item.group_id, item.count])),
    };
  }

  async function chat(from: WsClient, to: string, content: string): Promise<number> {
    const reply = await from.request('chat', { type: 1, content, extra: {}, app_user_ids: to });
    expect(reply.code).toBe(200);
    return reply.msg_id as number;
  }

  async function groupChat(from: WsClient, groupId: string, content: string): Promise<number> {
    const reply = await from.request('groupChat', { type: 1, content, extra: {}, group_id: groupId });
    expect(reply.code).toBe(200);
    return reply.msg_id as number;
  }

  it('counts what others sent, never what the user sent, and clears one conversation per ack', async () => {
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    const carol = await t.connect('carol');
    await chat(bob, 'alice', 'b1');
    await chat(bob, 'alice', 'b2');
    const b3 = await chat(bob, 'alice', 'b3');
    const c1 = await chat(carol, 'alice', 'c1');
    await chat(carol, 'alice', 'c2');
    expect(await lists(alice)).toEqual({ friends: { bob: 3, carol: 2 }, groups: {} });
    expect(await lists(bob)).toEqual({ friends: {}, groups: {} });

    // a receipt "delivered" moves nothing; "read" of c1 leaves c2 unread; bob is untouched
    expect((await alice.request('ack', { msg_id: c1, status: 1, app_user_ids: 'carol' })).code).toBe(200);
    expect((await lists(alice)).friends).toEqual({ bob: 3, carol: 2 });
    expect((await alice.request('ack', { msg_id: c1, status: 2, app_user_ids: 'carol' })).code).toBe(200);
    expect((await lists(alice)).friends).toEqual({ bob: 3, carol: 1 });
    expect((await alice.request('ack', { msg_id: b3, status: 2, app_user_ids: 'bob' })).code).toBe(200);
    expect((await lists(alice)).friends).toEqual({ carol: 1 });

    // replying reads everything before it; the reply is unread for the other side
    await chat(alice, 'carol', 'a1');
    expect((await lists(alice)).friends).toEqual({});
    expect((await lists(carol)).friends).toEqual({ alice: 1 });

    // the frame on the next connect says the same as the sync action
    const again = await t.connect('carol', { waitSync: false });
    expect(dataOf(await again.waitSync()).extra.friendList).toEqual([expect.objectContaining({ app_user_id: 'alice', count: 1, last_message: 'a1' })]);
  });

  it('counts group messages per member and drops the group of a member who left', async () => {
    for (const id of ['owner', 'alice', 'bob']) await t.admin.putUser(id);
    const created = await t.admin.call('POST', '/admin/groups', { owner: 'owner', group_name: 'Trip', members: ['alice', 'bob'] });
    const groupId: string = created.body.group_id;
    const owner = await t.connect('owner');
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    await groupChat(owner, groupId, 'o1');
    await groupChat(bob, groupId, 'b1');
    expect((await lists(alice)).groups).toEqual({ [groupId]: 2 });
    expect((await lists(bob)).groups).toEqual({}); // bob's post read o1 before it
    expect((await lists(owner)).groups).toEqual({ [groupId]: 1 });

    const a1 = await groupChat(alice, groupId, 'a1');
    expect((await lists(alice)).groups).toEqual({});
    expect((await lists(bob)).groups).toEqual({ [groupId]: 1 });
    expect((await bob.request('ack', { msg_id: a1, status: 2, group_id: groupId })).code).toBe(200);
    expect((await lists(bob)).groups).toEqual({});
    expect((await lists(owner)).groups).toEqual({ [groupId]: 2 });

    await groupChat(owner, groupId, 'o2');
    expect((await bob.request('leaveGroup', { extra: { group_id: groupId } })).code).toBe(200);
    expect((await lists(bob)).groups).toEqual({});
    expect((await lists(alice)).groups).toEqual({ [groupId]: 1 });
  });
});
