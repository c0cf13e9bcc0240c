import { AppConfig, loadConfig } from '../src/config/app-config';
import { connectAll, createGroup, disconnect, inviteCode, quietSystem, systemMessage, systemMessagesReceived, userIdOf } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, Frame, WsClient } from './support/ws-client';

/**
 * PROTOCOL §5 and §8 (groups), sentence by sentence, where the other group suites leave a rule
 * implicit: group_id on every reply (failures too), exact recipients over several connections,
 * redelivery on connect, the blacklist note, null/odd inputs, the configurable size limit.
 */
const nick = (id: string) => `${id}-nick`;
const named = (id: string) => ({ app_user_id: id, nickname: nick(id) });

async function collect(client: WsClient, count: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(await client.push('systemMessage', (frame) => dataOf(frame).type !== 19));
  return frames;
}

describe('groups: PROTOCOL §5/§8 conformance details', () => {
  let t: TestServer;
  let config: AppConfig;
  let defaultMax: number;

  beforeAll(async () => {
    t = await startTestServer();
    config = t.server.app.get(AppConfig);
    defaultMax = config.MAX_GROUP_MEMBERS;
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    config.MAX_GROUP_MEMBERS = defaultMax;
    await t.reset();
  });

  it('every reply to a group action carries top-level group_id as a string, failures included when the request named one', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'dave']);
    const gid = await createGroup(c.alice, ['bob']);
    const code = await inviteCode(c.alice, gid);
    const cases: Array<[WsClient, string, Record<string, unknown>, number]> = [
      [c.alice, 'editGroup', { banned_to_post: 7 }, 400],
      [c.bob, 'editGroup', { notice: 'x' }, 403],
      [c.alice, 'inviteToGroup', { app_user_ids: 'dave' }, 400],
      [c.alice, 'inviteToGroup', { app_user_ids: ['ghost'] }, 404],
      [c.dave, 'inviteToGroup', { app_user_ids: ['dave'] }, 403],
      [c.bob, 'joinGroup', { invite_code: code }, 400],
      [c.dave, 'joinGroup', {}, 403],
      [c.alice, 'removeFromGroup', { app_user_ids: [] }, 400],
      [c.bob, 'removeFromGroup', { app_user_ids: ['alice'] }, 403],
      [c.alice, 'leaveGroup', {}, 400],
      [c.dave, 'leaveGroup', {}, 403],
      [c.bob, 'dissolveGroup', {}, 403],
      [c.dave, 'groupInfo', {}, 403],
    ];
    for (const [client, action, extra, code] of cases) {
      for (const where of ['extra', 'top'] as const) {
        const fields = where === 'extra' ? { extra: { group_id: gid, ...extra } } : { group_id: gid, extra };
        const reply = await client.request(action, fields);
        expect({ action, where, code: reply.code, action_: reply.action, group_id: reply.group_id, data: reply.data }).toEqual({
          action,
          where,
          code,
          action_: action,
          group_id: gid,
          data: undefined,
        });
      }
    }
    const missing: Record<string, Record<string, unknown>> = {
      editGroup: { notice: 'n' },
      joinGroup: {},
      groupInfo: {},
      dissolveGroup: {},
      leaveGroup: {},
      inviteToGroup: { app_user_ids: ['dave'] },
      removeFromGroup: { app_user_ids: ['bob'] },
    };
    for (const [action, extra] of Object.entries(missing)) {
      const reply = await c.dave.request(action, { extra: { group_id: '987654321', ...extra } });
      expect({ action, code: reply.code, group_id: reply.group_id }).toEqual({ action, code: 404, group_id: '987654321' });
    }
    // a createGroup failure names no group
    const bad = await c.alice.request('createGroup', { extra: { group_name: '', app_user_ids: [] } });
    expect(bad.code).toBe(400);
    expect(bad).not.toHaveProperty('group_id');
    // success replies: group_id top level, data a JSON string of the group
    for (const action of ['editGroup', 'groupInfo']) {
      const reply = await c.alice.request(action, { extra: { group_id: gid, notice: 'n' } });
      expect(reply).toMatchObject({ code: 200, action, group_id: gid });
      expect(typeof reply.data).toBe('string');
      expect(dataOf(reply).group_id).toBe(gid);
    }
  });

  it('a huge or zero-padded group_id is 404, not a server error', async () => {
    const { alice } = await connectAll(t, ['alice']);
    for (const id of ['999999999999999999', '000000000000000000', '0']) {
      const reply = await alice.request('groupInfo', { extra: { group_id: id } });
      expect({ id, code: reply.code, group_id: reply.group_id }).toEqual({ id, code: 404, group_id: id });
      expect((await t.admin.call('GET', `/admin/groups/${id}`)).status).toBe(404);
    }
  });

  it('12, 13 and 14 reach every connection of every member, the actor\'s other connections included; non-members get nothing', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
    const alicePhone = await t.connect('alice');
    const carolPhone = await t.connect('carol');
    const gid = await createGroup(c.alice, ['bob', 'carol']);
    await systemMessage(c.carol, 17);
    await systemMessage(carolPhone, 17);
    expect(await quietSystem(alicePhone, 100)).toEqual([]);

    await c.alice.request('editGroup', { extra: { group_id: gid, group_name: 'G2' } });
    const twelves = await Promise.all([c.alice, alicePhone, c.bob, c.carol, carolPhone].map((client) => systemMessage(client, 12)));
    expect(new Set(twelves.map((frame) => frame.msg_id)).size).toBe(1);

    await c.alice.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } });
    const fourteens = await Promise.all([c.alice, alicePhone, c.bob, c.carol, carolPhone].map((client) => systemMessage(client, 14)));
    for (const frame of fourteens) {
      expect(frame.msg_id).toBe(fourteens[0].msg_id);
      expect(dataOf(frame).extra).toEqual({ group_id: gid, removed_member_list: [named('carol')], admin: named('alice') });
    }

    await c.alice.request('dissolveGroup', { extra: { group_id: gid } });
    const thirteens = await Promise.all([c.alice, alicePhone, c.bob].map((client) => systemMessage(client, 13)));
    expect(new Set(thirteens.map((frame) => frame.msg_id)).size).toBe(1);
    expect(await quietSystem(c.carol, 150)).toEqual([]);
    expect(systemMessagesReceived(carolPhone).map((frame) => dataOf(frame).type)).toEqual([17, 12, 14]);
    expect(systemMessagesReceived(c.dave)).toEqual([]);
  });

  it('joinGroup: 16 to all members and every connection of the joiner; inviter = joiner = first of member_list', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'dave']);
    const davePhone = await t.connect('dave');
    await t.admin.putUser('dave', nick('dave'), 'https://cdn.example.com/d.png');
    const gid = await createGroup(c.alice, ['bob']);
    await systemMessage(c.bob, 17);
    const reply = await c.dave.request('joinGroup', { extra: { group_id: gid, invite_code: await inviteCode(c.alice, gid) } });
    expect(reply).toMatchObject({ code: 200, action: 'joinGroup', group_id: gid });
    expect(dataOf(reply).member_list.map((m: any) => [m.app_user_id, m.role])).toEqual([
      ['alice', 'owner'],
      ['bob', 'member'],
      ['dave', 'member'],
    ]);
    const dave = await userIdOf(t, 'dave');
    const frames = await Promise.all([c.alice, c.bob, c.dave, davePhone].map((client) => systemMessage(client, 16)));
    const member = { app_user_id: 'dave', nickname: nick('dave'), head: 'https://cdn.example.com/d.png' };
    for (const frame of frames) {
      expect(frame).toMatchObject({ user_id: dave, group_id: gid, msg_id: frames[0].msg_id });
      expect(dataOf(frame)).toEqual({ group_id: gid, content: '', type: 16, sub_type: 'group', extra: { group_id: gid, inviter: named('dave'), member_list: [member], joiner: member } });
    }
    expect(systemMessagesReceived(c.dave).map((frame) => dataOf(frame).type)).toEqual([16]);
  });

  it('invite: 17 only to the invitees (full member_list, group_info), 16 only to the members who were in before, the inviter included', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave', 'erin', 'zed']);
    const gid = await createGroup(c.alice, ['bob']);
    await systemMessage(c.bob, 17);
    const reply = await c.bob.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['carol', 'dave'] } });
    expect(reply).toMatchObject({ code: 200, action: 'inviteToGroup', group_id: gid });
    const group = dataOf(reply);
    expect(group.member_count).toBe(4);
    const bob = await userIdOf(t, 'bob');

    const sixteens = await Promise.all([c.alice, c.bob].map((client) => systemMessage(client, 16)));
    for (const frame of sixteens) {
      expect(frame).toMatchObject({ user_id: bob, group_id: gid, msg_id: sixteens[0].msg_id });
      const joined = [
        { app_user_id: 'carol', nickname: nick('carol'), head: '' },
        { app_user_id: 'dave', nickname: nick('dave'), head: '' },
      ];
      expect(dataOf(frame).extra).toEqual({ group_id: gid, inviter: named('bob'), member_list: joined, joiner: joined[0] });
    }
    const seventeens = await Promise.all([c.carol, c.dave].map((client) => systemMessage(client, 17)));
    const { member_list, ...info } = group;
    for (const frame of seventeens) {
      expect(frame).toMatchObject({ user_id: bob, group_id: gid, msg_id: seventeens[0].msg_id });
      expect(dataOf(frame)).toEqual({ group_id: gid, content: '', type: 17, sub_type: 'personal', extra: { group_id: gid, inviter: named('bob'), member_list, group_info: info } });
    }
    expect(seventeens[0].msg_id).not.toBe(sixteens[0].msg_id);
    expect(await quietSystem(c.carol, 150)).toEqual([]);
    expect(systemMessagesReceived(c.carol).map((frame) => dataOf(frame).type)).toEqual([17]);
    expect(systemMessagesReceived(c.alice).map((frame) => dataOf(frame).type)).toEqual([16]);
    expect(systemMessagesReceived(c.erin)).toEqual([]);
  });

  it('an offline user gets what they missed right after the sync frame, oldest first, exactly once; the leaver\'s 15 is not stored for them', async () => {
    const c = await connectAll(t, ['alice', 'bob']);
    await t.admin.putUser('carol', nick('carol'));
    await t.admin.putUser('dave', nick('dave'));
    const gid = await createGroup(c.alice, ['bob', 'carol']);
    await systemMessage(c.bob, 17);
    await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave'] } }); // 16 to carol, 17 to dave
    await c.alice.request('editGroup', { extra: { group_id: gid, banned_to_post: 1, invite_mode: 1 } }); // 12
    expect((await c.bob.request('leaveGroup', { extra: { group_id: gid } })).code).toBe(200); // 15 to carol, dave
    await c.alice.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } }); // 14 to carol, dave
    await c.alice.request('editGroup', { extra: { group_id: gid, notice: 'after' } }); // 12, not to carol
    await systemMessage(c.alice, 12, (data) => data.extra.notice === 'after');

    const carol = await t.connect('carol', { waitSync: false });
    const frames = await collect(carol, 5);
    expect(frames.map((frame) => dataOf(frame).type)).toEqual([17, 16, 12, 15, 14]);
    expect(carol.frames[0]).toMatchObject({ action: 'systemMessage', msg_id: 0 });
    expect(dataOf(carol.frames[0]).type).toBe(19);
    expect(carol.frames.slice(1, 6)).toEqual(frames);
    const ids = frames.map((frame) => frame.msg_id!);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(dataOf(frames[2]).extra).toEqual({ group_id: gid, banned_to_post: 1, invite_mode: 1 });
    expect(dataOf(frames[3]).extra).toEqual({ group_id: gid, member: named('bob') });
    expect(await quietSystem(carol, 200)).toEqual([]);

    await disconnect(t, carol, 'carol');
    expect(await quietSystem(await t.connect('carol'), 300)).toEqual([]);

    // bob (the leaver) had no other connection: nothing of 15 waits for him
    await disconnect(t, c.bob, 'bob');
    const bobAgain = await t.connect('bob');
    expect(await quietSystem(bobAgain, 300)).toEqual([]);

    const dave = await t.connect('dave');
    const daves = await collect(dave, 5);
    expect(daves.map((frame) => dataOf(frame).type)).toEqual([17, 12, 15, 14, 12]);
    expect(dataOf(daves[4]).extra).toEqual({ group_id: gid, notice: 'after' });
    expect(await quietSystem(dave, 200)).toEqual([]);
  });

  it('blacklists do not affect groups', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol']);
    expect((await c.bob.request('block', { app_user_ids: 'alice' })).code).toBe(200);
    const gid = await createGroup(c.alice, ['bob']);
    await systemMessage(c.bob, 17);
    const reply = await c.alice.request('groupChat', { type: 1, content: 'hi', group_id: gid });
    expect(reply).toMatchObject({ code: 200, action: 'sendResult', group_id: gid });
    await c.bob.push('groupChat', (frame) => frame.group_id === gid);
    expect((await c.alice.request('editGroup', { extra: { group_id: gid, notice: 'n' } })).code).toBe(200);
    await systemMessage(c.bob, 12);
    expect((await c.bob.request('leaveGroup', { extra: { group_id: gid } })).code).toBe(200);
    expect((await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['bob'] } })).code).toBe(200);
    await systemMessage(c.bob, 17);
  });

  it('editGroup treats null fields as absent (not "changed" in 12, 400 when nothing else is given)', async () => {
    const c = await connectAll(t, ['alice', 'bob']);
    const gid = await createGroup(c.alice, ['bob'], { notice: 'keep' });
    await systemMessage(c.bob, 17);
    const reply = await c.alice.request('editGroup', { extra: { group_id: gid, group_name: 'New', notice: null, cover: null } });
    expect(reply.code).toBe(200);
    expect(dataOf(reply)).toMatchObject({ group_name: 'New', notice: 'keep', cover: '' });
    expect(dataOf(await systemMessage(c.bob, 12)).extra).toEqual({ group_id: gid, group_name: 'New' });
    expect(await c.alice.request('editGroup', { extra: { group_id: gid, notice: null } })).toMatchObject({ code: 400, group_id: gid });
    const patched = await t.admin.call('PATCH', `/admin/groups/${gid}`, { notice: 'n2', group_name: null });
    expect(patched.status).toBe(200);
    expect(dataOf(await systemMessage(c.bob, 12)).extra).toEqual({ group_id: gid, notice: 'n2' });
  });

  it('the group size limit is configurable (MAX_GROUP_MEMBERS) and applies to every way in (400)', async () => {
    expect(loadConfig({ MAX_GROUP_MEMBERS: '3' }).MAX_GROUP_MEMBERS).toBe(3);
    config.MAX_GROUP_MEMBERS = 3;
    const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave', 'erin']);
    expect(await c.alice.request('createGroup', { extra: { group_name: 'G', app_user_ids: ['bob', 'carol', 'dave'] } })).toMatchObject({ code: 400 });
    expect((await t.admin.call('POST', '/admin/groups', { owner: 'alice', group_name: 'G', members: ['bob', 'carol', 'dave'] })).status).toBe(400);
    const gid = await createGroup(c.alice, ['bob', 'carol']); // exactly 3 is fine
    expect(await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave'] } })).toMatchObject({ code: 400, group_id: gid });
    expect((await t.admin.call('POST', `/admin/groups/${gid}/members`, { app_user_ids: ['dave'] })).status).toBe(400);
    const code = await inviteCode(c.alice, gid);
    expect(await c.dave.request('joinGroup', { extra: { group_id: gid, invite_code: code } })).toMatchObject({ code: 400, group_id: gid });
    expect(dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } })).member_count).toBe(3);
    expect(systemMessagesReceived(c.dave)).toEqual([]);
  });

  it('admin API: POST /admin/groups answers the groupInfo object, its 17s come from user 0 naming the owner; GET matches groupInfo', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol']);
    const created = await t.admin.call('POST', '/admin/groups', { owner: 'alice', group_name: 'Ops', notice: 'hi', members: ['bob', 'alice'] });
    expect(created.status).toBe(200);
    const gid = created.body.group_id;
    expect(typeof gid).toBe('string');
    expect(created.body.member_list).toEqual([
      { app_user_id: 'alice', nickname: nick('alice'), head: '', role: 'owner', muted_until: 0 },
      { app_user_id: 'bob', nickname: nick('bob'), head: '', role: 'member', muted_until: 0 },
    ]);
    const seventeen = await systemMessage(c.bob, 17);
    expect(seventeen).toMatchObject({ user_id: 0, group_id: gid });
    expect(dataOf(seventeen).extra.inviter).toEqual(named('alice'));
    expect(await quietSystem(c.alice, 150)).toEqual([]);
    // the admin API (trusted) and the owner see the invite code; a member sees the same object without it
    const ownerInfo = dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } }));
    expect(ownerInfo.invite_code).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const { invite_code: _code, ...memberInfo } = ownerInfo;
    expect(dataOf(await c.bob.request('groupInfo', { extra: { group_id: gid } }))).toEqual(memberInfo);
    expect((await t.admin.call('GET', `/admin/groups/${gid}`)).body).toEqual(ownerInfo);
    expect(created.body).toEqual(ownerInfo);
    expect(dataOf(seventeen).extra.group_info).not.toHaveProperty('invite_code');

    // POST …/members ignores invite_mode (and banned_to_post); inviter defaults to the owner
    await t.admin.call('PATCH', `/admin/groups/${gid}`, { invite_mode: 1, banned_to_post: 1 });
    const added = await t.admin.call('POST', `/admin/groups/${gid}/members`, { app_user_ids: ['carol'] });
    expect(added.status).toBe(200);
    const toCarol = await systemMessage(c.carol, 17);
    expect(toCarol.user_id).toBe(0);
    expect(dataOf(toCarol).extra.inviter).toEqual(named('alice'));
    expect(dataOf(toCarol).extra.group_info).toMatchObject({ group_id: gid, invite_mode: 1, banned_to_post: 1, member_count: 3 });
    const sixteen = await systemMessage(c.alice, 16);
    expect(sixteen.user_id).toBe(0);
    expect(dataOf(sixteen).extra.inviter).toEqual(named('alice'));
    await systemMessage(c.bob, 16);
    expect(systemMessagesReceived(c.carol).map((frame) => dataOf(frame).type)).toEqual([17]);
  });
});
