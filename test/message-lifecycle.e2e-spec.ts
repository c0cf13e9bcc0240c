import { connectAll, createGroup, disconnect, quietSystem, systemMessage } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, Frame, WsClient } from './support/ws-client';

/** Replies, mentions, recall, edit and editHistory (PROTOCOL §4), with windows set by the environment. */
describe('message lifecycle: replies, mentions, recall, edit', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RECALL_WINDOW_SECONDS: '60', EDIT_WINDOW_SECONDS: '600' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  const ok = (frame: Frame) => {
    if (frame.code !== 200) throw new Error(`expected 200, got ${JSON.stringify(frame)}`);
    return frame;
  };
  const chat = async (from: WsClient, to: string, content: string, extra?: Record<string, unknown>) =>
    ok(await from.request('chat', { app_user_ids: to, type: 1, content, extra }));
  const groupChat = async (from: WsClient, gid: string, content: string, extra?: Record<string, unknown>) =>
    ok(await from.request('groupChat', { group_id: gid, type: 1, content, extra }));
  const history = async (c: WsClient, target: Record<string, unknown>) => dataOf(ok(await c.request('history', { ...target, limit: 100 }))).messages as any[];
  /** Moves a message's stored time back (the windows are measured from it). */
  const age = (msgId: number | undefined, seconds: number) => t.sql(`UPDATE messages SET created_at = created_at - $2 WHERE id = $1`, [msgId, seconds * 1000]);

  it('reply_to is replaced by the quote; 404 for another conversation, before joining, after clearing; [recalled] when read later', async () => {
    const { alice, bob, carol } = await connectAll(t, ['alice', 'bob', 'carol']);
    const first = await chat(alice, 'bob', 'x'.repeat(150));
    const reply = await chat(bob, 'alice', 'answer', { reply_to: first.msg_id, keep: 1 });
    expect(dataOf(reply).extra).toEqual({
      reply_to: { msg_id: first.msg_id, seq: 1, app_user_id: 'alice', nickname: 'alice-nick', type: 1, preview: 'x'.repeat(100) },
      keep: 1,
    });
    // the push carries the same object
    const pushed = await alice.push('chat', (f) => f.msg_id === reply.msg_id);
    expect(dataOf(pushed).extra.reply_to.msg_id).toBe(first.msg_id);

    // another conversation's message
    const other = await chat(alice, 'carol', 'hi carol');
    expect((await bob.request('chat', { app_user_ids: 'alice', type: 1, content: 'q', extra: { reply_to: other.msg_id } })).code).toBe(404);
    expect((await bob.request('chat', { app_user_ids: 'alice', type: 1, content: 'q', extra: { reply_to: 999999 } })).code).toBe(404);
    expect((await bob.request('chat', { app_user_ids: 'alice', type: 1, content: 'q', extra: { reply_to: 'one' } })).code).toBe(400);

    // a group message from before a member joined
    const gid = await createGroup(alice, ['bob']);
    const early = await groupChat(alice, gid, 'before carol');
    ok(await alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['carol'] } }));
    const refused = await carol.request('groupChat', { group_id: gid, type: 1, content: 'q', extra: { reply_to: early.msg_id } });
    expect(refused.code).toBe(404);
    expect(refused.group_id).toBe(gid);
    ok(await bob.request('groupChat', { group_id: gid, type: 1, content: 'q', extra: { reply_to: early.msg_id } }));

    // a message at or below the sender's clear position
    await t.sql(`UPDATE conversation_members SET cleared_seq = 1 WHERE user_id = (SELECT id FROM users WHERE app_user_id = 'bob') AND conversation_id <> $1`, [Number(gid)]);
    expect((await bob.request('chat', { app_user_ids: 'alice', type: 1, content: 'q', extra: { reply_to: first.msg_id } })).code).toBe(404);

    // the quoted message is recalled: history shows the quote's preview as [recalled]
    ok(await alice.request('recall', { msg_id: first.msg_id, app_user_ids: 'bob' }));
    const messages = await history(alice, { app_user_ids: 'bob' });
    const quoting = messages.find((m) => m.msg_id === reply.msg_id);
    expect(quoting.extra.reply_to).toEqual({ msg_id: first.msg_id, seq: 1, app_user_id: 'alice', nickname: 'alice-nick', type: 1, preview: '[recalled]' });
    // and a new reply to a recalled message quotes it as [recalled]
    const late = await chat(alice, 'bob', 'about that', { reply_to: first.msg_id });
    expect(dataOf(late).extra.reply_to.preview).toBe('[recalled]');
  });

  it('mentions: groups only, members only (400 naming the first), at most 50; @all for the owner and admins (403 otherwise)', async () => {
    const { alice, bob, carol } = await connectAll(t, ['alice', 'bob', 'carol']);
    await t.admin.putUser('dave', 'dave');
    const gid = await createGroup(alice, ['bob', 'carol']);

    const sent = await groupChat(bob, gid, '@carol', { mentions: ['carol', 'carol'] });
    expect(dataOf(sent).extra.mentions).toEqual(['carol', 'carol']); // extra is delivered as sent
    const [row] = await t.sql(`SELECT mention_ids, mention_all FROM messages WHERE id = $1`, [sent.msg_id]);
    const [carolRow] = await t.sql(`SELECT id FROM users WHERE app_user_id = 'carol'`);
    expect(row).toEqual({ mention_ids: [carolRow.id], mention_all: false });

    const notMember = await bob.request('groupChat', { group_id: gid, type: 1, content: 'x', extra: { mentions: ['carol', 'dave', 'nobody'] } });
    expect(notMember.code).toBe(400);
    expect(notMember.msg).toContain('dave');
    const tooMany = await bob.request('groupChat', { group_id: gid, type: 1, content: 'x', extra: { mentions: Array.from({ length: 51 }, (_, i) => `u${i}`) } });
    expect(tooMany.code).toBe(400);
    expect((await bob.request('groupChat', { group_id: gid, type: 1, content: 'x', extra: { mentions: 'carol' } })).code).toBe(400);
    expect((await bob.request('groupChat', { group_id: gid, type: 1, content: 'x', extra: { mention_all: 'yes' } })).code).toBe(400);
    expect((await bob.request('chat', { app_user_ids: 'carol', type: 1, content: 'x', extra: { mentions: ['carol'] } })).code).toBe(400);

    expect((await bob.request('groupChat', { group_id: gid, type: 1, content: '@all', extra: { mention_all: true } })).code).toBe(403);
    ok(await alice.request('groupChat', { group_id: gid, type: 1, content: '@all', extra: { mention_all: true } }));
    ok(await alice.request('setGroupRole', { extra: { group_id: gid, app_user_id: 'bob', role: 'admin' } }));
    ok(await bob.request('groupChat', { group_id: gid, type: 1, content: '@all', extra: { mention_all: true } }));
    // refused sends stored nothing
    expect((await t.sql(`SELECT count(*)::int AS n FROM messages`))[0].n).toBe(3);

    // carol: 3 unread, mentioned by all 3
    const sync = dataOf(ok(await carol.request('sync')));
    expect(sync.extra.groupList).toEqual([expect.objectContaining({ group_id: gid, count: 3, mention_count: 3 })]);
    const aliceSync = dataOf(ok(await alice.request('sync')));
    // alice's own @all moved her read position past bob's first message
    expect(aliceSync.extra.groupList).toEqual([expect.objectContaining({ count: 1, mention_count: 1 })]);
  });

  it('recall: sender within the window, owner/admins any time, others 403, unknown 404, idempotent; history and previews', async () => {
    const { alice, bob, carol } = await connectAll(t, ['alice', 'bob', 'carol']);
    const gid = await createGroup(alice, ['bob', 'carol']);
    const m1 = await groupChat(bob, gid, 'secret');
    await t.sql(`INSERT INTO message_edits (msg_id, content, extra, edited_at) VALUES ($1, 'older', '{}', 1)`, [m1.msg_id]);
    const [bobRow] = await t.sql(`SELECT id FROM users WHERE app_user_id = 'bob'`);
    await t.sql(`INSERT INTO message_reactions (msg_id, user_id, emoji, created_at) VALUES ($1, $2, '👍', 1)`, [m1.msg_id, bobRow.id]);

    expect((await carol.request('recall', { msg_id: m1.msg_id, group_id: gid })).code).toBe(403);
    expect((await carol.request('recall', { msg_id: 424242, group_id: gid })).code).toBe(404);
    expect((await carol.request('recall', { msg_id: 'x', group_id: gid })).code).toBe(400);
    expect((await carol.request('recall', { msg_id: m1.msg_id, app_user_ids: 'bob' })).code).toBe(404); // not that conversation

    const reply = ok(await bob.request('recall', { msg_id: m1.msg_id, group_id: gid }));
    expect(reply.group_id).toBe(gid);
    expect(dataOf(reply)).toEqual({ msg_id: m1.msg_id, seq: 1, group_id: gid, recalled_at: expect.any(Number) });
    for (const c of [alice, bob, carol]) {
      const frame = await systemMessage(c, 20);
      expect(dataOf(frame)).toEqual({
        group_id: gid,
        content: '',
        type: 20,
        sub_type: 'group',
        extra: { msg_id: m1.msg_id, seq: 1, group_id: gid, by: { app_user_id: 'bob', nickname: 'bob-nick' } },
      });
    }
    const [stored] = await t.sql(`SELECT content, extra, recalled_at FROM messages WHERE id = $1`, [m1.msg_id]);
    expect(stored).toEqual({ content: '', extra: {}, recalled_at: dataOf(reply).recalled_at });
    expect(await t.sql(`SELECT 1 FROM message_edits WHERE msg_id = $1 UNION ALL SELECT 1 FROM message_reactions WHERE msg_id = $1`, [m1.msg_id])).toEqual([]);

    // again: 200, same answer, nothing pushed; also after the window
    await age(m1.msg_id, 61);
    const again = ok(await bob.request('recall', { msg_id: m1.msg_id, group_id: gid }));
    expect(dataOf(again)).toEqual(dataOf(reply));
    expect(await quietSystem(carol)).toEqual([]);

    const [item] = await history(carol, { group_id: gid });
    expect(item).toMatchObject({ msg_id: m1.msg_id, seq: 1, content: '', extra: {}, recalled: true });
    const carolSync = dataOf(ok(await carol.request('conversations'))).conversations;
    expect(carolSync).toEqual([expect.objectContaining({ group_id: gid, count: 0, mention_count: 0, last_message: '[recalled]', last_type: 1 })]);

    // the window: bob's newer message, aged past it, is 403 for bob and fine for the owner and an admin
    const m2 = await groupChat(bob, gid, 'second');
    const m3 = await groupChat(bob, gid, 'third');
    await age(m2.msg_id, 61);
    await age(m3.msg_id, 61);
    const late = await bob.request('recall', { msg_id: m2.msg_id, group_id: gid });
    expect(late.code).toBe(403);
    expect(late.msg).toContain('window');
    ok(await alice.request('recall', { msg_id: m2.msg_id, group_id: gid }));
    ok(await alice.request('setGroupRole', { extra: { group_id: gid, app_user_id: 'carol', role: 'admin' } }));
    ok(await carol.request('recall', { msg_id: m3.msg_id, group_id: gid }));
    const byCarol = await systemMessage(bob, 20, (data) => data.extra.msg_id === m3.msg_id);
    expect(dataOf(byCarol).extra.by).toEqual({ app_user_id: 'carol', nickname: 'carol-nick' });
  });

  it('recall of a one-to-one message and the admin route; type 20 redelivered exactly once to an offline participant', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const m = await chat(alice, 'bob', 'oops');
    const m2 = await chat(alice, 'bob', 'oops again');
    await disconnect(t, bob, 'bob');
    ok(await alice.request('recall', { msg_id: m.msg_id, app_user_ids: 'bob' }));
    const own = await systemMessage(alice, 20);
    expect(dataOf(own)).toEqual({ content: '', type: 20, sub_type: 'personal', extra: { msg_id: m.msg_id, seq: 1, to_app_user_id: 'bob', by: { app_user_id: 'alice', nickname: 'alice-nick' } } });
    expect(own.group_id).toBeUndefined();

    const admin = await t.admin.call('POST', `/admin/messages/${m2.msg_id}/recall`);
    expect(admin.status).toBe(200);
    expect(admin.body).toEqual({ msg_id: m2.msg_id, seq: 2, to_app_user_id: 'bob', recalled_at: expect.any(Number) });
    const byAdmin = await systemMessage(alice, 20, (data) => data.extra.msg_id === m2.msg_id);
    expect(byAdmin.user_id).toBe(0);
    expect(dataOf(byAdmin).extra.by).toEqual({ app_user_id: '', nickname: 'admin' });
    expect((await t.admin.call('POST', `/admin/messages/${m2.msg_id}/recall`)).status).toBe(200);
    expect((await t.admin.call('POST', `/admin/messages/99999/recall`)).status).toBe(404);
    expect((await t.admin.call('POST', `/admin/messages/abc/recall`)).status).toBe(400);
    const adminHistory = await t.admin.call('GET', '/admin/messages?app_user_id=alice&peer=bob');
    expect(adminHistory.body.messages.map((x: any) => [x.msg_id, x.recalled, x.content])).toEqual([
      [m2.msg_id, true, ''],
      [m.msg_id, true, ''],
    ]);

    // bob was offline: both 20s on connect, once; his sync no longer counts them
    const back = await t.connect('bob', { waitSync: false });
    const sync = dataOf(await back.waitSync());
    expect(sync.extra.friendList).toEqual([]);
    const first = await systemMessage(back, 20);
    const second = await systemMessage(back, 20);
    expect([dataOf(first).extra.msg_id, dataOf(second).extra.msg_id]).toEqual([m.msg_id, m2.msg_id]);
    expect(await quietSystem(back)).toEqual([]);
    await disconnect(t, back, 'bob');
    const again = await t.connect('bob');
    expect(await quietSystem(again)).toEqual([]);
  });

  it('edit: sender only, text only, within the window, not recalled; versions kept; type 21 to everyone, redelivered once', async () => {
    const { alice, bob, carol } = await connectAll(t, ['alice', 'bob', 'carol']);
    const gid = await createGroup(alice, ['bob', 'carol']);
    const m = await groupChat(bob, gid, 'helo');
    const image = ok(await bob.request('groupChat', { group_id: gid, type: 3, extra: { url: 'https://x/y.jpg', width: 10, height: 10, is_original: 1 } }));
    await disconnect(t, carol, 'carol');

    expect((await alice.request('edit', { msg_id: m.msg_id, group_id: gid, content: 'hacked' })).code).toBe(403);
    expect((await bob.request('edit', { msg_id: image.msg_id, group_id: gid, content: 'x' })).code).toBe(400);
    expect((await bob.request('edit', { msg_id: m.msg_id, group_id: gid, content: '' })).code).toBe(400);
    expect((await bob.request('edit', { msg_id: m.msg_id, group_id: gid })).code).toBe(400);
    expect((await bob.request('edit', { msg_id: m.msg_id, group_id: gid, content: 'x'.repeat(5001) })).code).toBe(400);
    expect((await bob.request('edit', { msg_id: m.msg_id, app_user_ids: 'alice', content: 'x' })).code).toBe(404);

    const edited = ok(await bob.request('edit', { msg_id: m.msg_id, group_id: gid, content: 'hello' }));
    expect(edited.group_id).toBe(gid);
    const data = dataOf(edited);
    expect(data).toEqual({ msg_id: m.msg_id, seq: 1, content: 'hello', extra: {}, edited_at: expect.any(Number) });
    const pushed = await systemMessage(alice, 21);
    expect(dataOf(pushed)).toEqual({ group_id: gid, content: '', type: 21, sub_type: 'group', extra: { ...data, group_id: gid } });
    const second = dataOf(ok(await bob.request('edit', { msg_id: m.msg_id, group_id: gid, content: 'hello all', extra: { mentions: ['alice'] } })));
    expect(second.edited_at).toBeGreaterThan(data.edited_at);

    const versions = dataOf(ok(await alice.request('editHistory', { msg_id: m.msg_id, group_id: gid }))).versions;
    expect(versions.map((v: any) => v.content)).toEqual(['helo', 'hello', 'hello all']);
    expect(versions[0].edited_at).toBe(m.time);
    expect(versions[2]).toEqual({ content: 'hello all', extra: { mentions: ['alice'] }, edited_at: second.edited_at });

    const [item] = (await history(alice, { group_id: gid })).filter((x) => x.msg_id === m.msg_id);
    expect(item).toMatchObject({ content: 'hello all', edited_at: second.edited_at, seq: 1 });
    // the mention added by the edit counts for alice (unread), and seq/count did not change
    expect(dataOf(ok(await alice.request('sync'))).extra.groupList).toEqual([expect.objectContaining({ count: 2, mention_count: 1 })]);

    // carol was offline: two 21s, once
    const back = await t.connect('carol');
    const one = await systemMessage(back, 21);
    const two = await systemMessage(back, 21);
    expect([dataOf(one).extra.content, dataOf(two).extra.content]).toEqual(['hello', 'hello all']);
    expect(await quietSystem(back)).toEqual([]);

    // window, then recalled → 404 (edit and editHistory)
    await age(m.msg_id, 601);
    expect((await bob.request('edit', { msg_id: m.msg_id, group_id: gid, content: 'late' })).code).toBe(403);
    ok(await bob.request('recall', { msg_id: image.msg_id, group_id: gid }));
    ok(await alice.request('recall', { msg_id: m.msg_id, group_id: gid }));
    expect((await bob.request('edit', { msg_id: m.msg_id, group_id: gid, content: 'x' })).code).toBe(404);
    expect((await bob.request('editHistory', { msg_id: m.msg_id, group_id: gid })).code).toBe(404);
    expect(await t.sql(`SELECT * FROM message_edits`)).toEqual([]);
  });

  it('edit of a one-to-one text keeps its extra when none is given and re-resolves a quote given back', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const q = await chat(alice, 'bob', 'question');
    const a = await chat(bob, 'alice', 'answr', { reply_to: q.msg_id });
    const quote = dataOf(a).extra.reply_to;
    const kept = dataOf(ok(await bob.request('edit', { msg_id: a.msg_id, app_user_ids: 'alice', content: 'answer' })));
    expect(kept.extra).toEqual({ reply_to: quote });
    const pushed = await systemMessage(alice, 21);
    expect(dataOf(pushed)).toEqual({ content: '', type: 21, sub_type: 'personal', extra: { ...kept, to_app_user_id: 'alice' } });
    const forged = dataOf(ok(await bob.request('edit', { msg_id: a.msg_id, app_user_ids: 'alice', content: 'answer!', extra: { reply_to: { ...quote, preview: 'forged' } } })));
    expect(forged.extra.reply_to).toEqual(quote);
    expect((await bob.request('edit', { msg_id: a.msg_id, app_user_ids: 'alice', content: 'x', extra: { mentions: ['alice'] } })).code).toBe(400);
    // an edit posts new text: not to a peer who blacklisted the sender (811); a recall still works
    ok(await alice.request('block', { app_user_ids: 'bob' }));
    expect((await bob.request('edit', { msg_id: a.msg_id, app_user_ids: 'alice', content: 'let me in' })).code).toBe(811);
    ok(await bob.request('recall', { msg_id: a.msg_id, app_user_ids: 'alice' }));
  });

  it('a muted member or a banned_to_post group: edit 403 like a send, recall of their own message allowed', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const gid = await createGroup(alice, ['bob']);
    const m1 = await groupChat(bob, gid, 'one');
    const m2 = await groupChat(bob, gid, 'two');
    ok(await alice.request('muteMember', { extra: { group_id: gid, app_user_id: 'bob', minutes: 5 } }));
    const muted = await bob.request('edit', { msg_id: m1.msg_id, group_id: gid, content: 'one!' });
    expect(muted.code).toBe(403);
    expect(muted.msg).toContain('muted');
    ok(await bob.request('recall', { msg_id: m1.msg_id, group_id: gid }));
    ok(await alice.request('muteMember', { extra: { group_id: gid, app_user_id: 'bob', minutes: 0 } }));
    ok(await alice.request('editGroup', { extra: { group_id: gid, banned_to_post: 1 } }));
    expect((await bob.request('edit', { msg_id: m2.msg_id, group_id: gid, content: 'two!' })).code).toBe(403);
    ok(await alice.request('editGroup', { extra: { group_id: gid, banned_to_post: 0 } }));
    ok(await bob.request('edit', { msg_id: m2.msg_id, group_id: gid, content: 'two!' }));
  });
});

describe('message lifecycle: windows of 0 mean no limit', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RECALL_WINDOW_SECONDS: '0', EDIT_WINDOW_SECONDS: '0' });
    await t.reset();
  });
  afterAll(() => t.close());

  it('a year-old message can still be edited and recalled by its sender', async () => {
    const { alice } = await connectAll(t, ['alice', 'bob']);
    const sent = await alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'old' });
    await t.sql(`UPDATE messages SET created_at = created_at - $2 WHERE id = $1`, [sent.msg_id, 365 * 86400 * 1000]);
    expect((await alice.request('edit', { msg_id: sent.msg_id, app_user_ids: 'bob', content: 'new' })).code).toBe(200);
    expect((await alice.request('recall', { msg_id: sent.msg_id, app_user_ids: 'bob' })).code).toBe(200);
  });
});
