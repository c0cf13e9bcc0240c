import { AppConfig } from '../src/config/app-config';
import { connectAll, createGroup, disconnect, quietSystem, systemMessage, userIdOf } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

const nick = (id: string) => `${id}-nick`;
const named = (id: string) => ({ app_user_id: id, nickname: nick(id) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Group admins and member mutes (PROTOCOL §5: setGroupRole, muteMember, the admins' powers, 18 and 22). */
describe('group roles and member mutes', () => {
  let t: TestServer;
  let config: AppConfig;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0' });
    config = t.server.app.get(AppConfig);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    config.MAX_GROUP_ADMINS = 20;
    await t.reset();
  });

  const ext = (gid: string, extra: Record<string, unknown>) => ({ extra: { group_id: gid, ...extra } });
  const role = (c: WsClient, gid: string, who: string, r: string) => c.request('setGroupRole', ext(gid, { app_user_id: who, role: r }));
  const mute = (c: WsClient, gid: string, who: string, minutes: number) => c.request('muteMember', ext(gid, { app_user_id: who, minutes }));
  const say = (c: WsClient, gid: string, text: string) => c.request('groupChat', { group_id: gid, type: 1, content: text, extra: {} });
  const membersOf = async (c: WsClient, gid: string) => dataOf((await c.request('groupInfo', ext(gid, {})))).member_list as any[];

  /** alice owns; bob is made admin; carol and dave are members. */
  async function setup() {
    const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
    const gid = await createGroup(c.alice, ['bob', 'carol', 'dave']);
    expect((await role(c.alice, gid, 'bob', 'admin')).code).toBe(200);
    return { ...c, gid };
  }

  it('setGroupRole: the owner only; 18 to every member; role in member lists; at most MAX_GROUP_ADMINS admins', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
    const gid = await createGroup(c.alice, ['bob', 'carol', 'dave']);
    const reply = await role(c.alice, gid, 'bob', 'admin');
    expect(reply).toMatchObject({ code: 200, action: 'setGroupRole', group_id: gid });
    expect(dataOf(reply).member_list.find((m: any) => m.app_user_id === 'bob')).toEqual({ ...named('bob'), head: '', role: 'admin', muted_until: 0 });
    const alice = await userIdOf(t, 'alice');
    for (const client of [c.alice, c.bob, c.carol, c.dave]) {
      const frame = await systemMessage(client, 18);
      expect(frame).toMatchObject({ user_id: alice, group_id: gid });
      expect(dataOf(frame)).toEqual({ group_id: gid, content: '', type: 18, sub_type: 'group', extra: { group_id: gid, member: named('bob'), role: 'admin' } });
    }
    // admins see the invite code; members do not
    expect(dataOf(await c.bob.request('groupInfo', ext(gid, {}))).invite_code).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(dataOf(await c.carol.request('groupInfo', ext(gid, {}))).invite_code).toBeUndefined();
    // an admin and a member may not change roles
    expect((await role(c.bob, gid, 'carol', 'admin')).code).toBe(403);
    expect((await role(c.carol, gid, 'dave', 'admin')).code).toBe(403);
    // the owner has no other role; the target must be a member; the role must be admin or member
    expect(await role(c.alice, gid, 'alice', 'member')).toMatchObject({ code: 400, msg: expect.stringContaining('extra.app_user_id') });
    expect(await role(c.alice, gid, 'nobody', 'admin')).toMatchObject({ code: 400, msg: expect.stringContaining('extra.app_user_id') });
    expect(await role(c.alice, gid, 'carol', 'owner')).toMatchObject({ code: 400, msg: expect.stringContaining('extra.role') });
    // the limit
    config.MAX_GROUP_ADMINS = 2;
    expect((await role(c.alice, gid, 'carol', 'admin')).code).toBe(200);
    expect(await role(c.alice, gid, 'dave', 'admin')).toMatchObject({ code: 400, msg: expect.stringContaining('at most 2 admins') });
    // back to member
    expect((await role(c.alice, gid, 'carol', 'member')).code).toBe(200);
    const members = await membersOf(c.dave, gid);
    expect(members.map((m) => [m.app_user_id, m.role])).toEqual([
      ['alice', 'owner'],
      ['bob', 'admin'],
      ['carol', 'member'],
      ['dave', 'member'],
    ]);
    expect((await role(c.alice, gid, 'dave', 'admin')).code).toBe(200);
    // a transfer of ownership to an admin: the new owner is owner, the old one a member
    expect((await c.alice.request('editGroup', ext(gid, { app_user_id: 'bob' }))).code).toBe(200);
    expect((await membersOf(c.dave, gid)).map((m) => [m.app_user_id, m.role])).toEqual([
      ['bob', 'owner'],
      ['alice', 'member'],
      ['carol', 'member'],
      ['dave', 'admin'],
    ]);
  });

  it("editGroup: admins change name, cover, notice and banned_to_post; the rest stays the owner's", async () => {
    const c = await setup();
    expect((await c.bob.request('editGroup', ext(c.gid, { group_name: 'Renamed', notice: 'by bob', cover: '', banned_to_post: 1 }))).code).toBe(200);
    expect(dataOf(await systemMessage(c.carol, 12)).extra).toEqual({ group_id: c.gid, group_name: 'Renamed', cover: '', notice: 'by bob', banned_to_post: 1 });
    for (const changes of [{ invite_mode: 1 }, { reset_invite_code: 1 }, { app_user_id: 'bob' }, { notice: 'x', invite_mode: 0 }]) {
      expect((await c.bob.request('editGroup', ext(c.gid, changes))).code).toBe(403);
    }
    expect((await c.carol.request('editGroup', ext(c.gid, { notice: 'by carol' }))).code).toBe(403);
    // banned_to_post: owner and admins post, members get 403
    expect((await say(c.alice, c.gid, 'owner')).code).toBe(200);
    expect((await say(c.bob, c.gid, 'admin')).code).toBe(200);
    expect((await say(c.carol, c.gid, 'member')).code).toBe(403);
  });

  it('inviteToGroup with invite_mode 1: owner and admins; removeFromGroup: admins remove members, not admins, never the owner', async () => {
    const c = await setup();
    await t.admin.putUser('erin', nick('erin'));
    await t.admin.putUser('finn', nick('finn'));
    expect((await c.alice.request('editGroup', ext(c.gid, { invite_mode: 1 }))).code).toBe(200);
    expect((await c.carol.request('inviteToGroup', ext(c.gid, { app_user_ids: ['erin'] }))).code).toBe(403);
    const invited = await c.bob.request('inviteToGroup', ext(c.gid, { app_user_ids: ['erin'] }));
    expect(invited.code).toBe(200);
    expect(dataOf(invited).invite_code).toMatch(/^[A-Za-z0-9_-]{16}$/); // admins see the code in their replies

    expect((await c.carol.request('removeFromGroup', ext(c.gid, { app_user_ids: ['dave'] }))).code).toBe(403);
    expect((await role(c.alice, c.gid, 'carol', 'admin')).code).toBe(200);
    expect((await c.bob.request('removeFromGroup', ext(c.gid, { app_user_ids: ['carol'] }))).code).toBe(403);
    expect((await c.bob.request('removeFromGroup', ext(c.gid, { app_user_ids: ['alice'] }))).code).toBe(400);
    const removed = await c.bob.request('removeFromGroup', ext(c.gid, { app_user_ids: ['dave', 'erin'] }));
    expect(removed.code).toBe(200);
    expect(dataOf(await systemMessage(c.dave, 14)).extra).toEqual({
      group_id: c.gid,
      removed_member_list: [named('dave'), named('erin')],
      admin: named('bob'),
    });
    // the owner removes an admin
    expect((await c.alice.request('removeFromGroup', ext(c.gid, { app_user_ids: ['carol'] }))).code).toBe(200);
    expect((await membersOf(c.alice, c.gid)).map((m) => m.app_user_id)).toEqual(['alice', 'bob']);
  });

  it('muteMember: owner and admins; admins not on admins; never the owner; 22 to every member; 403 on groupChat until lifted', async () => {
    const c = await setup();
    const reply = await mute(c.bob, c.gid, 'carol', 10);
    expect(reply).toMatchObject({ code: 200, action: 'muteMember', group_id: c.gid });
    const until = dataOf(reply).member_list.find((m: any) => m.app_user_id === 'carol').muted_until;
    expect(until).toBeGreaterThan(Date.now() + 9 * 60_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
    const bob = await userIdOf(t, 'bob');
    for (const client of [c.alice, c.bob, c.carol, c.dave]) {
      const frame = await systemMessage(client, 22);
      expect(frame.user_id).toBe(bob);
      expect(dataOf(frame).extra).toEqual({ group_id: c.gid, member: named('carol'), muted_until: until });
    }
    expect((await membersOf(c.dave, c.gid)).find((m) => m.app_user_id === 'carol').muted_until).toBe(until);
    const before = await t.sql(`SELECT last_seq FROM conversations WHERE id = $1`, [c.gid]);
    expect(await say(c.carol, c.gid, 'muted?')).toMatchObject({ code: 403, action: 'sendResult' });
    expect(await t.sql(`SELECT last_seq FROM conversations WHERE id = $1`, [c.gid])).toEqual(before);
    expect((await say(c.dave, c.gid, 'not muted')).code).toBe(200);

    // who may
    expect((await mute(c.dave, c.gid, 'carol', 5)).code).toBe(403);
    expect((await mute(c.bob, c.gid, 'alice', 5)).code).toBe(400);
    expect((await mute(c.alice, c.gid, 'alice', 5)).code).toBe(400);
    expect((await role(c.alice, c.gid, 'dave', 'admin')).code).toBe(200);
    expect((await mute(c.bob, c.gid, 'dave', 5)).code).toBe(403);
    expect((await mute(c.alice, c.gid, 'dave', 5)).code).toBe(200); // the owner mutes an admin: binding
    expect((await say(c.dave, c.gid, 'muted admin')).code).toBe(403);
    expect(await mute(c.alice, c.gid, 'carol', 43_201)).toMatchObject({ code: 400, msg: expect.stringContaining('extra.minutes') });
    expect(await mute(c.alice, c.gid, 'nobody', 1)).toMatchObject({ code: 400, msg: expect.stringContaining('extra.app_user_id') });

    // lifting: 0
    const lifted = await mute(c.alice, c.gid, 'carol', 0);
    expect(dataOf(lifted).member_list.find((m: any) => m.app_user_id === 'carol').muted_until).toBe(0);
    expect(dataOf(await systemMessage(c.carol, 22, (data) => data.extra.muted_until === 0)).extra).toEqual({ group_id: c.gid, member: named('carol'), muted_until: 0 });
    expect((await say(c.carol, c.gid, 'free again')).code).toBe(200);
  });

  it('a mute ends by time, with no timer and no system message', async () => {
    const c = await setup();
    expect((await mute(c.alice, c.gid, 'carol', 1)).code).toBe(200);
    await systemMessage(c.carol, 22);
    // bring the end of the mute close (as if 59.6 s had passed)
    const ends = Date.now() + 400;
    await t.sql(`UPDATE conversation_members SET muted_until = $2 WHERE conversation_id = $1 AND user_id = (SELECT id FROM users WHERE app_user_id = 'carol')`, [c.gid, ends]);
    expect((await say(c.carol, c.gid, 'too early')).code).toBe(403);
    expect((await membersOf(c.dave, c.gid)).find((m) => m.app_user_id === 'carol').muted_until).toBe(ends);
    await sleep(Math.max(0, ends - Date.now()) + 50);
    expect((await say(c.carol, c.gid, 'on time')).code).toBe(200);
    expect((await membersOf(c.dave, c.gid)).find((m) => m.app_user_id === 'carol').muted_until).toBe(0);
    expect(await quietSystem(c.carol, 200)).toEqual([]);
  });

  it('18 and 22 are stored and redelivered once to an offline member; unread counts do not change', async () => {
    const c = await setup();
    await say(c.alice, c.gid, 'one');
    await disconnect(t, c.carol, 'carol');
    expect((await role(c.alice, c.gid, 'dave', 'admin')).code).toBe(200);
    expect((await mute(c.dave, c.gid, 'carol', 30)).code).toBe(200);
    await say(c.alice, c.gid, 'two');

    const carol = await t.connect('carol');
    const sync = dataOf(carol.received((f) => f.action === 'systemMessage' && dataOf(f).type === 19)[0]);
    expect(sync.extra.groupList).toEqual([expect.objectContaining({ group_id: c.gid, count: 2 })]);
    const first = await systemMessage(carol, 18);
    const second = await systemMessage(carol, 22);
    expect(dataOf(first).extra).toEqual({ group_id: c.gid, member: named('dave'), role: 'admin' });
    expect(dataOf(second).extra).toMatchObject({ group_id: c.gid, member: named('carol'), muted_until: expect.any(Number) });
    expect(second.msg_id!).toBeGreaterThan(first.msg_id!);
    await disconnect(t, carol, 'carol');
    const again = await t.connect('carol');
    expect(await quietSystem(again, 300)).toEqual([]);
    const syncAgain = dataOf(again.received((f) => f.action === 'systemMessage' && dataOf(f).type === 19)[0]);
    expect(syncAgain.extra.groupList).toEqual([expect.objectContaining({ group_id: c.gid, count: 2 })]);
  });

  it('the admin REST routes: PUT …/roles/{app_user_id} and PUT …/mutes/{app_user_id}', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol']);
    const gid = await createGroup(c.alice, ['bob', 'carol']);
    const made = await t.admin.call('PUT', `/admin/groups/${gid}/roles/bob`, { role: 'admin' });
    expect(made.status).toBe(200);
    expect(made.body.invite_code).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(made.body.member_list.find((m: any) => m.app_user_id === 'bob').role).toBe('admin');
    const eighteen = await systemMessage(c.carol, 18);
    expect(eighteen.user_id).toBe(0);

    const muted = await t.admin.call('PUT', `/admin/groups/${gid}/mutes/bob`, { minutes: 5 });
    expect(muted.status).toBe(200);
    expect(muted.body.member_list.find((m: any) => m.app_user_id === 'bob').muted_until).toBeGreaterThan(Date.now());
    expect((await systemMessage(c.carol, 22)).user_id).toBe(0);
    expect((await say(c.bob, gid, 'hi')).code).toBe(403);
    expect((await t.admin.call('PUT', `/admin/groups/${gid}/mutes/bob`, { minutes: 0 })).status).toBe(200);
    expect((await say(c.bob, gid, 'hi')).code).toBe(200);

    expect(await t.admin.call('PUT', `/admin/groups/${gid}/roles/bob`, { role: 'boss' })).toMatchObject({ status: 400, body: { code: 400, msg: expect.stringContaining('role') } });
    expect(await t.admin.call('PUT', `/admin/groups/${gid}/mutes/bob`, { minutes: -1 })).toMatchObject({ status: 400, body: { msg: expect.stringContaining('minutes') } });
    expect(await t.admin.call('PUT', `/admin/groups/${gid}/mutes/bob`, {})).toMatchObject({ status: 400, body: { msg: expect.stringContaining('minutes') } });
    expect(await t.admin.call('PUT', `/admin/groups/${gid}/mutes/alice`, { minutes: 1 })).toMatchObject({ status: 400, body: { msg: expect.stringContaining('app_user_id') } });
    expect(await t.admin.call('PUT', `/admin/groups/${gid}/roles/nobody`, { role: 'admin' })).toMatchObject({ status: 400, body: { msg: expect.stringContaining('app_user_id') } });
    expect((await t.admin.call('PUT', `/admin/groups/999999/roles/bob`, { role: 'admin' })).status).toBe(404);
    expect((await t.admin.call('PUT', `/admin/groups/${gid}/roles/bob`, { role: 'admin' }, null)).status).toBe(401);
  });
});
