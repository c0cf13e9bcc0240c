import { connectAll, createGroup, quietSystem, systemMessage, systemMessagesReceived, userIdOf } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf } from './support/ws-client';

const nick = (id: string) => `${id}-nick`;
const named = (id: string) => ({ app_user_id: id, nickname: nick(id) });

describe('groups in the admin REST API (PROTOCOL §8): same service, same system messages, user_id 0', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  it('POST /admin/groups creates the group; 17 to each member names the owner as inviter; the owner gets none', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol']);
    const created = await t.admin.call('POST', '/admin/groups', { owner: 'alice', group_name: 'Ops', notice: 'n', members: ['bob', 'carol'] });
    expect(created.status).toBe(200);
    const group = created.body;
    expect(group).toEqual({
      group_id: expect.stringMatching(/^\d+$/),
      group_name: 'Ops',
      cover: '',
      notice: 'n',
      owner: 'alice',
      banned_to_post: 0,
      invite_mode: 0,
      invite_code: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
      member_count: 3,
      created_at: expect.any(Number),
      member_list: [
        { app_user_id: 'alice', nickname: nick('alice'), head: '', role: 'owner', muted_until: 0 },
        { app_user_id: 'bob', nickname: nick('bob'), head: '', role: 'member', muted_until: 0 },
        { app_user_id: 'carol', nickname: nick('carol'), head: '', role: 'member', muted_until: 0 },
      ],
    });
    const frames = await Promise.all([c.bob, c.carol].map((client) => systemMessage(client, 17)));
    // 17 carries the group fields without the invite code
    const { member_list, invite_code, ...info } = group;
    for (const frame of frames) {
      expect(frame).toMatchObject({ user_id: 0, group_id: group.group_id, msg_id: frames[0].msg_id });
      expect(dataOf(frame)).toEqual({
        group_id: group.group_id,
        content: '',
        type: 17,
        sub_type: 'personal',
        extra: { group_id: group.group_id, inviter: named('alice'), member_list, group_info: info },
      });
    }
    expect(await quietSystem(c.alice, 200)).toEqual([]);
    // the same group through the WebSocket: the owner sees the code, a member does not
    expect(dataOf(await c.alice.request('groupInfo', { extra: { group_id: group.group_id } }))).toEqual(group);
    expect(dataOf(await c.bob.request('groupInfo', { extra: { group_id: group.group_id } }))).toEqual({ ...info, member_list });
    expect((await t.admin.call('GET', `/admin/groups/${group.group_id}`)).body).toEqual(group);
    expect(JSON.stringify(frames)).not.toContain(invite_code);
  });

  it('GET shows the invite code; PATCH reset_invite_code draws a new one (no 12 for a reset alone) and the old one stops working', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol']);
    const gid = await createGroup(c.alice, ['bob']);
    await systemMessage(c.bob, 17);
    const old = (await t.admin.call('GET', `/admin/groups/${gid}`)).body.invite_code;
    expect(old).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } })).invite_code).toBe(old);

    expect((await t.admin.call('PATCH', `/admin/groups/${gid}`, { reset_invite_code: 0 })).status).toBe(400);
    const reset = await t.admin.call('PATCH', `/admin/groups/${gid}`, { reset_invite_code: 1 });
    expect(reset.status).toBe(200);
    const fresh = reset.body.invite_code;
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(fresh).not.toBe(old);
    expect((await t.admin.call('GET', `/admin/groups/${gid}`)).body.invite_code).toBe(fresh);
    expect(await quietSystem(c.bob, 150)).toEqual([]);

    expect((await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code: old } })).code).toBe(403);
    expect((await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code: fresh } })).code).toBe(200);
    // the OpenAPI document describes both
    const docs = (await t.admin.call('GET', '/docs-json', undefined, null)).body;
    expect(JSON.stringify(docs)).toContain('reset_invite_code');
    expect(JSON.stringify(docs)).toContain('invite_code');
  });

  it('produces the same system messages as the WebSocket actions, with user_id 0', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave', 'erin']);
    const gid = await createGroup(c.alice, ['bob', 'carol']);
    await systemMessage(c.bob, 17);

    const edited = await t.admin.call('PATCH', `/admin/groups/${gid}`, { group_name: 'Renamed', invite_mode: 1, app_user_id: 'bob' });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ group_id: gid, group_name: 'Renamed', invite_mode: 1, owner: 'bob' });
    for (const client of [c.alice, c.bob, c.carol]) {
      const frame = await systemMessage(client, 12);
      expect(frame).toMatchObject({ user_id: 0, group_id: gid });
      expect(dataOf(frame).extra).toEqual({ group_id: gid, group_name: 'Renamed', invite_mode: 1, app_user_id: 'bob' });
    }

    // invite_mode 1 is ignored; the inviter defaults to the (new) owner
    const added = await t.admin.call('POST', `/admin/groups/${gid}/members`, { app_user_ids: ['dave'] });
    expect(added.status).toBe(200);
    expect(added.body.member_list.map((m: any) => m.app_user_id)).toEqual(['bob', 'alice', 'carol', 'dave']);
    for (const client of [c.alice, c.bob, c.carol]) {
      const frame = await systemMessage(client, 16);
      expect(frame.user_id).toBe(0);
      const member = { app_user_id: 'dave', nickname: nick('dave'), head: '' };
      expect(dataOf(frame).extra).toEqual({ group_id: gid, inviter: named('bob'), member_list: [member], joiner: member });
    }
    const toDave = await systemMessage(c.dave, 17);
    expect(toDave.user_id).toBe(0);
    expect(dataOf(toDave).extra.inviter).toEqual(named('bob'));
    expect(dataOf(toDave).extra.member_list).toEqual(added.body.member_list);

    // a named inviter (a member)
    expect((await t.admin.call('POST', `/admin/groups/${gid}/members`, { app_user_ids: ['erin'], inviter: 'carol' })).status).toBe(200);
    expect(dataOf(await systemMessage(c.erin, 17)).extra.inviter).toEqual(named('carol'));
    expect(dataOf(await systemMessage(c.dave, 16)).extra.inviter).toEqual(named('carol'));

    const removed = await t.admin.call('DELETE', `/admin/groups/${gid}/members`, { app_user_ids: ['carol'] });
    expect(removed.status).toBe(200);
    expect(removed.body.member_count).toBe(4);
    for (const client of [c.alice, c.bob, c.carol, c.dave, c.erin]) {
      const frame = await systemMessage(client, 14);
      expect(frame.user_id).toBe(0);
      expect(dataOf(frame).extra).toEqual({ group_id: gid, removed_member_list: [named('carol')], admin: named('bob') });
    }

    const dissolved = await t.admin.call('DELETE', `/admin/groups/${gid}`);
    expect(dissolved.status).toBe(200);
    expect(dissolved.body).toMatchObject({ group_id: gid });
    for (const client of [c.alice, c.bob, c.dave, c.erin]) {
      const frame = await systemMessage(client, 13);
      expect(frame).toMatchObject({ user_id: 0, group_id: gid });
      expect(dataOf(frame).extra).toEqual({ group_id: gid });
    }
    expect(await quietSystem(c.carol, 100)).toEqual([]);
    expect(systemMessagesReceived(c.carol).map((f) => dataOf(f).type)).toEqual([17, 12, 16, 16, 14]);

    // gone for every later operation, on both transports
    expect((await t.admin.call('GET', `/admin/groups/${gid}`)).status).toBe(404);
    expect((await t.admin.call('PATCH', `/admin/groups/${gid}`, { notice: 'x' })).status).toBe(404);
    expect((await t.admin.call('POST', `/admin/groups/${gid}/members`, { app_user_ids: ['carol'] })).status).toBe(404);
    expect((await t.admin.call('DELETE', `/admin/groups/${gid}/members`, { app_user_ids: ['dave'] })).status).toBe(404);
    expect((await t.admin.call('DELETE', `/admin/groups/${gid}`)).status).toBe(404);
    expect((await c.bob.request('groupInfo', { extra: { group_id: gid } })).code).toBe(404);
  });

  it('validates bodies (400 naming the field), unknown users and groups (404), and requires the admin token (401)', async () => {
    await connectAll(t, ['alice', 'bob']);
    const cases: Array<[string, string, unknown, number, RegExp | null]> = [
      ['POST', '/admin/groups', { group_name: 'G', members: [] }, 400, /owner/],
      ['POST', '/admin/groups', { owner: 'alice', members: [] }, 400, /group_name/],
      ['POST', '/admin/groups', { owner: 'alice', group_name: 'x'.repeat(65), members: [] }, 400, /group_name/],
      ['POST', '/admin/groups', { owner: 'alice', group_name: 'G' }, 400, /members/],
      ['POST', '/admin/groups', { owner: 'alice', group_name: 'G', members: ['bob'], cover: 'nope' }, 400, /cover/],
      ['POST', '/admin/groups', { owner: 'ghost', group_name: 'G', members: ['bob'] }, 404, /ghost/],
      ['POST', '/admin/groups', { owner: 'alice', group_name: 'G', members: ['ghost'] }, 404, /ghost/],
      ['GET', '/admin/groups/999', undefined, 404, null],
      ['GET', '/admin/groups/abc', undefined, 404, null],
      ['PATCH', '/admin/groups/999', { notice: 'x' }, 404, null],
      ['DELETE', '/admin/groups/999', undefined, 404, null],
    ];
    for (const [method, path, body, status, msg] of cases) {
      const response = await t.admin.call(method, path, body);
      expect({ method, path, status: response.status }).toEqual({ method, path, status });
      if (msg) expect(response.body.msg).toMatch(msg);
    }
    const gid = (await t.admin.call('POST', '/admin/groups', { owner: 'alice', group_name: 'G', members: ['bob'] })).body.group_id;
    expect((await t.admin.call('PATCH', `/admin/groups/${gid}`, { banned_to_post: 3 })).body.msg).toMatch(/banned_to_post/);
    expect((await t.admin.call('PATCH', `/admin/groups/${gid}`, { app_user_id: 'carol' })).status).toBe(400);
    expect((await t.admin.call('PATCH', `/admin/groups/${gid}`, {})).status).toBe(400);
    expect((await t.admin.call('POST', `/admin/groups/${gid}/members`, { app_user_ids: ['bob'] })).status).toBe(400);
    expect((await t.admin.call('POST', `/admin/groups/${gid}/members`, { app_user_ids: 'bob' })).body.msg).toMatch(/app_user_ids/);
    expect((await t.admin.call('DELETE', `/admin/groups/${gid}/members`, { app_user_ids: ['alice'] })).status).toBe(400);
    expect((await t.admin.call('GET', `/admin/groups/${gid}`, undefined, null)).status).toBe(401);
    expect((await t.admin.call('DELETE', `/admin/groups/${gid}`, undefined, 'wrong-token')).status).toBe(401);
    expect((await t.admin.call('GET', `/admin/groups/${gid}`)).status).toBe(200);
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await t.admin.call('GET', '/docs-json', undefined, null)).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/admin/groups', '/admin/groups/{group_id}', '/admin/groups/{group_id}/members']));
    expect(Object.keys(doc.paths['/admin/groups/{group_id}'])).toEqual(expect.arrayContaining(['get', 'patch', 'delete']));
    expect(Object.keys(doc.paths['/admin/groups/{group_id}/members'])).toEqual(expect.arrayContaining(['post', 'delete']));
    expect(doc.components.schemas.AdminCreateGroupBody.required).toEqual(expect.arrayContaining(['owner', 'group_name', 'members']));
    expect(doc.components.schemas.GroupDto).toBeDefined();
  });

  it('an offline member learns of admin operations on connect too', async () => {
    await t.admin.putUser('alice', nick('alice'));
    await t.admin.putUser('bob', nick('bob'));
    const gid = (await t.admin.call('POST', '/admin/groups', { owner: 'alice', group_name: 'G', members: ['bob'] })).body.group_id;
    await t.admin.call('PATCH', `/admin/groups/${gid}`, { notice: 'hi' });
    await t.admin.call('DELETE', `/admin/groups/${gid}/members`, { app_user_ids: ['bob'] });
    const bob = await t.connect('bob');
    const types: number[] = [];
    for (let i = 0; i < 3; i++) types.push(dataOf(await bob.push('systemMessage', (f) => dataOf(f).type !== 19)).type);
    expect(types).toEqual([17, 12, 14]);
    const alice = await t.connect('alice');
    const aliceTypes: number[] = [];
    for (let i = 0; i < 2; i++) aliceTypes.push(dataOf(await alice.push('systemMessage', (f) => dataOf(f).type !== 19)).type);
    expect(aliceTypes).toEqual([12, 14]);
    expect(await quietSystem(alice, 200)).toEqual([]);
    expect(await userIdOf(t, 'alice')).toBeGreaterThan(0);
  });
});
