import { startTestServer, TestServer } from './support/server';
import { SyncFixtures } from './support/sync-fixtures';
import { dataOf } from './support/ws-client';

/** Sync together with the real group operations (admin API) and their stored system messages. */
describe('sync with group operations and system messages', () => {
  let t: TestServer;
  let f: SyncFixtures;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await t.reset();
    f = new SyncFixtures(t.sql);
  });

  async function createGroup(owner: string, members: string[]): Promise<string> {
    const created = await t.admin.call('POST', '/admin/groups', { owner, group_name: 'Trip', members });
    expect(created.status).toBe(200);
    return created.body.group_id;
  }

  it('pushes the sync frame first, then the system messages missed while offline, oldest first', async () => {
    await t.admin.putUser('owner');
    await t.admin.putUser('alice');
    const groupId = await createGroup('owner', ['alice']); // 17 for alice, offline
    expect((await t.admin.call('PATCH', `/admin/groups/${groupId}`, { group_name: 'Trip 2' })).status).toBe(200); // 12
    const ids = await f.users(['owner', 'alice']);
    await f.send(Number(groupId), ids.owner, 2);

    const alice = await t.connect('alice', { waitSync: false });
    await alice.push('systemMessage', (frame) => dataOf(frame).type === 12);
    const types = alice.frames.map((frame) => [frame.action, dataOf(frame).type]);
    expect(types).toEqual([
      ['systemMessage', 19],
      ['systemMessage', 17],
      ['systemMessage', 12],
    ]);
    const sync = dataOf(alice.frames[0]);
    expect(sync.extra.groupList).toEqual([expect.objectContaining({ group_id: groupId, group_name: 'Trip 2', count: 2 })]);
    // system messages never count as unread
    expect(dataOf((await alice.request('sync'))).extra.groupList[0].count).toBe(2);
  });

  it('drops the group of a member removed through the admin API, and a group dissolved through it', async () => {
    for (const id of ['owner', 'alice', 'bob']) await t.admin.putUser(id);
    const removedFrom = await createGroup('owner', ['alice', 'bob']);
    const dissolved = await createGroup('owner', ['alice', 'bob']);
    const ids = await f.users(['owner']);
    await f.send(Number(removedFrom), ids.owner, 3);
    await f.send(Number(dissolved), ids.owner, 1);
    const groupsOf = async (user: string) =>
      ((await t.admin.call('GET', `/admin/conversations/${user}`)).body.groupList as any[]).map((item) => [item.group_id, item.count]);
    expect(await groupsOf('alice')).toEqual([[dissolved, 1], [removedFrom, 3]]);

    expect((await t.admin.call('DELETE', `/admin/groups/${removedFrom}/members`, { app_user_ids: ['alice'] })).status).toBe(200);
    expect(await groupsOf('alice')).toEqual([[dissolved, 1]]);
    expect(await groupsOf('bob')).toEqual([[dissolved, 1], [removedFrom, 3]]);

    expect((await t.admin.call('DELETE', `/admin/groups/${dissolved}`)).status).toBe(200);
    expect(await groupsOf('alice')).toEqual([]);
    expect(await groupsOf('bob')).toEqual([[removedFrom, 3]]);
    const bob = await t.connect('bob', { waitSync: false });
    expect(dataOf(await bob.waitSync()).extra.groupList.map((item: any) => item.group_id)).toEqual([removedFrom]);
    // then what bob missed meanwhile: two invitations (17), the removal (14), the dissolution (13)
    await bob.push('systemMessage', (frame) => dataOf(frame).type === 13);
    expect(bob.frames.map((frame) => dataOf(frame).type)).toEqual([19, 17, 17, 14, 13]);
  });
});
