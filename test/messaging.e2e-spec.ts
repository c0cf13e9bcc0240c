import { createGroup, directConversation, dissolveGroup, readSeq, removeMember, setBanned, userId } from './support/messaging-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, newNonce, WsClient } from './support/ws-client';

const IMAGE = { url: 'https://cdn.example.com/x.jpg', width: 1200, height: 800, is_original: 2 };

describe('messaging: chat and groupChat', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0', MEDIA_BASE_URL: 'https://files.example.com/dl', THUMB_URL_TEMPLATE: '{url}!thumb' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  async function pair(): Promise<[WsClient, WsClient]> {
    return [await t.connect('alice', { waitSync: true }), await t.connect('bob', { waitSync: true })];
  }

  describe('chat', () => {
    it('stores a text message, answers sendResult with the whole message and pushes it to the recipient', async () => {
      const [alice, bob] = await pair();
      const aliceId = await userId(t, 'alice');
      const nonce = newNonce();
      const reply = await alice.request('chat', { nonce, type: 1, content: 'hello 👋', app_user_ids: 'bob' });
      expect(reply).toMatchObject({ code: 200, action: 'sendResult', nonce, user_id: aliceId });
      expect(reply.group_id).toBeUndefined();
      expect(typeof reply.msg_id).toBe('number');
      expect(typeof reply.time).toBe('number');
      expect(dataOf(reply)).toEqual({
        type: 1,
        content: 'hello 👋',
        extra: {},
        app_user_id: 'alice',
        nickname: 'alice-nick',
        head: '',
        to_app_user_id: 'bob',
        seq: 1,
      });
      const push = await bob.push('chat');
      expect(push).toMatchObject({ code: 200, action: 'chat', user_id: aliceId, msg_id: reply.msg_id, time: reply.time });
      expect(push.data).toBe(reply.data);
      const [row] = await t.sql(`SELECT * FROM messages`);
      expect(row).toMatchObject({ id: reply.msg_id, seq: 1, sender_id: aliceId, nonce, type: 1, content: 'hello 👋', extra: {}, created_at: reply.time });
    });

    it('numbers messages 1, 2, 3 per conversation with increasing msg_ids', async () => {
      const [alice, bob] = await pair();
      const seqs: number[] = [];
      const ids: number[] = [];
      for (const [from, to] of [
        [alice, 'bob'],
        [bob, 'alice'],
        [alice, 'bob'],
      ] as const) {
        const reply = await from.request('chat', { type: 1, content: 'x', app_user_ids: to });
        seqs.push(dataOf(reply).seq);
        ids.push(reply.msg_id!);
      }
      expect(seqs).toEqual([1, 2, 3]);
      expect(ids[1]).toBeGreaterThan(ids[0]);
      expect(ids[2]).toBeGreaterThan(ids[1]);
      const carol = await t.connect('carol');
      expect(dataOf(await carol.request('chat', { type: 1, content: 'x', app_user_ids: 'bob' })).seq).toBe(1);
    });

    it("pushes the message to the sender's other connections, not to the sending one, as text frames", async () => {
      const [alice, bob] = await pair();
      const alicePhone = await t.connect('alice', { waitSync: true });
      const reply = await alice.request('chat', { type: 1, content: 'sync me 👋', app_user_ids: 'bob' });
      const copy = await alicePhone.push('chat');
      expect(copy.data).toBe(reply.data);
      expect(copy.msg_id).toBe(reply.msg_id);
      expect(dataOf(copy).content).toBe('sync me 👋');
      await bob.push('chat');
      expect(await alice.quietFor(150, 'chat')).toEqual([]);
      expect(alice.received((f) => f.action === 'chat')).toEqual([]);
      // a push is encoded once for all its sockets; it must still go out as a text frame (PROTOCOL §3)
      expect([alice, alicePhone, bob].map((client) => client.binaryMessages)).toEqual([0, 0, 0]);
    });

    it('creates the conversation once when both sides send their first messages at the same time', async () => {
      const [alice, bob] = await pair();
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2 ? alice.request('chat', { type: 1, content: `a${i}`, app_user_ids: 'bob' }) : bob.request('chat', { type: 1, content: `b${i}`, app_user_ids: 'alice' }),
        ),
      );
      expect(replies.map((r) => r.code)).toEqual(Array(20).fill(200));
      expect(replies.map((r) => dataOf(r).seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(await t.sql(`SELECT count(*)::int AS n FROM conversations`)).toEqual([{ n: 1 }]);
      expect(await t.sql(`SELECT count(*)::int AS n FROM conversation_members`)).toEqual([{ n: 2 }]);
    });

    it('starts read positions at 0 and moves the sender to its own message', async () => {
      const [alice, bob] = await pair();
      await alice.request('chat', { type: 1, content: 'a', app_user_ids: 'bob' });
      await alice.request('chat', { type: 1, content: 'b', app_user_ids: 'bob' });
      const conversation = (await directConversation(t, 'alice', 'bob'))!;
      expect(await readSeq(t, 'alice', conversation)).toBe(2);
      expect(await readSeq(t, 'bob', conversation)).toBe(0);
      await bob.request('chat', { type: 1, content: 'c', app_user_ids: 'alice' });
      expect(await readSeq(t, 'bob', conversation)).toBe(3);
      expect(await readSeq(t, 'alice', conversation)).toBe(2);
      const [c] = await t.sql(`SELECT last_seq, last_msg_id FROM conversations WHERE id = $1`, [conversation]);
      const [last] = await t.sql(`SELECT id FROM messages ORDER BY seq DESC LIMIT 1`);
      expect(c).toEqual({ last_seq: 3, last_msg_id: last.id });
    });

    it('answers 404 for an unknown recipient and stores nothing', async () => {
      const [alice] = await pair();
      const reply = await alice.request('chat', { type: 1, content: 'hi', app_user_ids: 'nobody' });
      expect(reply).toMatchObject({ code: 404, action: 'sendResult' });
      expect(reply.data).toBeUndefined();
      expect(await t.sql(`SELECT * FROM messages`)).toEqual([]);
      expect(await t.sql(`SELECT * FROM conversations`)).toEqual([]);
    });

    it('answers 811 while the recipient blocks the sender, and delivers again after unblock; groups are unaffected', async () => {
      const [alice, bob] = await pair();
      expect(await bob.request('block', { app_user_ids: 'alice' })).toMatchObject({ code: 200, action: 'block' });
      const refused = await alice.request('chat', { type: 1, content: 'hi', app_user_ids: 'bob' });
      expect(refused).toMatchObject({ code: 811, action: 'sendResult' });
      expect(refused.data).toBeUndefined();
      expect(await t.sql(`SELECT * FROM messages`)).toEqual([]);
      expect(await bob.quietFor(100, 'chat')).toEqual([]);
      // blocking is one-way: bob may still write to alice
      expect((await bob.request('chat', { type: 1, content: 'I can', app_user_ids: 'alice' })).code).toBe(200);
      const group = await createGroup(t, 'bob', ['alice']);
      expect((await alice.request('groupChat', { type: 1, content: 'in group', group_id: group })).code).toBe(200);
      expect(await bob.request('unblock', { app_user_ids: 'alice' })).toMatchObject({ code: 200, action: 'unblock' });
      expect((await alice.request('chat', { type: 1, content: 'hi again', app_user_ids: 'bob' })).code).toBe(200);
      expect((await bob.push('chat', (f) => dataOf(f).content === 'hi again')).code).toBe(200);
    });

    it('block and unblock answer 404 for an unknown user and 400 for a bad or own id; the admin routes block too', async () => {
      const [alice] = await pair();
      expect((await alice.request('block', { app_user_ids: 'nobody' })).code).toBe(404);
      expect((await alice.request('block', { app_user_ids: 'bad id!' })).code).toBe(400);
      expect((await alice.request('block', {})).code).toBe(400);
      expect((await alice.request('block', { app_user_ids: 'alice' })).code).toBe(400);
      expect((await alice.request('unblock', { app_user_ids: 'nobody' })).code).toBe(404);
      expect((await t.admin.call('PUT', '/admin/users/bob/blacklist/alice')).status).toBe(200);
      expect((await alice.request('chat', { type: 1, content: 'x', app_user_ids: 'bob' })).code).toBe(811);
      expect((await t.admin.call('DELETE', '/admin/users/bob/blacklist/alice')).status).toBe(200);
      expect((await alice.request('chat', { type: 1, content: 'x', app_user_ids: 'bob' })).code).toBe(200);
    });

    it('refuses a message to oneself with 400', async () => {
      const [alice] = await pair();
      expect((await alice.request('chat', { type: 1, content: 'me', app_user_ids: 'alice' })).code).toBe(400);
      expect(await t.sql(`SELECT * FROM conversations`)).toEqual([]);
    });
  });

  describe('dedupe (831)', () => {
    it('answers a repeated nonce with the original msg_id, time and data, storing and pushing nothing again', async () => {
      const [alice, bob] = await pair();
      const nonce = newNonce();
      const first = await alice.request('chat', { nonce, type: 1, content: 'once', app_user_ids: 'bob' });
      const again = await alice.request('chat', { nonce, type: 3, content: 'changed', extra: { nonsense: true }, app_user_ids: 'nobody' });
      expect(again).toMatchObject({ code: 831, action: 'sendResult', nonce, msg_id: first.msg_id, time: first.time, user_id: first.user_id });
      expect(dataOf(again)).toEqual(dataOf(first));
      expect(dataOf(again).seq).toBe(1);
      // an invalid body, a group target: still the original
      expect((await alice.request('chat', { nonce, type: 99 })).code).toBe(831);
      expect((await alice.request('groupChat', { nonce, type: 1, content: 'x', group_id: '999' })).msg_id).toBe(first.msg_id);
      await bob.push('chat');
      expect(await bob.quietFor(150, 'chat')).toEqual([]);
      expect(bob.received((f) => f.action === 'chat')).toHaveLength(1);
      expect(await t.sql(`SELECT count(*)::int AS n FROM messages`)).toEqual([{ n: 1 }]);
      expect((await t.sql(`SELECT last_seq FROM conversations`))[0].last_seq).toBe(1);
      // another sender may use the same nonce
      expect((await bob.request('chat', { nonce, type: 1, content: 'mine', app_user_ids: 'alice' })).code).toBe(200);
    });

    it('stores a nonce raced on several connections exactly once', async () => {
      const [alice, bob] = await pair();
      const phone = await t.connect('alice', { waitSync: true });
      const nonce = newNonce();
      const replies = await Promise.all(
        [alice, phone, alice, phone, alice, phone].map((c) => c.request('chat', { nonce, type: 1, content: 'race', app_user_ids: 'bob' })),
      );
      const codes = replies.map((r) => r.code).sort();
      expect(codes).toEqual([200, 831, 831, 831, 831, 831]);
      expect(new Set(replies.map((r) => r.msg_id)).size).toBe(1);
      expect(new Set(replies.map((r) => r.data)).size).toBe(1);
      await bob.push('chat');
      expect(await bob.quietFor(150, 'chat')).toEqual([]);
      expect(await t.sql(`SELECT count(*)::int AS n FROM messages`)).toEqual([{ n: 1 }]);
      expect((await t.sql(`SELECT last_seq FROM conversations`))[0].last_seq).toBe(1);
    });

    it('answers a repeated groupChat nonce with the original, group_id included', async () => {
      const [alice] = await pair();
      const group = await createGroup(t, 'alice', ['bob']);
      const nonce = newNonce();
      const first = await alice.request('groupChat', { nonce, type: 1, content: 'g', group_id: group });
      await dissolveGroup(t, group);
      const again = await alice.request('groupChat', { nonce, type: 1, content: 'g', group_id: group });
      expect(again).toMatchObject({ code: 831, msg_id: first.msg_id, time: first.time, group_id: group });
      expect(dataOf(again)).toEqual(dataOf(first));
    });
  });

  describe('groupChat', () => {
    it('pushes to every member but the sender, and to the sender’s other connections', async () => {
      const [alice, bob] = await pair();
      const carol = await t.connect('carol', { waitSync: true });
      const dave = await t.connect('dave', { waitSync: true }); // not a member
      const alicePhone = await t.connect('alice', { waitSync: true });
      const group = await createGroup(t, 'alice', ['bob', 'carol']);
      const aliceId = await userId(t, 'alice');
      const reply = await alice.request('groupChat', { type: 3, content: '', extra: IMAGE, group_id: group });
      expect(reply).toMatchObject({ code: 200, action: 'sendResult', group_id: group, user_id: aliceId });
      expect(dataOf(reply)).toEqual({
        type: 3,
        content: '',
        extra: { ...IMAGE, thumb_url: 'https://cdn.example.com/x.jpg!thumb', thumbWidth: 200, thumbHeight: 133 },
        app_user_id: 'alice',
        nickname: 'alice-nick',
        head: '',
        group_id: group,
        seq: 1,
      });
      for (const client of [bob, carol, alicePhone]) {
        const push = await client.push('groupChat');
        expect(push).toMatchObject({ code: 200, action: 'groupChat', group_id: group, msg_id: reply.msg_id, user_id: aliceId });
        expect(push.data).toBe(reply.data);
      }
      expect(await dave.quietFor(100, 'groupChat')).toEqual([]);
      expect(alice.received((f) => f.action === 'groupChat')).toEqual([]);
    });

    it('answers 404 for a missing or dissolved group, 403 for a non-member or a removed member', async () => {
      const [alice, bob] = await pair();
      const carol = await t.connect('carol');
      const group = await createGroup(t, 'alice', ['bob']);
      const missing = await alice.request('groupChat', { type: 1, content: 'x', group_id: '987654' });
      expect(missing).toMatchObject({ code: 404, action: 'sendResult', group_id: '987654' });
      expect(missing.data).toBeUndefined();
      const outsider = await carol.request('groupChat', { type: 1, content: 'x', group_id: group });
      expect(outsider).toMatchObject({ code: 403, group_id: group });
      await removeMember(t, group, 'bob');
      expect((await bob.request('groupChat', { type: 1, content: 'x', group_id: group })).code).toBe(403);
      await dissolveGroup(t, group);
      expect((await alice.request('groupChat', { type: 1, content: 'x', group_id: group })).code).toBe(404);
      expect(await t.sql(`SELECT * FROM messages`)).toEqual([]);
      expect((await alice.request('groupChat', { type: 1, content: 'x', group_id: 3 })).code).toBe(400);
    });

    it('lets only the owner post while banned_to_post is 1', async () => {
      const [alice, bob] = await pair();
      const group = await createGroup(t, 'alice', ['bob'], { bannedToPost: 1 });
      expect((await bob.request('groupChat', { type: 1, content: 'x', group_id: group })).code).toBe(403);
      expect((await alice.request('groupChat', { type: 1, content: 'owner', group_id: group })).code).toBe(200);
      await setBanned(t, group, 0);
      expect(dataOf(await bob.request('groupChat', { type: 1, content: 'now', group_id: group })).seq).toBe(2);
    });

    it('moves the sender’s read position to its message; members start at the last seq when they join', async () => {
      const [alice, bob] = await pair();
      const group = await createGroup(t, 'alice', ['bob']);
      await alice.request('groupChat', { type: 1, content: '1', group_id: group });
      await alice.request('groupChat', { type: 1, content: '2', group_id: group });
      expect(await readSeq(t, 'alice', group)).toBe(2);
      expect(await readSeq(t, 'bob', group)).toBe(0);
      await bob.request('groupChat', { type: 1, content: '3', group_id: group });
      expect(await readSeq(t, 'bob', group)).toBe(3);
    });

    it('gives 30 concurrent sends from several members 30 distinct, gap-free seqs', async () => {
      const names = ['m1', 'm2', 'm3', 'm4', 'm5'];
      const clients = await Promise.all(names.map((name) => t.connect(name, { waitSync: true })));
      const group = await createGroup(t, 'm1', names.slice(1));
      const replies = await Promise.all(
        Array.from({ length: 30 }, (_, i) => clients[i % clients.length].request('groupChat', { type: 1, content: `n${i}`, group_id: group })),
      );
      expect(replies.every((r) => r.code === 200)).toBe(true);
      const seqs = replies.map((r) => dataOf(r).seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      const rows = await t.sql(`SELECT seq, id FROM messages ORDER BY seq`);
      expect(rows.map((r) => r.seq)).toEqual(seqs);
      // msg_id order agrees with seq order inside the conversation
      const ids = rows.map((r) => r.id);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect((await t.sql(`SELECT last_seq FROM conversations WHERE id = $1`, [Number(group)]))[0].last_seq).toBe(30);
      for (const [i, name] of names.entries()) {
        const own = replies.filter((_, j) => j % names.length === i).map((r) => dataOf(r).seq);
        expect(await readSeq(t, name, group)).toBe(Math.max(...own));
      }
    });
  });

  describe('database failure', () => {
    it('answers code 0 and stores nothing; a retry with the same nonce then succeeds exactly once', async () => {
      const [alice, bob] = await pair();
      const group = await createGroup(t, 'alice', ['bob']);
      await t.sql(`ALTER TABLE messages ADD CONSTRAINT tmp_fail CHECK (false) NOT VALID`);
      const directNonce = newNonce();
      const groupNonce = newNonce();
      try {
        const failed = await alice.request('chat', { nonce: directNonce, type: 1, content: 'x', app_user_ids: 'bob' });
        expect(failed).toMatchObject({ code: 0, action: 'sendResult', nonce: directNonce });
        expect(failed.data).toBeUndefined();
        const failedGroup = await alice.request('groupChat', { nonce: groupNonce, type: 1, content: 'g', group_id: group });
        expect(failedGroup).toMatchObject({ code: 0, action: 'sendResult', group_id: group });
      } finally {
        await t.sql(`ALTER TABLE messages DROP CONSTRAINT tmp_fail`);
      }
      expect(await t.sql(`SELECT * FROM messages`)).toEqual([]);
      expect(await t.sql(`SELECT * FROM conversations WHERE kind = 1`)).toEqual([]);
      expect((await t.sql(`SELECT last_seq FROM conversations WHERE id = $1`, [Number(group)]))[0].last_seq).toBe(0);
      expect(await bob.quietFor(100, 'chat')).toEqual([]);

      const retry = await alice.request('chat', { nonce: directNonce, type: 1, content: 'x', app_user_ids: 'bob' });
      expect(retry.code).toBe(200);
      expect(dataOf(retry).seq).toBe(1);
      expect((await alice.request('chat', { nonce: directNonce, type: 1, content: 'x', app_user_ids: 'bob' })).code).toBe(831);
      const groupRetry = await alice.request('groupChat', { nonce: groupNonce, type: 1, content: 'g', group_id: group });
      expect(groupRetry.code).toBe(200);
      expect(dataOf(groupRetry).seq).toBe(1);
      expect(await t.sql(`SELECT count(*)::int AS n FROM messages`)).toEqual([{ n: 2 }]);
      await bob.push('chat');
      await bob.push('groupChat');
      expect(await bob.quietFor(100)).toEqual([]);
    });
  });
});
