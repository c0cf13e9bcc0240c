import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EditEvent, ImClient, ImError, Quote, RecallEvent } from '../packages/client/src';
import { ConnectionRegistry } from '../src/realtime/connection-registry';
import { startTestServer, TestServer } from './support/server';
import { CuttableProxy, freePort, range, record, sdkClient, seqsOf, until } from './support/sdk';
import { WebSocket } from 'ws';

/** Rejection of `promise` as an ImError (fails the test when it resolves). */
async function imErrorOf(promise: Promise<unknown>): Promise<ImError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ImError);
    return error as ImError;
  }
  throw new Error('expected a rejection');
}

describe('client SDK (packages/client) against the real server', () => {
  let t: TestServer;
  const open: ImClient[] = [];
  const track = <T extends { client: ImClient }>(r: T): T => {
    open.push(r.client);
    return r;
  };

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0', MAX_CONNECTIONS_PER_USER: '3' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());
  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });

  /** Closes every connection of `appUserId` from the server's side (as a crash of the link would). */
  function dropFromServer(userId: number, code = 1013): number {
    const registry = t.server.app.get(ConnectionRegistry);
    const connections = [...registry.connectionsOf(userId)];
    for (const connection of connections) connection.close(code, 'dropped by the test');
    return connections.length;
  }

  it('connects: state connecting → open, userId/appUserId from the sync frame, typed unread lists', async () => {
    await t.admin.putUser('bob', 'Bob');
    const alice = track(await sdkClient(t, 'alice'));
    expect(alice.states).toEqual(['connecting', 'open']);
    expect(alice.client.appUserId).toBe('alice');
    expect(alice.client.userId).toEqual(expect.any(Number));
    expect(alice.syncs).toEqual([{ friendList: [], groupList: [] }]);
    await alice.client.sendText({ user: 'bob' }, 'one');
    await alice.client.sendText({ user: 'bob' }, 'two');
    const bob = track(await sdkClient(t, 'bob'));
    expect(bob.syncs[0].friendList).toEqual([
      expect.objectContaining({ app_user_id: 'alice', count: 2, last_message: 'two', last_type: 1, last_msg_id: expect.any(Number), time: expect.any(Number) }),
    ]);
    const again = await bob.client.sync();
    expect(again.friendList[0]).toMatchObject({ app_user_id: 'alice', count: 2 });
    expect(bob.syncs).toHaveLength(2);
    expect(typeof (await bob.client.ping())).toBe('number');
  });

  it('one-to-one both ways: sendText resolves with msg_id/seq/message; the peer gets it as a message event; own sends are emitted too', async () => {
    const alice = track(await sdkClient(t, 'alice'));
    const bob = track(await sdkClient(t, 'bob'));
    const sent = await alice.client.sendText({ user: 'bob' }, 'hello bob', { mood: 'happy' });
    expect(sent).toMatchObject({ msg_id: expect.any(Number), seq: 1, time: expect.any(Number), duplicate: false });
    expect(sent.message).toMatchObject({ content: 'hello bob', extra: { mood: 'happy' }, type: 1, app_user_id: 'alice', to_app_user_id: 'bob', mine: true, conversation: { user: 'bob' } });
    await until(() => bob.messages.length === 1, 'bob receives');
    expect(bob.messages[0]).toMatchObject({ msg_id: sent.msg_id, seq: 1, content: 'hello bob', app_user_id: 'alice', mine: false, conversation: { user: 'alice' } });

    const reply = await bob.client.sendText({ user: 'alice' }, 'hi alice');
    expect(reply.seq).toBe(2);
    await until(() => alice.messages.length === 2, 'alice receives');
    expect(alice.messages.map((m) => [m.seq, m.content, m.mine])).toEqual([
      [1, 'hello bob', true],
      [2, 'hi alice', false],
    ]);

    // read receipt: the sender sees it as an ack event
    await bob.client.ack({ user: 'alice' }, sent.msg_id, 2);
    await until(() => alice.acks.length === 1, 'ack');
    expect(alice.acks[0]).toMatchObject({ msg_id: sent.msg_id, status: 2, app_user_id: 'bob', type: 1 });

    // typed helpers and history
    await alice.client.sendImage({ user: 'bob' }, { url: 'https://cdn.example.com/x.jpg', width: 1200, height: 800, is_original: 2 });
    await alice.client.sendLocation({ user: 'bob' }, { latitude: 48.85, longitude: 2.35, address: 'Paris' });
    const page = await bob.client.history({ user: 'alice' }, { limit: 10 });
    expect(page.has_more).toBe(false);
    expect(page.messages.map((m) => m.seq)).toEqual([4, 3, 2, 1]);
    expect(page.messages[0]).toMatchObject({ type: 4, extra: { latitude: 48.85 }, conversation: { user: 'alice' }, mine: false });
    expect(page.messages[1].extra).toMatchObject({ thumbWidth: 200, thumbHeight: 133 });
    const after = await bob.client.history({ user: 'alice' }, { after_seq: 2 });
    expect(after.messages.map((m) => m.seq)).toEqual([3, 4]);

    expect(await alice.client.presence(['bob', 'nobody'])).toEqual({ bob: true, nobody: false });
  });

  it("a user's other device gets their own send as a message (mine: true) in order with the rest", async () => {
    await t.admin.putUser('bob');
    const phone = track(await sdkClient(t, 'alice'));
    const web = track(await sdkClient(t, 'alice'));
    await phone.client.sendText({ user: 'bob' }, 'from the phone');
    await until(() => web.messages.length === 1, 'other device');
    expect(web.messages[0]).toMatchObject({ content: 'from the phone', mine: true, conversation: { user: 'bob' }, seq: 1 });
  });

  it('groups: create, chat both ways, system messages, invite/join/remove/leave/dissolve with typed results', async () => {
    const alice = track(await sdkClient(t, 'alice'));
    const bob = track(await sdkClient(t, 'bob'));
    const carol = track(await sdkClient(t, 'carol'));
    const dave = track(await sdkClient(t, 'dave'));
    const group = await alice.client.createGroup({ group_name: 'Team', notice: 'hi all', app_user_ids: ['bob'] });
    expect(group).toMatchObject({ group_id: expect.stringMatching(/^\d+$/), group_name: 'Team', owner: 'alice', member_count: 2 });
    expect(group.member_list.map((m) => [m.app_user_id, m.role])).toEqual([
      ['alice', 'owner'],
      ['bob', 'member'],
    ]);
    await until(() => bob.system.some((s) => s.type === 17), 'type 17');
    expect(bob.system.find((s) => s.type === 17)).toMatchObject({ sub_type: 'personal', group_id: group.group_id, extra: { group_id: group.group_id, inviter: { app_user_id: 'alice' } } });

    const conv = { group: group.group_id };
    const first = await alice.client.sendText(conv, 'hello team');
    expect(first.message).toMatchObject({ group_id: group.group_id, conversation: conv, seq: 1 });
    await until(() => bob.messages.length === 1, 'bob gets the group message');
    await bob.client.sendText(conv, 'hi alice');
    await until(() => alice.messages.length === 2, 'alice gets the reply');
    expect(alice.messages.map((m) => [m.seq, m.app_user_id, m.content])).toEqual([
      [1, 'alice', 'hello team'],
      [2, 'bob', 'hi alice'],
    ]);

    const info = await alice.client.groupInfo(group.group_id);
    expect(info).toMatchObject({ group_id: group.group_id, owner: 'alice', member_count: 2, invite_code: expect.any(String) });
    expect((await bob.client.groupInfo(group.group_id)).invite_code).toBeUndefined();
    expect(await imErrorOf(dave.client.joinGroup(group.group_id, 'wrong-code-12345'))).toMatchObject({ code: 403, action: 'joinGroup' });

    const invited = await alice.client.inviteToGroup(group.group_id, ['carol']);
    expect(invited.member_list.map((m) => m.app_user_id)).toContain('carol');
    const joined = await dave.client.joinGroup(group.group_id, info.invite_code as string);
    expect(joined.member_list.map((m) => m.app_user_id).sort()).toEqual(['alice', 'bob', 'carol', 'dave']);
    await until(() => alice.system.some((s) => s.type === 16 && s.extra.member_list?.[0]?.app_user_id === 'dave'), 'type 16 for dave');

    const edited = await alice.client.editGroup(group.group_id, { notice: 'new notice' });
    expect(edited.notice).toBe('new notice');
    await until(() => carol.system.some((s) => s.type === 12), 'type 12');
    expect(carol.system.find((s) => s.type === 12)?.extra).toEqual({ group_id: group.group_id, notice: 'new notice' });

    await dave.client.sendText(conv, 'dave here');
    await until(() => carol.messages.some((m) => m.content === 'dave here'), 'carol gets dave');

    const promoted = await alice.client.setGroupRole(group.group_id, 'bob', 'admin');
    expect(promoted.member_list.find((m) => m.app_user_id === 'bob')).toMatchObject({ role: 'admin', muted_until: 0 });
    await until(() => carol.system.some((s) => s.type === 18), 'type 18');
    expect(carol.system.find((s) => s.type === 18)?.extra).toEqual({ group_id: group.group_id, member: { app_user_id: 'bob', nickname: 'bob-nick' }, role: 'admin' });
    expect((await bob.client.groupInfo(group.group_id)).invite_code).toEqual(expect.any(String));
    const readers = await bob.client.readBy(group.group_id, first.message.msg_id, 10);
    expect(readers).toMatchObject({ read_count: expect.any(Number), unread_count: expect.any(Number), read: expect.any(Array), unread: expect.any(Array) });
    expect(readers.read_count + readers.unread_count).toBe(1); // bob: carol and dave joined after it, alice sent it
    expect(await imErrorOf(carol.client.readBy(group.group_id, first.message.msg_id))).toMatchObject({ code: 403, action: 'readBy' });
    const own = (await alice.client.history(conv)).messages.find((m) => m.msg_id === first.message.msg_id);
    expect(own?.read_count).toBe(readers.read_count);
    const mutedInfo = await bob.client.muteMember(group.group_id, 'dave', 5);
    expect(mutedInfo.member_list.find((m) => m.app_user_id === 'dave')?.muted_until).toBeGreaterThan(Date.now());
    await until(() => carol.system.some((s) => s.type === 22), 'type 22');
    expect(await imErrorOf(dave.client.sendText(conv, 'muted'))).toMatchObject({ code: 403, action: 'groupChat' });
    expect(await imErrorOf(carol.client.muteMember(group.group_id, 'dave', 5))).toMatchObject({ code: 403, action: 'muteMember' });
    expect(await imErrorOf(bob.client.setGroupRole(group.group_id, 'carol', 'admin'))).toMatchObject({ code: 403, action: 'setGroupRole' });
    expect((await alice.client.muteMember(group.group_id, 'dave', 0)).member_list.find((m) => m.app_user_id === 'dave')?.muted_until).toBe(0);

    const removed = await alice.client.removeFromGroup(group.group_id, ['dave']);
    expect(removed.member_list.map((m) => m.app_user_id)).not.toContain('dave');
    await carol.client.leaveGroup(group.group_id);
    await until(() => bob.system.some((s) => s.type === 15), 'type 15');
    await alice.client.dissolveGroup(group.group_id);
    await until(() => bob.system.some((s) => s.type === 13), 'type 13');
    expect((await imErrorOf(alice.client.groupInfo(group.group_id))).code).toBe(404);
  });

  it('conversations and setConversation: the full list with pins first; settings reach the other device as type 24', async () => {
    const alice = track(await sdkClient(t, 'alice'));
    const alice2 = track(await sdkClient(t, 'alice'));
    const bob = track(await sdkClient(t, 'bob'));
    const carol = track(await sdkClient(t, 'carol'));
    await bob.client.sendText({ user: 'alice' }, 'from bob');
    await carol.client.sendText({ user: 'alice' }, 'from carol');
    await alice.client.sendText({ user: 'bob' }, 'answer');
    const first = await alice.client.conversations();
    expect(first.conversations.map((c) => [c.kind, c.kind === 'direct' ? c.app_user_id : c.group_id, c.count])).toEqual([
      ['direct', 'bob', 0],
      ['direct', 'carol', 1],
    ]);
    const settings = await alice.client.setConversation({ user: 'carol' }, { pinned: true, muted: true });
    expect(settings).toEqual({ muted: true, pinned: true, to_app_user_id: 'carol' });
    await until(() => alice2.system.some((s) => s.type === 24), 'type 24 on the other device');
    expect(alice2.system.find((s) => s.type === 24)?.extra).toEqual({ muted: true, pinned: true, to_app_user_id: 'carol' });
    const pinned = await alice.client.conversations({ limit: 1 });
    expect(pinned.conversations.map((c) => [c.kind === 'direct' ? c.app_user_id : '', c.pinned, c.muted])).toEqual([
      ['carol', true, true],
      ['bob', false, false],
    ]);
    expect(pinned.has_more).toBe(false);
    expect((await alice.client.sync()).friendList.find((f) => f.app_user_id === 'carol')).toMatchObject({ muted: true, pinned: true, count: 1 });
    expect(await imErrorOf(alice.client.setConversation({ user: 'bob' }, {}))).toMatchObject({ code: 400, action: 'setConversation' });
  });

  it('replies, mentions, recall, edit and editHistory; recall and edit events from types 20 and 21', async () => {
    const alice = track(await sdkClient(t, 'alice'));
    const bob = track(await sdkClient(t, 'bob'));
    const recalls: RecallEvent[] = [];
    const edits: EditEvent[] = [];
    bob.client.on('recall', (event) => recalls.push(event));
    bob.client.on('edit', (event) => edits.push(event));
    const group = await alice.client.createGroup({ group_name: 'G', app_user_ids: ['bob'] });
    const first = await alice.client.sendText({ group: group.group_id }, 'hello');
    const reply = await bob.client.send({ group: group.group_id }, { type: 1, content: '@alice yes', replyTo: first.msg_id, mentions: ['alice'] });
    expect(reply.message.extra.reply_to).toEqual({ msg_id: first.msg_id, seq: 1, app_user_id: 'alice', nickname: 'alice-nick', type: 1, preview: 'hello' });
    expect(reply.message.extra.mentions).toEqual(['alice']);
    await alice.client.send({ group: group.group_id }, { type: 1, content: 'all of you', mentionAll: true });
    expect((await bob.client.sync()).groupList[0]).toMatchObject({ count: 1, mention_count: 1 });
    expect(await imErrorOf(bob.client.send({ group: group.group_id }, { type: 1, content: 'x', mentionAll: true }))).toMatchObject({ code: 403, action: 'groupChat' });

    const edited = await alice.client.edit({ group: group.group_id }, first.msg_id, 'hello!');
    expect(edited).toMatchObject({ msg_id: first.msg_id, seq: 1, content: 'hello!', extra: {} });
    await until(() => edits.length === 1, 'edit event');
    expect(edits[0]).toEqual({ ...edited, group_id: group.group_id });
    const versions = await bob.client.editHistory({ group: group.group_id }, first.msg_id);
    expect(versions.map((v) => v.content)).toEqual(['hello', 'hello!']);

    const recalled = await alice.client.recall({ group: group.group_id }, first.msg_id);
    expect(recalled).toEqual({ msg_id: first.msg_id, seq: 1, group_id: group.group_id, recalled_at: expect.any(Number) });
    expect(await alice.client.recall({ group: group.group_id }, first.msg_id)).toEqual(recalled);
    await until(() => recalls.length === 1, 'recall event');
    expect(recalls[0]).toEqual({ msg_id: first.msg_id, seq: 1, group_id: group.group_id, by: { app_user_id: 'alice', nickname: 'alice-nick' } });
    const page = await bob.client.history({ group: group.group_id });
    const byId = new Map(page.messages.map((m) => [m.msg_id, m]));
    expect(byId.get(first.msg_id)).toMatchObject({ recalled: true, content: '' });
    expect((byId.get(reply.msg_id)?.extra.reply_to as Quote).preview).toBe('[recalled]');
    expect(await imErrorOf(alice.client.edit({ group: group.group_id }, first.msg_id, 'again'))).toMatchObject({ code: 404, action: 'edit' });
    expect(await imErrorOf(bob.client.recall({ group: group.group_id }, 999999))).toMatchObject({ code: 404, action: 'recall' });
  });

  it('rejects with ImError carrying the PROTOCOL code, msg and action', async () => {
    const alice = track(await sdkClient(t, 'alice'));
    const bob = track(await sdkClient(t, 'bob'));
    const notFound = await imErrorOf(alice.client.sendText({ user: 'nobody' }, 'hi'));
    expect(notFound).toMatchObject({ code: 404, action: 'chat' });
    expect(notFound.msg).toEqual(expect.any(String));
    expect((await imErrorOf(alice.client.sendText({ user: 'bob' }, ''))).code).toBe(400);
    expect((await imErrorOf(alice.client.send({ user: 'bob' }, { type: 2, extra: { voice_url: 'ftp://x', duration: 3 } }))).code).toBe(400);

    await bob.client.block('alice');
    expect(await imErrorOf(alice.client.sendText({ user: 'bob' }, 'blocked?'))).toMatchObject({ code: 811, action: 'chat' });
    await bob.client.unblock('alice');
    expect((await alice.client.sendText({ user: 'bob' }, 'unblocked')).seq).toBe(1);

    const group = await bob.client.createGroup({ group_name: 'Private', app_user_ids: [] });
    expect(await imErrorOf(alice.client.groupInfo(group.group_id))).toMatchObject({ code: 403, action: 'groupInfo' });
    expect((await imErrorOf(alice.client.sendText({ group: group.group_id }, 'let me in'))).code).toBe(403);
    expect((await imErrorOf(alice.client.ack({ user: 'bob' }, 999_999, 2))).code).toBe(404);
    expect((await imErrorOf(alice.client.history({ user: 'bob' }, { limit: 500 }))).code).toBe(400);

    // after close(), every method rejects with code 0
    alice.client.close();
    expect(await imErrorOf(alice.client.ping())).toMatchObject({ code: 0 });
    expect(alice.states[alice.states.length - 1]).toBe('closed');
  });

  it('a gap: the server drops the socket mid-stream; the SDK reconnects and emits every message once, in seq order', async () => {
    const alice = track(await sdkClient(t, 'alice'));
    const bob = track(await sdkClient(t, 'bob'));
    const total = 40;
    for (let i = 1; i <= total; i++) {
      await alice.client.sendText({ user: 'bob' }, `m${i}`);
      if (i === 10) expect(dropFromServer(bob.client.userId as number)).toBe(1);
      if (i === 25) {
        // the drop happened: wait for the reconnect, then drop again while alice keeps sending
        await until(() => bob.client.state === 'open', 'bob back');
        dropFromServer(bob.client.userId as number, 1012);
      }
    }
    await until(() => bob.messages.length >= total, `bob has ${total} messages`);
    expect(seqsOf(bob.messages)).toEqual(range(1, total));
    expect(bob.messages.map((m) => m.content)).toEqual(range(1, total).map((i) => `m${i}`));
    expect(bob.states.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(2);
    expect(bob.states[bob.states.length - 1]).toBe('open');
    // and nothing more comes later
    await alice.client.sendText({ user: 'bob' }, 'last');
    await until(() => bob.messages.length === total + 1, 'the last one');
    expect(bob.messages[total]).toMatchObject({ seq: total + 1, content: 'last' });
  });

  it('a push that skips seqs (pushes missed while the socket stayed open) triggers a history fill', async () => {
    const alice = track(await sdkClient(t, 'alice'));
    const bob = track(await sdkClient(t, 'bob'));
    const group = await alice.client.createGroup({ group_name: 'G', app_user_ids: ['bob'] });
    const conv = { group: group.group_id };
    await alice.client.sendText(conv, 'g1');
    await until(() => bob.messages.length === 1, 'g1');
    // the server forgets bob's connection for a moment: pushes to him are not written
    const registry = t.server.app.get(ConnectionRegistry);
    const [connection] = [...registry.connectionsOf(bob.client.userId as number)];
    registry.remove(connection);
    await alice.client.sendText(conv, 'g2');
    await alice.client.sendText(conv, 'g3');
    await alice.client.sendText(conv, 'g4');
    registry.add(connection);
    await alice.client.sendText(conv, 'g5');
    await until(() => bob.messages.length === 5, 'the hole filled');
    expect(bob.messages.map((m) => [m.seq, m.content])).toEqual([
      [1, 'g1'],
      [2, 'g2'],
      [3, 'g3'],
      [4, 'g4'],
      [5, 'g5'],
    ]);
    expect(bob.states).toEqual(['connecting', 'open']);
  });

  it('a conversation first seen after a reconnect: messages newer than anything seen before the drop are emitted', async () => {
    const alice = track(await sdkClient(t, 'alice'));
    const carol = track(await sdkClient(t, 'carol'));
    const dave = track(await sdkClient(t, 'dave'));
    await t.admin.putUser('bob');
    // unread before bob's client connected: in the first sync, and history rather than news
    await dave.client.sendText({ user: 'bob' }, 'old unread');
    const bob = track(await sdkClient(t, 'bob', { reconnect: { minDelayMs: 1500, maxDelayMs: 1500 } }));
    expect(bob.syncs[0].friendList.map((f) => f.app_user_id)).toEqual(['dave']);
    await alice.client.sendText({ user: 'bob' }, 'before');
    await until(() => bob.messages.length === 1, 'before');
    dropFromServer(bob.client.userId as number);
    await until(() => bob.client.state === 'reconnecting', 'reconnecting');
    await carol.client.sendText({ user: 'bob' }, 'while away 1');
    await carol.client.sendText({ user: 'bob' }, 'while away 2');
    await until(() => bob.messages.length === 3, 'caught up');
    // the conversation with dave stays in the sync's unread list, and was not replayed as news
    await until(() => bob.syncs.length === 2, 'second sync');
    expect(bob.syncs[1].friendList.map((f) => f.app_user_id).sort()).toEqual(['alice', 'carol', 'dave']);
    expect(bob.messages.map((m) => [m.app_user_id, m.seq, m.content])).toEqual([
      ['alice', 1, 'before'],
      ['carol', 1, 'while away 1'],
      ['carol', 2, 'while away 2'],
    ]);
  });

  it('a send whose reply is lost is re-sent with the same nonce after reconnecting and resolves once, duplicate: true (831)', async () => {
    const proxy = await new CuttableProxy(t.port).listen();
    try {
      const bob = track(await sdkClient(t, 'bob'));
      const alice = track(await sdkClient(t, 'alice', { port: proxy.port, requestTimeoutMs: 1500 }));
      await alice.client.sendText({ user: 'bob' }, 'first');
      proxy.blackhole = true; // the server's replies vanish on the way
      let settled = 0;
      const inFlight = alice.client.sendText({ user: 'bob' }, 'reply lost').finally(() => settled++);
      await until(async () => (await t.sql(`SELECT 1 FROM messages WHERE content = 'reply lost'`)).length === 1, 'stored');
      proxy.blackhole = false;
      proxy.cut();
      const result = await inFlight;
      expect(result).toMatchObject({ duplicate: true, seq: 2, message: { content: 'reply lost', seq: 2 } });
      expect(settled).toBe(1);
      expect(await t.sql(`SELECT seq FROM messages WHERE content = 'reply lost'`)).toHaveLength(1);
      await until(() => bob.messages.length === 2, 'bob');
      expect(bob.messages.map((m) => m.content)).toEqual(['first', 'reply lost']);
      // alice's own timeline has it once too
      expect(alice.messages.map((m) => m.seq)).toEqual([1, 2]);
      expect(alice.states).toContain('reconnecting');
    } finally {
      await proxy.close();
    }
  });

  it('a send queued while disconnected goes out after the reconnect', async () => {
    const proxy = await new CuttableProxy(t.port).listen();
    try {
      await t.admin.putUser('bob');
      const alice = track(await sdkClient(t, 'alice', { port: proxy.port }));
      proxy.cut();
      await until(() => alice.client.state === 'reconnecting', 'reconnecting');
      const sent = await alice.client.sendText({ user: 'bob' }, 'queued');
      expect(sent).toMatchObject({ seq: 1, duplicate: false });
      expect(await t.sql(`SELECT 1 FROM messages`)).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('4401 (token expired): getToken is called again and the client reconnects; a fixed token closes for good', async () => {
    await t.admin.putUser('hank');
    let calls = 0;
    const hank = track(
      await sdkClient(t, 'hank', {
        getToken: async () => {
          calls++;
          // the first token expires right away, the next ones last
          return (await t.admin.token('hank', calls === 1 ? 1 : 3600)).token;
        },
      }),
    );
    expect(calls).toBe(1);
    await until(() => calls === 2 && hank.client.state === 'open', 'reconnected with a new token');
    expect(hank.states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    expect(await hank.client.presence(['hank'])).toEqual({ hank: true });

    // a fixed token that expires: closed, error 401, no reconnect loop
    await t.admin.putUser('ivy');
    const { token } = await t.admin.token('ivy', 1);
    const ivy = track(await sdkClient(t, 'ivy', { token }));
    const closed = new Promise<{ error?: ImError }>((resolve) => ivy.client.on('state', (s, detail) => s === 'closed' && resolve(detail)));
    const detail = await closed;
    expect(detail.error).toMatchObject({ code: 401 });
    expect(ivy.states).toEqual(['connecting', 'open', 'closed']);
    expect((await imErrorOf(ivy.client.ping())).code).toBe(0);
    expect(ivy.states).toEqual(['connecting', 'open', 'closed']);

    // a bad token at the first connect: connect() rejects with 401
    const bad = new ImClient({ url: `ws://127.0.0.1:${t.port}/`, token: 'not-a-token', WebSocket });
    const states = record(bad).states;
    expect(await imErrorOf(bad.connect())).toMatchObject({ code: 401 });
    expect(states).toEqual(['connecting', 'closed']);
  });

  it('a user disabled by the admin API: getToken is asked once more, the fresh token is refused too, closed with 401 (no loop)', async () => {
    await t.admin.putUser('jade');
    let calls = 0;
    const jade = track(
      await sdkClient(t, 'jade', {
        getToken: async () => {
          calls++;
          return (await t.admin.token('jade')).token;
        },
      }),
    );
    const closed = new Promise<{ error?: ImError }>((resolve) => jade.client.on('state', (s, detail) => s === 'closed' && resolve(detail)));
    expect((await t.admin.call('POST', '/admin/users/jade/disable')).status).toBe(200);
    expect((await closed).error).toMatchObject({ code: 401 });
    expect(calls).toBe(2);
    expect(jade.states).toEqual(['connecting', 'open', 'reconnecting', 'closed']);
  });

  it('authenticates with ?token= when auth is "query"', async () => {
    const alice = track(await sdkClient(t, 'alice', { auth: 'query' }));
    expect(alice.client.appUserId).toBe('alice');
    expect(typeof (await alice.client.ping())).toBe('number');
  });

  it('4409 (replaced by a newer connection): closed, no reconnect', async () => {
    const first = track(await sdkClient(t, 'frank'));
    track(await sdkClient(t, 'frank'));
    track(await sdkClient(t, 'frank'));
    const closed = new Promise<{ error?: ImError; code?: number }>((resolve) => first.client.on('state', (s, detail) => s === 'closed' && resolve(detail)));
    track(await sdkClient(t, 'frank'));
    const detail = await closed;
    expect(detail).toMatchObject({ code: 4409, error: { code: 4409 } });
    expect(first.states).toEqual(['connecting', 'open', 'closed']);
  });
});

describe('client SDK across a server restart on the same port and database', () => {
  for (const mode of ['shutdown', 'close'] as const) {
    it(`sends in flight when the server restarts (${mode === 'shutdown' ? 'SIGTERM drain, 1012' : 'hard close'}) each resolve exactly once; the peer sees every message once, in order`, async () => {
      const port = await freePort();
      // on the embedded database both runs share one data directory
      const dataDir = mkdtempSync(join(tmpdir(), 'im-sdk-restart-'));
      const env = { RATE_LIMIT_PER_SEC: '0', PORT: String(port), ...(process.env.DATABASE_URL ? {} : { DATA_DIR: dataDir }) };
      let t: TestServer | undefined = await startTestServer(env);
      const clients: ImClient[] = [];
      try {
        await t.reset();
        const bob = await sdkClient(t, 'bob');
        const alice = await sdkClient(t, 'alice');
        clients.push(bob.client, alice.client);
        const total = 30;
        const settled: number[] = [];
        const sends = range(1, total).map((i) =>
          alice.client.sendText({ user: 'bob' }, `r${i}`).then((result) => {
            settled.push(i);
            return result;
          }),
        );
        const first = t;
        t = undefined;
        await (mode === 'shutdown' ? first.server.shutdown() : first.server.close());
        t = await startTestServer(env);
        const results = await Promise.all(sends);
        expect(settled.sort((a, b) => a - b)).toEqual(range(1, total));
        expect(results.map((r) => r.message.content)).toEqual(range(1, total).map((i) => `r${i}`));
        expect(new Set(results.map((r) => r.seq)).size).toBe(total);
        const stored = await t.sql<{ content: string }>(`SELECT content FROM messages ORDER BY seq`);
        expect(stored.map((row) => row.content).sort()).toEqual(range(1, total).map((i) => `r${i}`).sort());
        await until(() => bob.messages.length >= total, 'bob has every message');
        expect(seqsOf(bob.messages)).toEqual(range(1, total));
        expect(alice.messages.map((m) => m.seq)).toEqual(range(1, total));
        expect(bob.states).toContain('reconnecting');
      } finally {
        for (const client of clients) client.close();
        await t?.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});

/** The `ws` class, recording what the SDK writes and receives (instrumentation, not a mock: frames go to the real server). */
function recordingWebSocket() {
  const sent: Array<Record<string, any>> = [];
  const received: Array<Record<string, any>> = [];
  class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      this.addEventListener('message', (event) => received.push(JSON.parse(String(event.data))));
    }
    send(data: any, ...rest: any[]): void {
      sent.push(JSON.parse(String(data)));
      (super.send as (...args: any[]) => void)(data, ...rest);
    }
  }
  return { RecordingWebSocket, sent, received };
}

describe('client SDK retries: code 0 and 429 with the same nonce, bounded', () => {
  let t: TestServer;
  const open: ImClient[] = [];

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '2', RATE_LIMIT_BURST: '2' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());
  afterEach(async () => {
    for (const client of open.splice(0)) client.close();
    await t.sql(`ALTER TABLE IF EXISTS messages_away RENAME TO messages`);
  });

  it('code 0 (the database failed): the send is retried with the same nonce and resolves once the server recovers', async () => {
    await t.admin.putUser('bob');
    const { RecordingWebSocket, sent, received } = recordingWebSocket();
    const alice = await sdkClient(t, 'alice', { WebSocket: RecordingWebSocket, maxServerErrorRetries: 50 });
    open.push(alice.client);
    await t.sql(`ALTER TABLE messages RENAME TO messages_away`);
    const sending = alice.client.sendText({ user: 'bob' }, 'survives a server error');
    await until(() => received.some((f) => f.action === 'sendResult' && f.code === 0), 'a code 0 reply');
    await t.sql(`ALTER TABLE messages_away RENAME TO messages`);
    const result = await sending;
    expect(result).toMatchObject({ seq: 1, duplicate: false, message: { content: 'survives a server error' } });
    const chats = sent.filter((f) => f.action === 'chat');
    expect(chats.length).toBeGreaterThanOrEqual(2);
    expect(new Set(chats.map((f) => f.nonce)).size).toBe(1);
    expect(await t.sql(`SELECT 1 FROM messages`)).toHaveLength(1);
  });

  it('code 0 that persists: retried maxServerErrorRetries times with the same nonce, then ImError 0', async () => {
    await t.admin.putUser('bob');
    const { RecordingWebSocket, sent } = recordingWebSocket();
    const alice = await sdkClient(t, 'alice', { WebSocket: RecordingWebSocket, maxServerErrorRetries: 2 });
    open.push(alice.client);
    await t.sql(`ALTER TABLE messages RENAME TO messages_away`);
    const error = await imErrorOf(alice.client.sendText({ user: 'bob' }, 'doomed'));
    expect(error).toMatchObject({ code: 0, action: 'chat' });
    const chats = sent.filter((f) => f.action === 'chat');
    expect(chats).toHaveLength(3);
    expect(new Set(chats.map((f) => f.nonce)).size).toBe(1);
  });

  it('429: requests over the rate limit are retried after a delay and all succeed, each stored once', async () => {
    await t.admin.putUser('bob');
    const { RecordingWebSocket, received } = recordingWebSocket();
    const alice = await sdkClient(t, 'alice', { WebSocket: RecordingWebSocket, maxRateLimitRetries: 20 });
    open.push(alice.client);
    const results = await Promise.all(range(1, 8).map((i) => alice.client.sendText({ user: 'bob' }, `burst ${i}`)));
    expect(received.some((f) => f.code === 429)).toBe(true);
    expect(results.map((r) => r.duplicate)).toEqual(range(1, 8).map(() => false));
    expect(new Set(results.map((r) => r.seq))).toEqual(new Set(range(1, 8)));
    expect(await t.sql(`SELECT 1 FROM messages`)).toHaveLength(8);
  });

  it('429 beyond maxRateLimitRetries rejects with ImError 429 and nothing was stored for it', async () => {
    await t.admin.putUser('bob');
    const alice = await sdkClient(t, 'alice', { maxRateLimitRetries: 0 });
    open.push(alice.client);
    const outcomes = await Promise.allSettled(range(1, 8).map((i) => alice.client.sendText({ user: 'bob' }, `burst ${i}`)));
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const outcome of rejected) expect(outcome.reason).toMatchObject({ code: 429, action: 'chat' });
    const stored = await t.sql(`SELECT 1 FROM messages`);
    expect(stored).toHaveLength(outcomes.length - rejected.length);
  });
});
