import { AppConfig } from '../src/config/app-config';
import { connectAll, createGroup, inviteCode, quietSystem, systemMessage, systemMessagesReceived, userIdOf } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

const nick = (id: string) => `${id}-nick`;
const named = (id: string) => ({ app_user_id: id, nickname: nick(id) });

describe('groups over WebSocket (PROTOCOL §5)', () => {
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

  describe('createGroup', () => {
    it('makes the caller owner, replies with the group and member_list, and sends 17 to each added member only', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      await t.admin.putUser('bob', nick('bob'), 'https://cdn.example.com/b.jpg');
      const reply = await c.alice.request('createGroup', {
        extra: { group_name: 'Team 🚀', cover: 'https://cdn.example.com/g.jpg', notice: 'be nice', app_user_ids: ['bob', 'carol', 'bob', 'alice'] },
      });
      expect(reply).toMatchObject({ code: 200, action: 'createGroup', group_id: expect.stringMatching(/^\d+$/) });
      const group = dataOf(reply);
      expect(group).toEqual({
        group_id: reply.group_id,
        group_name: 'Team 🚀',
        cover: 'https://cdn.example.com/g.jpg',
        notice: 'be nice',
        owner: 'alice',
        banned_to_post: 0,
        invite_mode: 0,
        invite_code: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
        member_count: 3,
        created_at: expect.any(Number),
        member_list: [
          { app_user_id: 'alice', nickname: nick('alice'), head: '', role: 'owner', muted_until: 0 },
          { app_user_id: 'bob', nickname: nick('bob'), head: 'https://cdn.example.com/b.jpg', role: 'member', muted_until: 0 },
          { app_user_id: 'carol', nickname: nick('carol'), head: '', role: 'member', muted_until: 0 },
        ],
      });

      const toBob = await systemMessage(c.bob, 17);
      const toCarol = await systemMessage(c.carol, 17);
      const alice = await userIdOf(t, 'alice');
      for (const frame of [toBob, toCarol]) {
        expect(frame).toMatchObject({ code: 200, msg: 'OK', action: 'systemMessage', user_id: alice, group_id: reply.group_id, msg_id: toBob.msg_id });
        expect(typeof frame.time).toBe('number');
        expect(typeof frame.nonce).toBe('string');
        const data = dataOf(frame);
        expect(Object.keys(data)).toEqual(['group_id', 'content', 'type', 'sub_type', 'extra']);
        // 17's group_info: the group fields without the invite code
        const { member_list, invite_code: _code, ...info } = group;
        expect(data).toEqual({
          group_id: reply.group_id,
          content: '',
          type: 17,
          sub_type: 'personal',
          extra: { group_id: reply.group_id, inviter: named('alice'), member_list, group_info: info },
        });
      }
      expect(toBob.msg_id).toBeGreaterThan(0);
      expect(await quietSystem(c.alice)).toEqual([]);
      expect(await quietSystem(c.dave, 50)).toEqual([]);
      expect(systemMessagesReceived(c.bob)).toHaveLength(1);
    });

    it('allows a group of the owner alone', async () => {
      const { alice } = await connectAll(t, ['alice']);
      const reply = await alice.request('createGroup', { extra: { group_name: 'Solo', app_user_ids: [] } });
      expect(reply.code).toBe(200);
      expect(dataOf(reply).member_list).toEqual([{ app_user_id: 'alice', nickname: nick('alice'), head: '', role: 'owner', muted_until: 0 }]);
    });

    it('validates every field (400 naming it) and unknown users (404)', async () => {
      const { alice } = await connectAll(t, ['alice', 'bob']);
      const cases: Array<[unknown, number, RegExp]> = [
        [undefined, 400, /extra/],
        ['x', 400, /extra/],
        [{ app_user_ids: ['bob'] }, 400, /extra\.group_name/],
        [{ group_name: '', app_user_ids: ['bob'] }, 400, /extra\.group_name/],
        [{ group_name: 'x'.repeat(65), app_user_ids: ['bob'] }, 400, /extra\.group_name/],
        [{ group_name: 7, app_user_ids: ['bob'] }, 400, /extra\.group_name/],
        [{ group_name: 'G', cover: 'ftp://x', app_user_ids: ['bob'] }, 400, /extra\.cover/],
        [{ group_name: 'G', notice: 'n'.repeat(301), app_user_ids: ['bob'] }, 400, /extra\.notice/],
        [{ group_name: 'G' }, 400, /extra\.app_user_ids/],
        [{ group_name: 'G', app_user_ids: 'bob' }, 400, /extra\.app_user_ids/],
        [{ group_name: 'G', app_user_ids: [5] }, 400, /extra\.app_user_ids/],
        [{ group_name: 'G', app_user_ids: ['bob', 'nobody'] }, 404, /nobody/],
      ];
      for (const [extra, code, msg] of cases) {
        const reply = await alice.request('createGroup', extra === undefined ? {} : { extra });
        expect({ extra, code: reply.code }).toEqual({ extra, code });
        expect(reply.msg).toMatch(msg);
      }
      // 64 code points (emoji are 2 UTF-16 units each) and a 300-character notice are fine
      const ok = await alice.request('createGroup', { extra: { group_name: '😀'.repeat(64), notice: '字'.repeat(300), cover: '', app_user_ids: ['bob'] } });
      expect(ok.code).toBe(200);
      expect(Number((await t.sql(`SELECT count(*) FROM groups`))[0].count)).toBe(1);
    });

    it('refuses more members than MAX_GROUP_MEMBERS with 400', async () => {
      config.MAX_GROUP_MEMBERS = 3;
      const { alice } = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const tooMany = await alice.request('createGroup', { extra: { group_name: 'G', app_user_ids: ['bob', 'carol', 'dave'] } });
      expect(tooMany).toMatchObject({ code: 400, msg: expect.stringMatching(/app_user_ids.*3/) });
      const fits = await alice.request('createGroup', { extra: { group_name: 'G', app_user_ids: ['bob', 'carol'] } });
      expect(fits.code).toBe(200);
    });
  });

  describe('editGroup', () => {
    it('lets the owner change any subset; 12 goes to every member, the owner included, with group_id and the changed fields', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob', 'carol']);
      await systemMessage(c.bob, 17);
      await systemMessage(c.carol, 17);

      const reply = await c.alice.request('editGroup', { extra: { group_id: gid, notice: 'new notice', banned_to_post: 1 } });
      expect(reply).toMatchObject({ code: 200, action: 'editGroup', group_id: gid });
      expect(dataOf(reply)).toMatchObject({ group_id: gid, notice: 'new notice', banned_to_post: 1, group_name: 'Team' });

      const alice = await userIdOf(t, 'alice');
      const frames = await Promise.all([c.alice, c.bob, c.carol].map((client) => systemMessage(client, 12)));
      for (const frame of frames) {
        expect(frame).toMatchObject({ action: 'systemMessage', user_id: alice, group_id: gid, msg_id: frames[0].msg_id });
        expect(dataOf(frame)).toEqual({ group_id: gid, content: '', type: 12, sub_type: 'group', extra: { group_id: gid, notice: 'new notice', banned_to_post: 1 } });
      }
      expect(await quietSystem(c.dave, 50)).toEqual([]);

      const all = await c.alice.request('editGroup', {
        extra: { group_id: gid, group_name: 'Renamed', cover: 'https://cdn.example.com/c.png', notice: '', banned_to_post: 0, invite_mode: 1 },
      });
      expect(all.code).toBe(200);
      const second = await systemMessage(c.carol, 12);
      expect(dataOf(second).extra).toEqual({ group_id: gid, group_name: 'Renamed', cover: 'https://cdn.example.com/c.png', notice: '', banned_to_post: 0, invite_mode: 1 });
      expect(second.msg_id).toBeGreaterThan(frames[0].msg_id!);
      const info = dataOf(await c.bob.request('groupInfo', { extra: { group_id: gid } }));
      expect(info).toMatchObject({ group_name: 'Renamed', cover: 'https://cdn.example.com/c.png', notice: '', banned_to_post: 0, invite_mode: 1, owner: 'alice' });
    });

    it('refuses non-owners (403), unknown groups (404) and bad fields (400)', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob', 'carol']);
      expect(await c.bob.request('editGroup', { extra: { group_id: gid, group_name: 'Mine' } })).toMatchObject({ code: 403, group_id: gid });
      expect(await c.dave.request('editGroup', { extra: { group_id: gid, group_name: 'Mine' } })).toMatchObject({ code: 403, group_id: gid });
      expect(await c.alice.request('editGroup', { extra: { group_id: '999999', group_name: 'X' } })).toMatchObject({ code: 404, group_id: '999999' });
      const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ group_name: 'X' }, /group_id/],
        [{ group_id: 3, group_name: 'X' }, /group_id/],
        [{ group_id: 'abc', group_name: 'X' }, /group_id/],
        [{ group_id: gid }, /extra/],
        [{ group_id: gid, group_name: '' }, /extra\.group_name/],
        [{ group_id: gid, cover: 'not a url' }, /extra\.cover/],
        [{ group_id: gid, notice: 'n'.repeat(301) }, /extra\.notice/],
        [{ group_id: gid, banned_to_post: 2 }, /extra\.banned_to_post/],
        [{ group_id: gid, banned_to_post: '1' }, /extra\.banned_to_post/],
        [{ group_id: gid, invite_mode: true }, /extra\.invite_mode/],
        [{ group_id: gid, app_user_id: 'dave' }, /app_user_id/],
        [{ group_id: gid, app_user_id: 'nobody' }, /app_user_id/],
      ];
      for (const [extra, msg] of bad) {
        const reply = await c.alice.request('editGroup', { extra });
        expect({ extra, code: reply.code }).toEqual({ extra, code: 400 });
        expect(reply.msg).toMatch(msg);
      }
      expect(await quietSystem(c.bob, 100)).toEqual([]);
      expect(systemMessagesReceived(c.bob).map((f) => dataOf(f).type)).toEqual([17]);
    });

    it('transfers ownership to a member: 12 carries app_user_id, and the rights move with it', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol']);
      const gid = await createGroup(c.alice, ['bob', 'carol']);
      const reply = await c.alice.request('editGroup', { extra: { group_id: gid, app_user_id: 'bob' } });
      expect(reply.code).toBe(200);
      expect(dataOf(reply)).toMatchObject({ owner: 'bob' });
      for (const client of [c.alice, c.bob, c.carol]) {
        expect(dataOf(await systemMessage(client, 12)).extra).toEqual({ group_id: gid, app_user_id: 'bob' });
      }
      const info = dataOf(await c.carol.request('groupInfo', { extra: { group_id: gid } }));
      expect(info.owner).toBe('bob');
      expect(info.member_list.map((m: any) => [m.app_user_id, m.role])).toEqual([
        ['bob', 'owner'],
        ['alice', 'member'],
        ['carol', 'member'],
      ]);
      expect((await c.alice.request('editGroup', { extra: { group_id: gid, group_name: 'Back' } })).code).toBe(403);
      expect((await c.bob.request('editGroup', { extra: { group_id: gid, group_name: 'Bobs' } })).code).toBe(200);
      expect((await c.bob.request('leaveGroup', { extra: { group_id: gid } })).code).toBe(400);
      expect((await c.alice.request('leaveGroup', { extra: { group_id: gid } })).code).toBe(200);
    });
  });

  describe('inviteToGroup', () => {
    it('adds the invitees: 17 to each invitee, 16 to the members who were in before, the inviter included', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave', 'erin']);
      const gid = await createGroup(c.alice, ['bob', 'carol']);
      await systemMessage(c.bob, 17);
      await systemMessage(c.carol, 17);
      await t.admin.putUser('erin', nick('erin'), 'https://cdn.example.com/e.jpg');

      const reply = await c.bob.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave', 'erin'] } });
      expect(reply).toMatchObject({ code: 200, action: 'inviteToGroup', group_id: gid });
      const group = dataOf(reply);
      expect(group.member_list.map((m: any) => m.app_user_id)).toEqual(['alice', 'bob', 'carol', 'dave', 'erin']);
      expect(group.member_count).toBe(5);

      const bob = await userIdOf(t, 'bob');
      const joined = await Promise.all([c.alice, c.bob, c.carol].map((client) => systemMessage(client, 16)));
      const memberList = [
        { app_user_id: 'dave', nickname: nick('dave'), head: '' },
        { app_user_id: 'erin', nickname: nick('erin'), head: 'https://cdn.example.com/e.jpg' },
      ];
      for (const frame of joined) {
        expect(frame).toMatchObject({ user_id: bob, group_id: gid, msg_id: joined[0].msg_id });
        expect(dataOf(frame)).toEqual({
          group_id: gid,
          content: '',
          type: 16,
          sub_type: 'group',
          extra: { group_id: gid, inviter: named('bob'), member_list: memberList, joiner: memberList[0] },
        });
      }
      const invited = await Promise.all([c.dave, c.erin].map((client) => systemMessage(client, 17)));
      const { member_list, ...info } = group;
      for (const frame of invited) {
        expect(frame).toMatchObject({ user_id: bob, group_id: gid, msg_id: invited[0].msg_id });
        expect(dataOf(frame)).toEqual({
          group_id: gid,
          content: '',
          type: 17,
          sub_type: 'personal',
          extra: { group_id: gid, inviter: named('bob'), member_list, group_info: info },
        });
      }
      expect(invited[0].msg_id).not.toBe(joined[0].msg_id);
      await quietSystem(c.dave, 200);
      expect(systemMessagesReceived(c.dave).map((f) => dataOf(f).type)).toEqual([17]);
      expect(systemMessagesReceived(c.bob).map((f) => dataOf(f).type)).toEqual([17, 16]);
      expect(systemMessagesReceived(c.alice).map((f) => dataOf(f).type)).toEqual([16]);
    });

    it('starts a new member at the group\'s current seq (nothing before joining is unread or readable)', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'dave']);
      const gid = await createGroup(c.alice, ['bob']);
      await t.sql(`UPDATE conversations SET last_seq = 7 WHERE id = $1`, [gid]);
      expect((await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave'] } })).code).toBe(200);
      const [row] = await t.sql(`SELECT read_seq, joined_seq FROM conversation_members WHERE conversation_id = $1 AND user_id = $2`, [gid, await userIdOf(t, 'dave')]);
      expect(row).toEqual({ read_seq: 7, joined_seq: 7 });
    });

    it('follows invite_mode: any member when 0, only the owner when 1 (403 otherwise)', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob'], { app_user_ids: ['bob'] });
      expect((await c.alice.request('editGroup', { extra: { group_id: gid, invite_mode: 1 } })).code).toBe(200);
      expect(await c.bob.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } })).toMatchObject({ code: 403, group_id: gid });
      expect((await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } })).code).toBe(200);
      expect((await c.alice.request('editGroup', { extra: { group_id: gid, invite_mode: 0 } })).code).toBe(200);
      expect((await c.carol.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave'] } })).code).toBe(200);
    });

    it('is not affected by banned_to_post (it only mutes groupChat)', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob']);
      expect((await c.alice.request('editGroup', { extra: { group_id: gid, banned_to_post: 1 } })).code).toBe(200);
      expect((await c.bob.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } })).code).toBe(200);
      const code = await inviteCode(c.alice, gid);
      expect((await c.dave.request('joinGroup', { extra: { group_id: gid, invite_code: code } })).code).toBe(200);
      expect(dataOf(await c.dave.request('groupInfo', { extra: { group_id: gid } }))).toMatchObject({ banned_to_post: 1, member_count: 4 });
    });

    it('refuses non-members (403), already-members (400 naming them), unknown users (404), bad input (400) and an over-full group (400)', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave', 'erin']);
      const gid = await createGroup(c.alice, ['bob']);
      expect(await c.carol.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave'] } })).toMatchObject({ code: 403, group_id: gid });
      expect(await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave', 'bob'] } })).toMatchObject({
        code: 400,
        msg: expect.stringMatching(/bob/),
        group_id: gid,
      });
      expect(await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave', 'ghost'] } })).toMatchObject({
        code: 404,
        msg: expect.stringMatching(/ghost/),
      });
      expect((await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: [] } })).code).toBe(400);
      expect((await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: 'dave' } })).msg).toMatch(/extra\.app_user_ids/);
      expect((await c.alice.request('inviteToGroup', { extra: { group_id: gid } })).msg).toMatch(/extra\.app_user_ids/);
      expect((await c.alice.request('inviteToGroup', { extra: { group_id: '424242', app_user_ids: ['dave'] } })).code).toBe(404);
      config.MAX_GROUP_MEMBERS = 3;
      expect(await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave', 'erin'] } })).toMatchObject({ code: 400 });
      expect((await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave'] } })).code).toBe(200);
      expect(dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } })).member_count).toBe(3);
      // nothing was sent for the refused invites
      expect(systemMessagesReceived(c.erin)).toEqual([]);
    });
  });

  describe('joinGroup', () => {
    it('adds the caller while invite_mode is 0; 16 goes to every member, the joiner included', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol']);
      const gid = await createGroup(c.alice, ['bob']);
      await t.admin.putUser('carol', nick('carol'), 'https://cdn.example.com/c.jpg');
      const reply = await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code: await inviteCode(c.alice, gid) } });
      expect(reply).toMatchObject({ code: 200, action: 'joinGroup', group_id: gid });
      expect(dataOf(reply).member_list.map((m: any) => m.app_user_id)).toEqual(['alice', 'bob', 'carol']);
      const carol = await userIdOf(t, 'carol');
      const frames = await Promise.all([c.alice, c.bob, c.carol].map((client) => systemMessage(client, 16)));
      const joiner = { app_user_id: 'carol', nickname: nick('carol'), head: 'https://cdn.example.com/c.jpg' };
      for (const frame of frames) {
        expect(frame).toMatchObject({ user_id: carol, group_id: gid, msg_id: frames[0].msg_id });
        expect(dataOf(frame)).toEqual({
          group_id: gid,
          content: '',
          type: 16,
          sub_type: 'group',
          extra: { group_id: gid, inviter: named('carol'), member_list: [joiner], joiner },
        });
      }
    });

    it('is refused when invite_mode is 1 (403), for members (400), unknown groups (404) and a full group (400)', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob']);
      const invite_code = await inviteCode(c.alice, gid);
      expect(await c.bob.request('joinGroup', { extra: { group_id: gid, invite_code } })).toMatchObject({ code: 400, group_id: gid });
      expect(await c.carol.request('joinGroup', { extra: { group_id: '777', invite_code } })).toMatchObject({ code: 404, group_id: '777' });
      expect((await c.carol.request('joinGroup', { extra: { invite_code } })).code).toBe(400);
      await c.alice.request('editGroup', { extra: { group_id: gid, invite_mode: 1 } });
      expect(await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code } })).toMatchObject({ code: 403, group_id: gid });
      await c.alice.request('editGroup', { extra: { group_id: gid, invite_mode: 0 } });
      config.MAX_GROUP_MEMBERS = 3;
      expect((await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code } })).code).toBe(200);
      expect((await c.dave.request('joinGroup', { extra: { group_id: gid, invite_code } })).code).toBe(400);
    });

    it('accepts a top-level group_id as a fallback', async () => {
      const c = await connectAll(t, ['alice', 'carol']);
      const gid = await createGroup(c.alice, []);
      const invite_code = await inviteCode(c.alice, gid);
      expect(await c.carol.request('joinGroup', { group_id: gid, extra: { invite_code } })).toMatchObject({ code: 200, group_id: gid });
    });
  });

  describe('invite codes', () => {
    const CODE = /^[A-Za-z0-9_-]{16}$/;

    it('each group has its own random code; joining without it or with a wrong one is 403 and changes nothing', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol']);
      const gid = await createGroup(c.alice, ['bob']);
      const other = await createGroup(c.alice, []);
      const code = await inviteCode(c.alice, gid);
      expect(code).toMatch(CODE);
      expect(await inviteCode(c.alice, other)).not.toBe(code);
      const [stored] = await t.sql(`SELECT invite_code FROM groups WHERE id = $1`, [Number(gid)]);
      expect(stored.invite_code).toBe(code);

      const refused: Array<[string, Record<string, unknown>]> = [
        ['no code', { group_id: gid }],
        ['no extra at all (top-level group_id)', {}],
        ['a null code', { group_id: gid, invite_code: null }],
        ['an empty code', { group_id: gid, invite_code: '' }],
        ['a wrong code', { group_id: gid, invite_code: 'A'.repeat(16) }],
        ['another group\'s code', { group_id: gid, invite_code: await inviteCode(c.alice, other) }],
        ['the code with one character changed', { group_id: gid, invite_code: code.slice(0, 15) + (code[15] === 'x' ? 'y' : 'x') }],
        ['a prefix of the code', { group_id: gid, invite_code: code.slice(0, 8) }],
        ['the code and more', { group_id: gid, invite_code: code + 'x' }],
      ];
      for (const [what, extra] of refused) {
        const fields = what.startsWith('no extra') ? { group_id: gid } : { extra };
        const reply = await c.carol.request('joinGroup', fields);
        expect({ what, code: reply.code, group_id: reply.group_id, data: reply.data }).toEqual({ what, code: 403, group_id: gid, data: undefined });
      }
      // a code that is not a string is a 400 (PROTOCOL §3: wrong JSON type)
      expect((await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code: 12345 } })).code).toBe(400);
      expect(systemMessagesReceived(c.alice).filter((frame) => dataOf(frame).type === 16)).toEqual([]);
      expect(dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } })).member_count).toBe(2);

      expect((await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code: code } })).code).toBe(200);
    });

    it('is shown to the owner only: createGroup and groupInfo replies of the owner carry it, members\' and joiners\' replies never', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const created = await c.alice.request('createGroup', { extra: { group_name: 'Team', app_user_ids: ['bob'] } });
      const gid = created.group_id!;
      const code = dataOf(created).invite_code;
      expect(code).toMatch(CODE);
      expect(dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } })).invite_code).toBe(code);
      expect(dataOf(await c.alice.request('editGroup', { extra: { group_id: gid, notice: 'n' } })).invite_code).toBe(code);

      const memberInfo = dataOf(await c.bob.request('groupInfo', { extra: { group_id: gid } }));
      expect(memberInfo).not.toHaveProperty('invite_code');
      expect(memberInfo.group_id).toBe(gid);
      const joined = await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code: code } });
      expect(dataOf(joined)).not.toHaveProperty('invite_code');
      expect(JSON.stringify(joined)).not.toContain(code);
      const invited = await c.bob.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['dave'] } });
      expect(invited.code).toBe(200);
      expect(JSON.stringify(invited)).not.toContain(code);
      expect(JSON.stringify(await c.carol.request('groupInfo', { extra: { group_id: gid } }))).not.toContain(code);

      // ownership moves: the new owner sees it, the old owner (now a member) no longer does
      const moved = await c.alice.request('editGroup', { extra: { group_id: gid, app_user_id: 'bob' } });
      expect(moved.code).toBe(200);
      expect(dataOf(moved)).not.toHaveProperty('invite_code');
      expect(dataOf(await c.bob.request('groupInfo', { extra: { group_id: gid } })).invite_code).toBe(code);
      expect(dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } }))).not.toHaveProperty('invite_code');
    });

    it('reset_invite_code draws a new code (owner only); the old one stops working; a reset alone sends no 12', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob']);
      await systemMessage(c.bob, 17);
      const old = await inviteCode(c.alice, gid);

      expect(await c.bob.request('editGroup', { extra: { group_id: gid, reset_invite_code: 1 } })).toMatchObject({ code: 403, group_id: gid });
      expect(await inviteCode(c.alice, gid)).toBe(old);
      for (const bad of [0, 2, '1', true]) {
        expect((await c.alice.request('editGroup', { extra: { group_id: gid, reset_invite_code: bad } })).msg).toMatch(/reset_invite_code/);
      }

      const reply = await c.alice.request('editGroup', { extra: { group_id: gid, reset_invite_code: 1 } });
      expect(reply).toMatchObject({ code: 200, action: 'editGroup', group_id: gid });
      const fresh = dataOf(reply).invite_code;
      expect(fresh).toMatch(CODE);
      expect(fresh).not.toBe(old);
      expect(dataOf(reply)).toMatchObject({ group_id: gid, group_name: 'Team', member_count: 2 });
      expect(await inviteCode(c.alice, gid)).toBe(fresh);
      // nothing members can see changed: no 12
      expect(await quietSystem(c.alice, 150)).toEqual([]);
      expect(await quietSystem(c.bob, 50)).toEqual([]);

      expect(await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code: old } })).toMatchObject({ code: 403, group_id: gid });
      expect((await c.carol.request('joinGroup', { extra: { group_id: gid, invite_code: fresh } })).code).toBe(200);

      // with other changes, 12 carries those and never the code or the reset flag
      const both = await c.alice.request('editGroup', { extra: { group_id: gid, notice: 'new code', reset_invite_code: 1 } });
      const newest = dataOf(both).invite_code;
      expect(newest).not.toBe(fresh);
      for (const client of [c.alice, c.bob, c.carol]) {
        const twelve = await systemMessage(client, 12);
        expect(dataOf(twelve).extra).toEqual({ group_id: gid, notice: 'new code' });
      }
      expect(await c.dave.request('joinGroup', { extra: { group_id: gid, invite_code: fresh } })).toMatchObject({ code: 403 });
      expect((await c.dave.request('joinGroup', { extra: { group_id: gid, invite_code: newest } })).code).toBe(200);
    });

    it('never appears in a system message, stored or pushed', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob']); // 17
      const codes = [await inviteCode(c.alice, gid)];
      await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } }); // 16, 17
      codes.push(dataOf(await c.alice.request('editGroup', { extra: { group_id: gid, group_name: 'G2', reset_invite_code: 1 } })).invite_code); // 12
      await c.dave.request('joinGroup', { extra: { group_id: gid, invite_code: codes[1] } }); // 16
      await c.alice.request('editGroup', { extra: { group_id: gid, app_user_id: 'bob' } }); // 12
      codes.push(dataOf(await c.bob.request('editGroup', { extra: { group_id: gid, reset_invite_code: 1, invite_mode: 1 } })).invite_code); // 12
      await c.bob.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } }); // 14
      await systemMessage(c.dave, 14);
      expect(new Set(codes).size).toBe(3);
      codes.forEach((code) => expect(code).toMatch(CODE));

      const frames = [c.alice, c.bob, c.carol, c.dave].flatMap((client) => systemMessagesReceived(client));
      expect(new Set(frames.map((frame) => dataOf(frame).type))).toEqual(new Set([12, 14, 16, 17]));
      for (const frame of frames) {
        const text = JSON.stringify(frame);
        expect(text).not.toContain('invite_code');
        for (const code of codes) expect(text).not.toContain(code);
      }
      const stored = await t.sql<{ frame: string }>(`SELECT frame FROM system_messages`);
      expect(stored.length).toBeGreaterThan(0);
      for (const { frame } of stored) {
        expect(frame).not.toContain('invite_code');
        for (const code of codes) expect(frame).not.toContain(code);
      }
    });
  });

  describe('removeFromGroup', () => {
    it('lets the owner remove members: 14 to every member at that moment, the removed and the owner included', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob', 'carol', 'dave']);
      const reply = await c.alice.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['bob', 'carol'] } });
      expect(reply).toMatchObject({ code: 200, action: 'removeFromGroup', group_id: gid });
      expect(dataOf(reply).member_list.map((m: any) => m.app_user_id)).toEqual(['alice', 'dave']);
      const alice = await userIdOf(t, 'alice');
      const frames = await Promise.all([c.alice, c.bob, c.carol, c.dave].map((client) => systemMessage(client, 14)));
      for (const frame of frames) {
        expect(frame).toMatchObject({ user_id: alice, group_id: gid, msg_id: frames[0].msg_id });
        expect(dataOf(frame)).toEqual({
          group_id: gid,
          content: '',
          type: 14,
          sub_type: 'group',
          extra: { group_id: gid, removed_member_list: [named('bob'), named('carol')], admin: named('alice') },
        });
      }
      expect(await c.bob.request('groupInfo', { extra: { group_id: gid } })).toMatchObject({ code: 403, group_id: gid });
      expect(await t.sql(`SELECT user_id FROM conversation_members WHERE conversation_id = $1 ORDER BY user_id`, [gid])).toHaveLength(2);
      // later group messages no longer reach the removed
      await c.alice.request('editGroup', { extra: { group_id: gid, notice: 'after' } });
      await systemMessage(c.dave, 12);
      expect(await quietSystem(c.bob, 100)).toEqual([]);
    });

    it('is owner-only (403), never removes the owner (400), and names non-members (400) and unknown users (404)', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob', 'carol']);
      expect(await c.bob.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } })).toMatchObject({ code: 403, group_id: gid });
      expect((await c.dave.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } })).code).toBe(403);
      expect(await c.alice.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['alice'] } })).toMatchObject({ code: 400, group_id: gid });
      expect(await c.alice.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['bob', 'dave'] } })).toMatchObject({
        code: 400,
        msg: expect.stringMatching(/dave/),
      });
      expect((await c.alice.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: ['ghost'] } })).code).toBe(404);
      expect((await c.alice.request('removeFromGroup', { extra: { group_id: gid, app_user_ids: [] } })).code).toBe(400);
      expect((await c.alice.request('removeFromGroup', { extra: { group_id: '31337', app_user_ids: ['bob'] } })).code).toBe(404);
      expect(dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } })).member_count).toBe(3);
    });
  });

  describe('leaveGroup', () => {
    it('replies exactly as PROTOCOL shows; 15 to the remaining members and to the leaver\'s other connections', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol']);
      const carolPhone = await t.connect('carol');
      const gid = await createGroup(c.alice, ['bob', 'carol']);
      await systemMessage(c.carol, 17);
      await systemMessage(carolPhone, 17);
      const reply = await c.carol.request('leaveGroup', { nonce: '1595489198766l8urH1', extra: { group_id: gid } });
      expect(reply).toEqual({ code: 200, result: '', msg: expect.any(String), action: 'leaveGroup', nonce: '1595489198766l8urH1', group_id: gid });
      expect(Object.keys(reply)).toEqual(['code', 'result', 'msg', 'action', 'nonce', 'group_id']);

      const carol = await userIdOf(t, 'carol');
      const frames = await Promise.all([c.alice, c.bob, carolPhone].map((client) => systemMessage(client, 15)));
      for (const frame of frames) {
        expect(frame).toMatchObject({ user_id: carol, group_id: gid, msg_id: frames[0].msg_id });
        expect(dataOf(frame)).toEqual({ group_id: gid, content: '', type: 15, sub_type: 'group', extra: { group_id: gid, member: named('carol') } });
      }
      expect(await quietSystem(c.carol, 100)).toEqual([]);
      expect(systemMessagesReceived(c.carol).map((f) => dataOf(f).type)).toEqual([17]);
      expect(await c.carol.request('groupInfo', { extra: { group_id: gid } })).toMatchObject({ code: 403 });
      expect(dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } })).member_count).toBe(2);
    });

    it('refuses the owner (400), non-members (403) and unknown groups (404); accepts a top-level group_id', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'dave']);
      const gid = await createGroup(c.alice, ['bob']);
      expect(await c.alice.request('leaveGroup', { extra: { group_id: gid } })).toMatchObject({ code: 400, group_id: gid, msg: expect.stringMatching(/owner/) });
      expect(await c.dave.request('leaveGroup', { extra: { group_id: gid } })).toMatchObject({ code: 403, group_id: gid });
      expect(await c.dave.request('leaveGroup', { extra: { group_id: '8888' } })).toMatchObject({ code: 404, group_id: '8888' });
      expect(await c.bob.request('leaveGroup', { group_id: gid })).toMatchObject({ code: 200, result: '', group_id: gid });
      expect(await c.bob.request('leaveGroup', { group_id: gid })).toMatchObject({ code: 403, group_id: gid });
    });
  });

  describe('dissolveGroup', () => {
    it('is owner-only; 13 goes to every member; afterwards every operation is 404', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
      const gid = await createGroup(c.alice, ['bob', 'carol']);
      expect(await c.bob.request('dissolveGroup', { extra: { group_id: gid } })).toMatchObject({ code: 403, group_id: gid });
      const reply = await c.alice.request('dissolveGroup', { extra: { group_id: gid } });
      expect(reply).toMatchObject({ code: 200, action: 'dissolveGroup', group_id: gid });
      const alice = await userIdOf(t, 'alice');
      const frames = await Promise.all([c.alice, c.bob, c.carol].map((client) => systemMessage(client, 13)));
      for (const frame of frames) {
        expect(frame).toMatchObject({ user_id: alice, group_id: gid, msg_id: frames[0].msg_id });
        expect(dataOf(frame)).toEqual({ group_id: gid, content: '', type: 13, sub_type: 'group', extra: { group_id: gid } });
      }
      const after: Array<[WsClient, string, Record<string, unknown>]> = [
        [c.alice, 'groupInfo', {}],
        [c.alice, 'editGroup', { group_name: 'again' }],
        [c.alice, 'inviteToGroup', { app_user_ids: ['dave'] }],
        [c.dave, 'joinGroup', {}],
        [c.alice, 'removeFromGroup', { app_user_ids: ['bob'] }],
        [c.bob, 'leaveGroup', {}],
        [c.alice, 'dissolveGroup', {}],
        [c.dave, 'groupInfo', {}],
      ];
      for (const [client, action, extra] of after) {
        const answer = await client.request(action, { extra: { group_id: gid, ...extra } });
        expect({ action, code: answer.code, group_id: answer.group_id }).toEqual({ action, code: 404, group_id: gid });
      }
      expect((await t.admin.call('GET', `/admin/groups/${gid}`)).status).toBe(404);
      expect(await quietSystem(c.bob, 100)).toEqual([]);
    });
  });

  describe('groupInfo', () => {
    it('answers members with the group fields and member_list; others get 403, unknown groups 404', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'dave']);
      const gid = await createGroup(c.alice, ['bob'], { notice: 'hello' });
      const reply = await c.bob.request('groupInfo', { extra: { group_id: gid } });
      expect(reply).toMatchObject({ code: 200, action: 'groupInfo', group_id: gid });
      expect(dataOf(reply)).toEqual({
        group_id: gid,
        group_name: 'Team',
        cover: '',
        notice: 'hello',
        owner: 'alice',
        banned_to_post: 0,
        invite_mode: 0,
        member_count: 2,
        created_at: expect.any(Number),
        member_list: [
          { app_user_id: 'alice', nickname: nick('alice'), head: '', role: 'owner', muted_until: 0 },
          { app_user_id: 'bob', nickname: nick('bob'), head: '', role: 'member', muted_until: 0 },
        ],
      });
      expect(await c.dave.request('groupInfo', { extra: { group_id: gid } })).toMatchObject({ code: 403, group_id: gid });
      expect(await c.dave.request('groupInfo', { extra: { group_id: '123456789' } })).toMatchObject({ code: 404, group_id: '123456789' });
      expect((await c.dave.request('groupInfo', { extra: { group_id: 12 } })).code).toBe(400);
      expect((await c.dave.request('groupInfo', { extra: 'x' })).code).toBe(400);
      expect((await c.dave.request('groupInfo', {})).code).toBe(400);
      expect(await c.bob.request('groupInfo', { group_id: gid })).toMatchObject({ code: 200, group_id: gid });
    });
  });
});
