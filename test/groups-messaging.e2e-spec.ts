import { connectAll, createGroup, quietSystem, systemMessage } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

/** Group operations and group messages stay consistent (issue 4, with messaging's groupChat and history). */
describe('groups and groupChat', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  const say = (client: WsClient, groupId: string, content: string) => client.request('groupChat', { type: 1, content, extra: {}, group_id: groupId });

  it('an invitee sees messages sent after the invite, not before; a removed member gets nothing after the removal', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol']);
    const gid = await createGroup(c.alice, ['bob']);
    expect((await say(c.alice, gid, 'before')).code).toBe(200);
    expect((await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } })).code).toBe(200);
    await systemMessage(c.carol, 17);
    expect((await say(c.bob, gid, 'after')).code).toBe(200);
    const pushed = await c.carol.push('groupChat');
    expect(dataOf(pushed).content).toBe('after');
    // one push, encoded once for every member's socket, arrives as the same text frame everywhere
    const toAlice = await c.alice.push('groupChat', (f) => f.msg_id === pushed.msg_id);
    expect(toAlice.data).toBe(pushed.data);
    expect([c.alice, c.bob, c.carol].map((client) => client.binaryMessages)).toEqual([0, 0, 0]);
    const history = await c.carol.request('history', { group_id: gid });
    expect(history.code).toBe(200);
    expect(dataOf(history).messages.map((m: any) => m.content)).toEqual(['after']);

    expect((await c.alice.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } })).code).toBe(200);
    await systemMessage(c.carol, 14);
    expect((await say(c.alice, gid, 'secret')).code).toBe(200);
    await c.bob.push('groupChat', (f) => dataOf(f).content === 'secret');
    expect(await c.carol.quietFor(200, 'groupChat')).toEqual([]);
    expect((await say(c.carol, gid, 'let me in')).code).toBe(403);
    expect((await c.carol.request('history', { group_id: gid })).code).toBe(403);
  });

  it('banned_to_post mutes everyone but the owner; after dissolve groupChat and history are 404', async () => {
    const c = await connectAll(t, ['alice', 'bob']);
    const gid = await createGroup(c.alice, ['bob']);
    await c.alice.request('editGroup', { extra: { group_id: gid, banned_to_post: 1 } });
    expect((await say(c.bob, gid, 'hi')).code).toBe(403);
    expect((await say(c.alice, gid, 'owner speaks')).code).toBe(200);
    await c.alice.request('editGroup', { extra: { group_id: gid, banned_to_post: 0 } });
    expect((await say(c.bob, gid, 'hi')).code).toBe(200);
    expect((await c.alice.request('dissolveGroup', { extra: { group_id: gid } })).code).toBe(200);
    await systemMessage(c.bob, 13);
    expect((await say(c.bob, gid, 'anyone?')).code).toBe(404);
    expect((await c.alice.request('history', { group_id: gid })).code).toBe(404);
    expect(await quietSystem(c.bob, 50)).toEqual([]);
  });

  it('system messages are not unread chat: the sync frame counts only chat messages', async () => {
    const c = await connectAll(t, ['alice', 'bob']);
    const gid = await createGroup(c.alice, ['bob']);
    await c.alice.request('editGroup', { extra: { group_id: gid, notice: 'n' } });
    const sync = await c.bob.request('sync');
    expect(sync.code).toBe(200);
    expect(dataOf(sync).extra.groupList).toEqual([]);
    await say(c.alice, gid, 'one');
    const after = dataOf(await c.bob.request('sync'));
    expect(after.extra.groupList).toEqual([expect.objectContaining({ group_id: gid, count: 1 })]);
  });
});
