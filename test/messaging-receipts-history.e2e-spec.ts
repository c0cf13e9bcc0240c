import { addMember, createGroup, directConversation, dissolveGroup, readSeq, removeMember, userId } from './support/messaging-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

describe('messaging: read receipts, history, admin history', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  async function say(from: WsClient, to: string, content: string) {
    const reply = await from.request('chat', { type: 1, content, app_user_ids: to });
    expect(reply.code).toBe(200);
    return reply;
  }
  async function sayInGroup(from: WsClient, group: string, content: string) {
    const reply = await from.request('groupChat', { type: 1, content, group_id: group });
    expect(reply.code).toBe(200);
    return reply;
  }

  describe('ack', () => {
    it("answers ackResult, pushes ack to every connection of the sender and the reader's other connections, moves read_seq forward only", async () => {
      const alice = await t.connect('alice', { waitSync: true });
      const alicePhone = await t.connect('alice', { waitSync: true });
      const bob = await t.connect('bob', { waitSync: true });
      const bobPhone = await t.connect('bob', { waitSync: true });
      const first = await say(alice, 'bob', 'one');
      const second = await say(alice, 'bob', 'two');
      const bobId = await userId(t, 'bob');
      const conversation = (await directConversation(t, 'alice', 'bob'))!;

      const reply = await bob.request('ack', { msg_id: second.msg_id, status: 2, app_user_ids: 'alice' });
      expect(reply).toMatchObject({ code: 200, action: 'ackResult' });
      expect(await readSeq(t, 'bob', conversation)).toBe(2);
      for (const client of [alice, alicePhone, bobPhone]) {
        const push = await client.push('ack');
        expect(push).toMatchObject({ code: 200, action: 'ack', user_id: bobId });
        expect(dataOf(push)).toEqual({ msg_id: second.msg_id, status: 2, app_user_id: 'bob', type: 1 });
      }
      expect(await bob.quietFor(100, 'ack')).toEqual([]);

      // an older message read later does not move the position back; status 1 never moves it
      expect((await bob.request('ack', { msg_id: first.msg_id, status: 2, app_user_ids: 'alice' })).code).toBe(200);
      expect(await readSeq(t, 'bob', conversation)).toBe(2);
      const third = await say(alice, 'bob', 'three');
      expect((await bob.request('ack', { msg_id: third.msg_id, status: 1, app_user_ids: 'alice' })).code).toBe(200);
      expect(await readSeq(t, 'bob', conversation)).toBe(2);
      const delivered = await alice.push('ack', (f) => dataOf(f).msg_id === third.msg_id);
      expect(dataOf(delivered).status).toBe(1);
      expect(await t.sql(`SELECT count(*)::int AS n FROM messages`)).toEqual([{ n: 3 }]);
    });

    it('works in groups: group_id in the push, only members may ack', async () => {
      const alice = await t.connect('alice', { waitSync: true });
      const bob = await t.connect('bob', { waitSync: true });
      const carol = await t.connect('carol', { waitSync: true });
      const group = await createGroup(t, 'alice', ['bob']);
      const message = await sayInGroup(alice, group, 'hello group');
      const reply = await bob.request('ack', { msg_id: message.msg_id, status: 2, group_id: group });
      expect(reply).toMatchObject({ code: 200, action: 'ackResult', group_id: group });
      const push = await alice.push('ack');
      expect(push.group_id).toBe(group);
      expect(dataOf(push)).toEqual({ msg_id: message.msg_id, status: 2, app_user_id: 'bob', type: 1, group_id: group });
      expect(await readSeq(t, 'bob', group)).toBe(1);
      expect(await carol.request('ack', { msg_id: message.msg_id, status: 2, group_id: group })).toMatchObject({ code: 403, group_id: group });
      await dissolveGroup(t, group);
      expect((await bob.request('ack', { msg_id: message.msg_id, status: 2, group_id: group })).code).toBe(404);
    });

    it('answers every error case', async () => {
      const alice = await t.connect('alice', { waitSync: true });
      const bob = await t.connect('bob', { waitSync: true });
      await t.connect('carol');
      const message = await say(alice, 'bob', 'hi');
      const group = await createGroup(t, 'alice', ['bob']);
      const groupMessage = await sayInGroup(alice, group, 'g');
      const ack = (client: WsClient, fields: Record<string, unknown>) => client.request('ack', fields);

      for (const status of [0, 3, '2', undefined]) {
        expect(await ack(bob, { msg_id: message.msg_id, status, app_user_ids: 'alice' })).toMatchObject({ code: 400, msg: expect.stringMatching(/status/) });
      }
      for (const msg_id of ['1', 0, 1.5, undefined]) {
        expect(await ack(bob, { msg_id, status: 2, app_user_ids: 'alice' })).toMatchObject({ code: 400, msg: expect.stringMatching(/msg_id/) });
      }
      expect((await ack(bob, { msg_id: message.msg_id, status: 2 })).code).toBe(400);
      // own message
      expect((await ack(alice, { msg_id: message.msg_id, status: 2, app_user_ids: 'bob' })).code).toBe(400);
      // no such message / not in that conversation / no such user
      expect((await ack(bob, { msg_id: 999999, status: 2, app_user_ids: 'alice' })).code).toBe(404);
      expect((await ack(bob, { msg_id: message.msg_id, status: 2, app_user_ids: 'carol' })).code).toBe(404);
      expect((await ack(bob, { msg_id: message.msg_id, status: 2, app_user_ids: 'nobody' })).code).toBe(404);
      expect((await ack(bob, { msg_id: groupMessage.msg_id, status: 2, app_user_ids: 'alice' })).code).toBe(404);
      expect((await ack(bob, { msg_id: message.msg_id, status: 2, group_id: group })).code).toBe(404);
      expect((await ack(bob, { msg_id: groupMessage.msg_id, status: 2, group_id: '424242' })).code).toBe(404);
      expect((await ack(alice, { msg_id: groupMessage.msg_id, status: 2, group_id: group })).code).toBe(400);
      expect(alice.received((f) => f.action === 'ack')).toEqual([]);
    });
  });

  describe('history', () => {
    it('pages a one-to-one conversation: newest page, before_seq newest first, after_seq oldest first, has_more', async () => {
      const alice = await t.connect('alice', { waitSync: true });
      const bob = await t.connect('bob', { waitSync: true });
      const sent = [];
      for (let i = 1; i <= 25; i++) sent.push(await say(i % 2 ? alice : bob, i % 2 ? 'bob' : 'alice', `m${i}`));

      const newest = await bob.request('history', { app_user_ids: 'alice' });
      expect(newest).toMatchObject({ code: 200, action: 'history' });
      const page = dataOf(newest);
      expect(page.has_more).toBe(true);
      expect(page.messages.map((m: any) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 25 - i));
      const aliceId = await userId(t, 'alice');
      expect(page.messages[0]).toEqual({
        msg_id: sent[24].msg_id,
        seq: 25,
        time: sent[24].time,
        user_id: aliceId,
        type: 1,
        content: 'm25',
        extra: {},
        app_user_id: 'alice',
        nickname: 'alice-nick',
        head: '',
        to_app_user_id: 'bob',
      });
      expect(page.messages[1]).toMatchObject({ app_user_id: 'bob', to_app_user_id: 'alice', content: 'm24' });

      const older = dataOf(await alice.request('history', { app_user_ids: 'bob', before_seq: 6, limit: 3 }));
      expect(older).toMatchObject({ has_more: true });
      expect(older.messages.map((m: any) => m.seq)).toEqual([5, 4, 3]);
      const oldest = dataOf(await alice.request('history', { app_user_ids: 'bob', before_seq: 3, limit: 3 }));
      expect(oldest.messages.map((m: any) => m.seq)).toEqual([2, 1]);
      expect(oldest.has_more).toBe(false);

      const newer = dataOf(await alice.request('history', { app_user_ids: 'bob', after_seq: 20, limit: 4 }));
      expect(newer.messages.map((m: any) => m.seq)).toEqual([21, 22, 23, 24]);
      expect(newer.has_more).toBe(true);
      const last = dataOf(await alice.request('history', { app_user_ids: 'bob', after_seq: 21, limit: 4 }));
      expect(last.messages.map((m: any) => m.seq)).toEqual([22, 23, 24, 25]);
      expect(last.has_more).toBe(false);
      const all = dataOf(await alice.request('history', { app_user_ids: 'bob', limit: 100 }));
      expect(all.messages).toHaveLength(25);
      expect(all.has_more).toBe(false);
    });

    it('returns an empty page for a conversation without messages, 404 for an unknown user', async () => {
      const alice = await t.connect('alice', { waitSync: true });
      await t.connect('bob');
      expect(dataOf(await alice.request('history', { app_user_ids: 'bob' }))).toEqual({ messages: [], has_more: false });
      expect((await alice.request('history', { app_user_ids: 'nobody' })).code).toBe(404);
    });

    it('validates its parameters', async () => {
      const alice = await t.connect('alice', { waitSync: true });
      await t.connect('bob');
      const bad = async (fields: Record<string, unknown>, msg: RegExp) =>
        expect(await alice.request('history', fields)).toMatchObject({ code: 400, action: 'history', msg: expect.stringMatching(msg) });
      await bad({ app_user_ids: 'bob', before_seq: 5, after_seq: 1 }, /before_seq/);
      await bad({ app_user_ids: 'bob', limit: 0 }, /limit/);
      await bad({ app_user_ids: 'bob', limit: 101 }, /limit/);
      await bad({ app_user_ids: 'bob', limit: '10' }, /limit/);
      await bad({ app_user_ids: 'bob', before_seq: -1 }, /before_seq/);
      await bad({ app_user_ids: 'bob', after_seq: 'x' }, /after_seq/);
      await bad({}, /app_user_ids|group_id/);
      await bad({ app_user_ids: 'bob', group_id: '1' }, /app_user_ids|group_id/);
      expect((await alice.request('history', { app_user_ids: 'bob', limit: 1 })).code).toBe(200);
      expect((await alice.request('history', { app_user_ids: 'bob', limit: 100 })).code).toBe(200);
    });

    it('lets a group member read from when they joined; outsiders and removed members get 403; dissolved 404', async () => {
      const alice = await t.connect('alice', { waitSync: true });
      const bob = await t.connect('bob', { waitSync: true });
      const carol = await t.connect('carol', { waitSync: true });
      const group = await createGroup(t, 'alice', ['bob']);
      for (let i = 1; i <= 3; i++) await sayInGroup(alice, group, `before ${i}`);
      await addMember(t, group, 'carol');
      expect(await readSeq(t, 'carol', group)).toBe(3);
      await sayInGroup(bob, group, 'after');

      const forCarol = await carol.request('history', { group_id: group });
      expect(forCarol).toMatchObject({ code: 200, group_id: group });
      expect(dataOf(forCarol).messages.map((m: any) => m.content)).toEqual(['after']);
      expect(dataOf(forCarol).messages[0]).toMatchObject({ seq: 4, group_id: group, app_user_id: 'bob' });
      expect(dataOf(forCarol).messages[0].to_app_user_id).toBeUndefined();
      expect(dataOf(await carol.request('history', { group_id: group, before_seq: 4 }))).toEqual({ messages: [], has_more: false });
      expect(dataOf(await bob.request('history', { group_id: group })).messages).toHaveLength(4);
      expect(dataOf(await bob.request('history', { group_id: group, after_seq: 0, limit: 2 }))).toMatchObject({ has_more: true });

      const dave = await t.connect('dave');
      expect(await dave.request('history', { group_id: group })).toMatchObject({ code: 403, group_id: group });
      await removeMember(t, group, 'bob');
      expect((await bob.request('history', { group_id: group })).code).toBe(403);
      expect((await alice.request('history', { group_id: '777777' })).code).toBe(404);
      await dissolveGroup(t, group);
      expect((await alice.request('history', { group_id: group })).code).toBe(404);
    });
  });

  describe('GET /admin/messages', () => {
    it('reads a one-to-one conversation or a group with the same paging, and is documented', async () => {
      const alice = await t.connect('alice', { waitSync: true });
      await t.connect('bob');
      for (let i = 1; i <= 5; i++) await say(alice, 'bob', `m${i}`);
      const group = await createGroup(t, 'alice', ['bob']);
      await sayInGroup(alice, group, 'g1');

      const direct = await t.admin.call('GET', '/admin/messages?app_user_id=bob&peer=alice&before_seq=5&limit=2');
      expect(direct.status).toBe(200);
      expect(direct.body.messages.map((m: any) => m.seq)).toEqual([4, 3]);
      expect(direct.body.has_more).toBe(true);
      expect(direct.body.messages[0]).toMatchObject({ content: 'm4', app_user_id: 'alice', to_app_user_id: 'bob' });
      const after = await t.admin.call('GET', '/admin/messages?app_user_id=alice&peer=bob&after_seq=3');
      expect(after.body).toMatchObject({ has_more: false, messages: [{ seq: 4 }, { seq: 5 }] });

      const groupPage = await t.admin.call('GET', `/admin/messages?group_id=${group}`);
      expect(groupPage.body).toEqual({ has_more: false, messages: [expect.objectContaining({ content: 'g1', group_id: group, seq: 1 })] });
      expect((await t.admin.call('GET', `/admin/messages?group_id=${group}&app_user_id=bob`)).status).toBe(200);
      await t.connect('carol');
      expect((await t.admin.call('GET', `/admin/messages?group_id=${group}&app_user_id=carol`)).status).toBe(403);

      expect((await t.admin.call('GET', '/admin/messages?app_user_id=alice&peer=bob&limit=101')).status).toBe(400);
      expect((await t.admin.call('GET', '/admin/messages?app_user_id=alice&peer=bob&before_seq=2&after_seq=1')).status).toBe(400);
      expect((await t.admin.call('GET', '/admin/messages?app_user_id=alice')).status).toBe(400);
      expect((await t.admin.call('GET', '/admin/messages?peer=alice')).status).toBe(400);
      expect((await t.admin.call('GET', '/admin/messages?app_user_id=alice&peer=nobody')).status).toBe(404);
      expect((await t.admin.call('GET', '/admin/messages?group_id=999999')).status).toBe(404);
      expect((await t.admin.call('GET', '/admin/messages?group_id=1', undefined, null)).status).toBe(401);

      const openApi = await t.admin.call('GET', '/docs-json', undefined, null);
      const operation = openApi.body.paths['/admin/messages'].get;
      expect(operation.parameters.map((p: any) => p.name)).toEqual(
        expect.arrayContaining(['app_user_id', 'peer', 'group_id', 'before_seq', 'after_seq', 'limit']),
      );
      expect(operation.responses['200']).toBeDefined();
    });
  });
});
