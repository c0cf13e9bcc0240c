import { addMember, createGroup, setBanned, userId } from './support/messaging-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, Frame, newNonce, WsClient } from './support/ws-client';

/** Black-box checks of PROTOCOL.md §1, §3 and §4, sentence by sentence, beyond the other messaging suites. */
describe('messaging: conformance with PROTOCOL §1, §3, §4', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0', MEDIA_BASE_URL: 'https://media.example.com/f' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  const IMAGE = { url: 'https://cdn.example.com/p.png', width: 1200, height: 800, is_original: 2, caption: 'z', a: 1 };

  function expectFailure(reply: Frame, code: number, action: string, nonce: string, groupId?: string) {
    expect(reply).toMatchObject({ code, action, nonce });
    expect(typeof reply.msg).toBe('string');
    expect(reply.msg.length).toBeGreaterThan(0);
    expect(reply.data).toBeUndefined();
    expect(reply.msg_id).toBeUndefined();
    if (groupId === undefined) expect(reply.group_id).toBeUndefined();
    else expect(reply.group_id).toBe(groupId);
  }

  describe('sendResult and push shape', () => {
    it('chat: exact top-level fields and data keys, integers and strings as specified, push data = reply data', async () => {
      const alice = await t.connect('alice');
      const alicePhone = await t.connect('alice');
      const bob = await t.connect('bob');
      const aliceId = await userId(t, 'alice');
      const nonce = newNonce();
      const reply = await alice.request('chat', { nonce, type: 1, content: 'hi', app_user_ids: 'bob' });
      expect(reply).toMatchObject({ code: 200, msg: 'OK', action: 'sendResult', nonce, user_id: aliceId });
      expect(Object.keys(reply).sort()).toEqual(['action', 'code', 'data', 'msg', 'msg_id', 'nonce', 'time', 'user_id']);
      expect(Number.isInteger(reply.msg_id)).toBe(true);
      expect(Number.isInteger(reply.time)).toBe(true);
      expect(typeof reply.data).toBe('string');
      const data = dataOf(reply);
      expect(data).toEqual({ type: 1, content: 'hi', extra: {}, app_user_id: 'alice', nickname: 'alice-nick', head: '', to_app_user_id: 'bob', seq: 1 });

      for (const client of [bob, alicePhone]) {
        const push = await client.push('chat');
        expect(push).toMatchObject({ code: 200, action: 'chat', msg_id: reply.msg_id, time: reply.time, user_id: aliceId });
        expect(push.group_id).toBeUndefined();
        expect(push.data).toBe(reply.data);
      }
      expect(await alice.quietFor(100, 'chat')).toEqual([]);
    });

    it('groupChat: group_id a string at the top level and in data, every member but the sender gets it', async () => {
      const alice = await t.connect('alice');
      const bob = await t.connect('bob');
      const carol = await t.connect('carol');
      const group = await createGroup(t, 'alice', ['bob', 'carol']);
      const reply = await alice.request('groupChat', { type: 1, content: 'all', group_id: group });
      expect(reply).toMatchObject({ code: 200, action: 'sendResult', group_id: group });
      expect(typeof reply.group_id).toBe('string');
      const data = dataOf(reply);
      expect(data).toEqual({ type: 1, content: 'all', extra: {}, app_user_id: 'alice', nickname: 'alice-nick', head: '', group_id: group, seq: 1 });
      expect(data.to_app_user_id).toBeUndefined();
      for (const client of [bob, carol]) {
        const push = await client.push('groupChat');
        expect(push).toMatchObject({ action: 'groupChat', group_id: group, msg_id: reply.msg_id });
        expect(push.data).toBe(reply.data);
      }
      expect(await alice.quietFor(100, 'groupChat')).toEqual([]);
    });
  });

  describe('failure replies: code, msg, action, nonce (+ group_id), no data', () => {
    it('chat 400, 404, 811', async () => {
      const alice = await t.connect('alice');
      const bob = await t.connect('bob');
      let nonce = newNonce();
      expectFailure(await alice.request('chat', { nonce, type: 1, content: '', app_user_ids: 'bob' }), 400, 'sendResult', nonce);
      nonce = newNonce();
      expectFailure(await alice.request('chat', { nonce, type: 1, content: 'x', app_user_ids: 'nobody' }), 404, 'sendResult', nonce);
      expect(await bob.request('block', { app_user_ids: 'alice' })).toMatchObject({ code: 200, action: 'block' });
      nonce = newNonce();
      expectFailure(await alice.request('chat', { nonce, type: 1, content: 'x', app_user_ids: 'bob' }), 811, 'sendResult', nonce);
      expect(await bob.request('unblock', { app_user_ids: 'alice' })).toMatchObject({ code: 200, action: 'unblock' });
      expect((await alice.request('chat', { type: 1, content: 'x', app_user_ids: 'bob' })).code).toBe(200);
      expect(await t.sql(`SELECT count(*)::int AS n FROM messages`)).toEqual([{ n: 1 }]);
    });

    it('groupChat 400, 403, 404 carry group_id', async () => {
      const alice = await t.connect('alice');
      const carol = await t.connect('carol');
      const group = await createGroup(t, 'alice', ['bob']);
      let nonce = newNonce();
      expectFailure(await alice.request('groupChat', { nonce, type: 2, group_id: group }), 400, 'sendResult', nonce, group);
      nonce = newNonce();
      expectFailure(await carol.request('groupChat', { nonce, type: 1, content: 'x', group_id: group }), 403, 'sendResult', nonce, group);
      nonce = newNonce();
      expectFailure(await alice.request('groupChat', { nonce, type: 1, content: 'x', group_id: '987654' }), 404, 'sendResult', nonce, '987654');
    });

    it('ack and history failures', async () => {
      const alice = await t.connect('alice');
      const bob = await t.connect('bob');
      const group = await createGroup(t, 'alice', ['bob']);
      let nonce = newNonce();
      expectFailure(await bob.request('ack', { nonce, msg_id: 1, status: 0, app_user_ids: 'alice' }), 400, 'ackResult', nonce);
      nonce = newNonce();
      expectFailure(await bob.request('ack', { nonce, msg_id: 424242, status: 2, group_id: group }), 404, 'ackResult', nonce, group);
      nonce = newNonce();
      expectFailure(await alice.request('history', { nonce, app_user_ids: 'bob', before_seq: 2, after_seq: 1 }), 400, 'history', nonce);
      nonce = newNonce();
      expectFailure(await alice.request('history', { nonce, group_id: group, limit: 101 }), 400, 'history', nonce, group);
    });
  });

  describe('order of checks on send', () => {
    it('dedupe, then 400, then 404/811/403', async () => {
      const alice = await t.connect('alice');
      const bob = await t.connect('bob');
      const group = await createGroup(t, 'alice', ['bob']);
      // validation before the target checks
      expect((await alice.request('groupChat', { type: 99, group_id: '99999999999999999999' })).code).toBe(400);
      expect((await alice.request('groupChat', { type: 1, content: '', group_id: '0' })).code).toBe(400);
      expect((await alice.request('groupChat', { type: 1, content: 'x', group_id: '0' })).code).toBe(404);
      await bob.request('block', { app_user_ids: 'alice' });
      expect((await alice.request('chat', { type: 1, content: '', app_user_ids: 'bob' })).code).toBe(400);
      expect((await alice.request('chat', { type: 1, content: 'x', app_user_ids: 'bob' })).code).toBe(811);
      // muted group: a non-member is 403 too; the owner may post
      await setBanned(t, group, 1);
      expect((await bob.request('groupChat', { type: 1, content: 'x', group_id: group })).code).toBe(403);
      expect((await alice.request('groupChat', { type: 1, content: 'x', group_id: group })).code).toBe(200);
    });

    it('831 repeats the original byte for byte (extra key order, old nickname), even with a now-invalid body', async () => {
      const alice = await t.connect('alice');
      const bob = await t.connect('bob');
      const nonce = newNonce();
      const first = await alice.request('chat', { nonce, type: 3, content: '', extra: IMAGE, app_user_ids: 'bob' });
      expect(first.code).toBe(200);
      expect(Object.keys(dataOf(first).extra).slice(0, 6)).toEqual(Object.keys(IMAGE));
      await t.admin.putUser('alice', 'Alice Renamed');
      for (const body of [
        { type: 3, content: '', extra: IMAGE, app_user_ids: 'bob' },
        { type: 1, content: '', app_user_ids: 'nobody' },
        { type: 1, content: 'x', group_id: '5' },
      ]) {
        const again = await alice.request(body.group_id ? 'groupChat' : 'chat', { nonce, ...body });
        expect(again).toMatchObject({ code: 831, action: 'sendResult', nonce, msg_id: first.msg_id, time: first.time, user_id: first.user_id });
        expect(again.data).toBe(first.data);
        expect(again.group_id).toBeUndefined();
      }
      await bob.push('chat');
      expect(await bob.quietFor(100, 'chat')).toEqual([]);

      const group = await createGroup(t, 'alice', ['bob']);
      const groupNonce = newNonce();
      const original = await alice.request('groupChat', { nonce: groupNonce, type: 3, extra: IMAGE, group_id: group });
      const repeated = await alice.request('groupChat', { nonce: groupNonce, type: 3, extra: IMAGE, group_id: group });
      expect(repeated).toMatchObject({ code: 831, msg_id: original.msg_id, time: original.time, group_id: group });
      expect(repeated.data).toBe(original.data);
      expect(dataOf(repeated).seq).toBe(1);
    });
  });

  describe('content and extra', () => {
    async function sendAs(fields: Record<string, unknown>) {
      const alice = await t.connect('alice');
      await t.connect('bob');
      return alice.request('chat', { app_user_ids: 'bob', ...fields });
    }

    it('extra: absent or null = {}, non-object 400, limit counts UTF-8 bytes of compact JSON', async () => {
      const alice = await t.connect('alice');
      await t.connect('bob');
      const send = (fields: Record<string, unknown>) => alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'x', ...fields });
      expect(dataOf(await send({})).extra).toEqual({});
      expect(dataOf(await send({ extra: null })).extra).toEqual({});
      for (const extra of ['{}', 0, true, [], ['a']]) expect(await send({ extra })).toMatchObject({ code: 400, msg: expect.stringMatching(/extra/) });
      // {"k":"…"} = 8 bytes + value; 8192 bytes total is the limit
      expect((await send({ extra: { k: 'a'.repeat(8184) } })).code).toBe(200);
      expect((await send({ extra: { k: 'a'.repeat(8185) } })).code).toBe(400);
      // 3-byte characters: 2728 × 3 = 8184 → 8192 bytes, though far fewer code points
      expect((await send({ extra: { k: '好'.repeat(2728) } })).code).toBe(200);
      expect((await send({ extra: { k: '好'.repeat(2728) + 'a' } })).code).toBe(400);
    });

    it('content: required non-empty only for type 1; otherwise optional string kept as sent', async () => {
      const reply = await sendAs({ type: 4, extra: { latitude: 1.5, longitude: -2 } });
      expect(dataOf(reply)).toMatchObject({ type: 4, content: '' });
      const alice = await t.connect('alice');
      expect(dataOf(await alice.request('chat', { app_user_ids: 'bob', type: 4, content: ' where ', extra: { latitude: 0, longitude: 0 } })).content).toBe(' where ');
      for (const content of [1, true, {}, ['x']]) {
        expect(await alice.request('chat', { app_user_ids: 'bob', type: 5, content, extra: { a: 1 } })).toMatchObject({ code: 400, msg: expect.stringMatching(/content/) });
      }
      expect((await alice.request('chat', { app_user_ids: 'bob', type: 1, content: '😀'.repeat(5000) })).code).toBe(200);
      expect((await alice.request('chat', { app_user_ids: 'bob', type: 1, content: '😀'.repeat(5001) })).code).toBe(400);
      expect((await alice.request('chat', { app_user_ids: 'bob', type: 1 })).code).toBe(400);
    });

    it('thumbnails: min(1, 200/w, 200/h), halves rounded up, at least 1, never upscaled', async () => {
      const alice = await t.connect('alice');
      await t.connect('bob');
      const image = async (width: number, height: number) => {
        const reply = await alice.request('chat', { app_user_ids: 'bob', type: 3, extra: { url: 'http://x.example/i.jpg', width, height, is_original: 1 } });
        expect(reply.code).toBe(200);
        const { thumbWidth, thumbHeight, thumb_url } = dataOf(reply).extra;
        expect(thumb_url).toBe('http://x.example/i.jpg?imageView2/2/w/200/h/200');
        return [thumbWidth, thumbHeight];
      };
      expect(await image(200, 200)).toEqual([200, 200]);
      expect(await image(1, 1)).toEqual([1, 1]);
      expect(await image(250, 150)).toEqual([200, 120]);
      expect(await image(400, 301)).toEqual([200, 151]); // 150.5 → 151
      expect(await image(400, 3)).toEqual([200, 2]); // 1.5 → 2
      expect(await image(800, 1)).toEqual([200, 1]); // 0.25 → 1
      expect(await image(333, 201)).toEqual([200, 121]);
      const video = await alice.request('chat', {
        app_user_ids: 'bob',
        type: 7,
        extra: { video_url: 'https://v.example/v.mp4', cover_url: 'https://v.example/c.jpg', videoTotalTime: 1, width: 201, height: 101 },
      });
      expect(dataOf(video).extra).toMatchObject({ thumbWidth: 200, thumbHeight: 100 }); // 101 × 200/201 = 100.497… → 100
    });

    it('file: download_url = MEDIA_BASE_URL/encodeURIComponent(etag)?attname=encodeURIComponent(file_name), client value kept', async () => {
      const alice = await t.connect('alice');
      await t.connect('bob');
      const extra = { file_name: '报告 (1)&x=y#.pdf', file_size: 0, etag: 'a b/c?d+e' };
      const reply = await alice.request('chat', { app_user_ids: 'bob', type: 8, extra });
      expect(dataOf(reply).extra).toEqual({
        ...extra,
        download_url: `https://media.example.com/f/${encodeURIComponent(extra.etag)}?attname=${encodeURIComponent(extra.file_name)}`,
      });
      const own = await alice.request('chat', { app_user_ids: 'bob', type: 8, extra: { ...extra, download_url: 'https://own.example/x' } });
      expect(dataOf(own).extra.download_url).toBe('https://own.example/x');
      // file_name limit counts code points
      expect((await alice.request('chat', { app_user_ids: 'bob', type: 8, extra: { ...extra, file_name: '😀'.repeat(255) } })).code).toBe(200);
      expect((await alice.request('chat', { app_user_ids: 'bob', type: 8, extra: { ...extra, file_name: '😀'.repeat(256) } })).code).toBe(400);
    });
  });

  describe('ack', () => {
    it("group ack: pushed to every connection of the message's sender and the reader's other connections, not to other members", async () => {
      const alice = await t.connect('alice');
      const alicePhone = await t.connect('alice');
      const bob = await t.connect('bob');
      const bobPhone = await t.connect('bob');
      const carol = await t.connect('carol');
      const group = await createGroup(t, 'alice', ['bob', 'carol']);
      const message = await alice.request('groupChat', { type: 5, extra: { amount: 1 }, group_id: group });
      const nonce = newNonce();
      const reply = await bob.request('ack', { nonce, msg_id: message.msg_id, status: 1, group_id: group });
      expect(reply).toMatchObject({ code: 200, action: 'ackResult', nonce, group_id: group });
      const bobId = await userId(t, 'bob');
      for (const client of [alice, alicePhone, bobPhone]) {
        const push = await client.push('ack');
        expect(push).toMatchObject({ code: 200, action: 'ack', user_id: bobId, group_id: group });
        expect(dataOf(push)).toEqual({ msg_id: message.msg_id, status: 1, app_user_id: 'bob', type: 5, group_id: group });
      }
      expect(await carol.quietFor(100, 'ack')).toEqual([]);
      expect(bob.received((f) => f.action === 'ack')).toEqual([]);
    });
  });

  describe('history', () => {
    it('default limit 20, has_more false exactly at the end in each direction, field types', async () => {
      const alice = await t.connect('alice');
      const bob = await t.connect('bob');
      for (let i = 1; i <= 21; i++) expect((await alice.request('chat', { type: 1, content: `m${i}`, app_user_ids: 'bob' })).code).toBe(200);
      const page = dataOf(await bob.request('history', { app_user_ids: 'alice' }));
      expect(page.messages).toHaveLength(20);
      expect(page.has_more).toBe(true);
      const item = page.messages[0];
      for (const key of ['msg_id', 'seq', 'time', 'user_id', 'type']) expect(Number.isInteger(item[key])).toBe(true);
      expect(Object.keys(item).sort()).toEqual(
        ['app_user_id', 'content', 'extra', 'head', 'msg_id', 'nickname', 'seq', 'time', 'to_app_user_id', 'type', 'user_id'].sort(),
      );
      expect(dataOf(await bob.request('history', { app_user_ids: 'alice', limit: 21 })).has_more).toBe(false);
      expect(dataOf(await bob.request('history', { app_user_ids: 'alice', before_seq: 21, limit: 20 })).has_more).toBe(false);
      expect(dataOf(await bob.request('history', { app_user_ids: 'alice', before_seq: 21, limit: 19 })).has_more).toBe(true);
      const after = dataOf(await bob.request('history', { app_user_ids: 'alice', after_seq: 1, limit: 20 }));
      expect(after.messages.map((m: any) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
      expect(after.has_more).toBe(false);
      expect(dataOf(await bob.request('history', { app_user_ids: 'alice', after_seq: 0, limit: 20 })).has_more).toBe(true);
      expect(dataOf(await bob.request('history', { app_user_ids: 'alice', after_seq: 21 }))).toEqual({ messages: [], has_more: false });
    });

    it('group history items carry group_id as a string; a re-joined member reads from the re-join', async () => {
      const alice = await t.connect('alice');
      const bob = await t.connect('bob');
      const group = await createGroup(t, 'alice', ['bob']);
      await alice.request('groupChat', { type: 1, content: 'one', group_id: group });
      const page = dataOf(await bob.request('history', { group_id: group }));
      expect(page.messages[0].group_id).toBe(group);
      expect(page.messages[0].to_app_user_id).toBeUndefined();
      await t.sql(`DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2`, [Number(group), await userId(t, 'bob')]);
      await alice.request('groupChat', { type: 1, content: 'while away', group_id: group });
      await addMember(t, group, 'bob');
      await alice.request('groupChat', { type: 1, content: 'back', group_id: group });
      expect(dataOf(await bob.request('history', { group_id: group })).messages.map((m: any) => m.content)).toEqual(['back']);
    });

    it('GET /admin/messages: default limit 20, after_seq oldest first, limit 0 → 400', async () => {
      const alice = await t.connect('alice');
      await t.connect('bob');
      for (let i = 1; i <= 22; i++) await alice.request('chat', { type: 1, content: `m${i}`, app_user_ids: 'bob' });
      const newest = await t.admin.call('GET', '/admin/messages?app_user_id=alice&peer=bob');
      expect(newest.status).toBe(200);
      expect(newest.body.messages.map((m: any) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 22 - i));
      expect(newest.body.has_more).toBe(true);
      const after = await t.admin.call('GET', '/admin/messages?app_user_id=bob&peer=alice&after_seq=19');
      expect(after.body).toEqual({ has_more: false, messages: [expect.objectContaining({ seq: 20 }), expect.objectContaining({ seq: 21 }), expect.objectContaining({ seq: 22 })] });
      expect((await t.admin.call('GET', '/admin/messages?app_user_id=bob&peer=alice&limit=0')).status).toBe(400);
    });
  });
});
