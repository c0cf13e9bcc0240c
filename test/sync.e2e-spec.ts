import { ConnectionLifecycle } from '../src/realtime/connection-lifecycle';
import { Delivery } from '../src/realtime/delivery';
import { encodePush } from '../src/realtime/frames';
import { startTestServer, TestServer } from './support/server';
import { SendSpec, SyncFixtures } from './support/sync-fixtures';
import { dataOf, Frame, WsClient } from './support/ws-client';

/** The extra ({friendList, groupList}) of a sync frame or sync reply. */
function listsOf(frame: Frame): { friendList: any[]; groupList: any[] } {
  return dataOf(frame).extra;
}

/** friendList as app_user_id → count, groupList as group_id → count. */
function counts(frame: Frame): { friends: Record<string, number>; groups: Record<string, number> } {
  const { friendList, groupList } = listsOf(frame);
  return {
    friends: Object.fromEntries(friendList.map((item) => [item.app_user_id, item.count])),
    groups: Object.fromEntries(groupList.map((item) => [item.group_id, item.count])),
  };
}

describe('sync: the unread friendList/groupList (type 19)', () => {
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

  /** Connects and returns the client with its sync frame. */
  async function connectSynced(appUserId: string): Promise<{ client: WsClient; sync: Frame }> {
    const client = await t.connect(appUserId, { waitSync: false });
    const sync = await client.waitSync();
    return { client, sync };
  }

  async function syncNow(appUserId: string): Promise<Frame> {
    const { client, sync } = await connectSynced(appUserId);
    client.close();
    return sync;
  }

  describe('the frame on connect', () => {
    it('is the first frame of a connection, with the exact envelope of PROTOCOL §6', async () => {
      const alice = await f.user('alice');
      const before = Date.now();
      const { client, sync } = await connectSynced('alice');
      expect(client.frames[0]).toBe(sync);
      expect(Object.keys(sync)).toEqual(['code', 'msg', 'action', 'data', 'nonce', 'time', 'user_id', 'msg_id']);
      expect(sync).toMatchObject({ code: 200, msg: 'OK', action: 'systemMessage', user_id: alice, msg_id: 0 });
      expect(sync.nonce).toMatch(/^\d{13}[A-Za-z0-9]{6}$/);
      expect(sync.time).toBeGreaterThanOrEqual(before);
      expect(sync.group_id).toBeUndefined();
      expect(sync.data).toBe('{"to_app_user_id":"alice","content":"","type":19,"sub_type":"personal","extra":{"friendList":[],"groupList":[]}}');
      // a fresh connection gets its own frame and nonce
      const second = (await connectSynced('alice')).sync;
      expect(second.nonce).not.toBe(sync.nonce);
    });

    it('is not overtaken by a push sent to the user while the connection opens', async () => {
      await f.user('early');
      const lifecycle = t.server.app.get(ConnectionLifecycle);
      const delivery = t.server.app.get(Delivery);
      let armed = true;
      lifecycle.onOpen((connection) => {
        if (!armed || connection.user.appUserId !== 'early') return;
        armed = false;
        delivery.push([connection.userId], encodePush('chat', { data: { type: 1, content: 'racing' }, user_id: 0, msg_id: 1 }));
      });
      const client = await t.connect('early', { waitSync: false });
      const chat = await client.push('chat');
      expect(dataOf(chat).content).toBe('racing');
      expect(client.frames.map((frame) => frame.action)).toEqual(['systemMessage', 'chat']);
      expect(dataOf(client.frames[0]).type).toBe(19);
    });

    it('carries every item field, for friends and groups', async () => {
      const ids = await f.users(['alice', 'carol']);
      const bob = await f.user('bob', 'https://cdn.example.com/bob.jpg');
      const direct = await f.direct(ids.alice, bob);
      const [sent] = await f.send(direct, bob, [{ content: 'hi alice' }]);
      const group = await f.group(ids.carol, [ids.alice], { name: 'Hikers', cover: 'https://cdn.example.com/g.jpg' });
      const [posted] = await f.send(group, ids.carol, [{ type: 4, extra: { latitude: 1, longitude: 2 } }]);
      const { friendList, groupList } = listsOf(await syncNow('alice'));
      expect(friendList).toEqual([
        { app_user_id: 'bob', nickname: 'bob-nick', head: 'https://cdn.example.com/bob.jpg', count: 1, mention_count: 0, last_message: 'hi alice', last_msg_id: sent.id, last_type: 1, time: sent.created_at, muted: false, pinned: false },
      ]);
      expect(groupList).toEqual([
        { group_id: String(group), group_name: 'Hikers', cover: 'https://cdn.example.com/g.jpg', count: 1, mention_count: 0, last_message: '[location]', last_msg_id: posted.id, last_type: 4, time: posted.created_at, muted: false, pinned: false },
      ]);
      expect(Object.keys(friendList[0])).toEqual(['app_user_id', 'nickname', 'head', 'count', 'mention_count', 'last_message', 'last_msg_id', 'last_type', 'time', 'muted', 'pinned']);
      expect(Object.keys(groupList[0])).toEqual(['group_id', 'group_name', 'cover', 'count', 'mention_count', 'last_message', 'last_msg_id', 'last_type', 'time', 'muted', 'pinned']);
    });
  });

  describe('counts', () => {
    it('counts messages from several peers and several groups', async () => {
      const u = await f.users(['alice', 'bob', 'carol', 'dave', 'erin']);
      const withBob = await f.direct(u.alice, u.bob);
      const withCarol = await f.direct(u.alice, u.carol);
      const withDave = await f.direct(u.alice, u.dave);
      const hikers = await f.group(u.bob, [u.alice, u.carol, u.dave]);
      const readers = await f.group(u.erin, [u.alice, u.bob]);
      await f.send(withBob, u.bob, 3);
      await f.send(withCarol, u.carol, 2);
      await f.send(withDave, u.alice, 2); // only alice wrote: nothing unread for her
      await f.send(hikers, u.bob, 2);
      await f.send(hikers, u.carol, 3);
      await f.send(hikers, u.dave, 1);
      await f.send(readers, u.erin, 5);
      await f.send(withBob, u.bob, 1);

      expect(counts(await syncNow('alice'))).toEqual({
        friends: { bob: 4, carol: 2 },
        groups: { [hikers]: 6, [readers]: 5 },
      });
      // the same conversations from the others' side
      expect(counts(await syncNow('dave'))).toEqual({ friends: { alice: 2 }, groups: {} }); // dave's own group post moved his position
      expect(counts(await syncNow('bob'))).toEqual({ friends: {}, groups: { [hikers]: 4, [readers]: 5 } });
    });

    it('never counts the user’s own messages: sending moves the read position', async () => {
      const u = await f.users(['alice', 'bob', 'carol']);
      const direct = await f.direct(u.alice, u.bob);
      const group = await f.group(u.carol, [u.alice, u.bob]);
      await f.send(direct, u.bob, 3);
      await f.send(group, u.bob, 2);
      expect(counts(await syncNow('alice'))).toEqual({ friends: { bob: 3 }, groups: { [group]: 2 } });

      await f.send(direct, u.alice, 1); // replying reads everything before it
      await f.send(group, u.alice, 1);
      expect(counts(await syncNow('alice'))).toEqual({ friends: {}, groups: {} });
      expect(counts(await syncNow('bob'))).toEqual({ friends: { alice: 1 }, groups: { [group]: 1 } });

      await f.send(direct, u.bob, 1);
      await f.send(group, u.carol, 2);
      await f.send(group, u.alice, 1);
      await f.send(group, u.bob, 1);
      expect(counts(await syncNow('alice'))).toEqual({ friends: { bob: 1 }, groups: { [group]: 1 } });
      expect(counts(await syncNow('carol'))).toEqual({ friends: {}, groups: { [group]: 2 } });
    });

    it('an ack (read position moved) clears that conversation only, partially when it is not the last message', async () => {
      const u = await f.users(['alice', 'bob', 'carol', 'dave']);
      const withBob = await f.direct(u.alice, u.bob);
      const withCarol = await f.direct(u.alice, u.carol);
      const group = await f.group(u.dave, [u.alice, u.bob]);
      await f.send(withBob, u.bob, 3);
      await f.send(withCarol, u.carol, 2);
      const groupMessages = await f.send(group, u.dave, 5);

      await f.read(withBob, u.alice);
      expect(counts(await syncNow('alice'))).toEqual({ friends: { carol: 2 }, groups: { [group]: 5 } });

      await f.read(group, u.alice, groupMessages[1].seq);
      expect(counts(await syncNow('alice'))).toEqual({ friends: { carol: 2 }, groups: { [group]: 3 } });
      expect(counts(await syncNow('bob'))).toEqual({ friends: {}, groups: { [group]: 5 } }); // bob's position did not move

      await f.read(group, u.alice, groupMessages[0].seq); // never back
      expect(counts(await syncNow('alice')).groups[group]).toBe(3);
    });

    it('drops a group the user was removed from or left, and starts a re-joined group at its last seq', async () => {
      const u = await f.users(['alice', 'bob']);
      const group = await f.group(u.bob, [u.alice]);
      const other = await f.group(u.bob, [u.alice]);
      await f.send(group, u.bob, 4);
      await f.send(other, u.bob, 1);
      expect(counts(await syncNow('alice')).groups).toEqual({ [group]: 4, [other]: 1 });

      await f.removeMember(group, u.alice);
      await f.send(group, u.bob, 2);
      expect(counts(await syncNow('alice')).groups).toEqual({ [other]: 1 });

      await f.join(group, u.alice);
      expect(counts(await syncNow('alice')).groups).toEqual({ [other]: 1 });
      await f.send(group, u.bob, 1);
      expect(counts(await syncNow('alice')).groups).toEqual({ [group]: 1, [other]: 1 });
    });

    it('drops a dissolved group', async () => {
      const u = await f.users(['alice', 'bob']);
      const group = await f.group(u.bob, [u.alice]);
      const kept = await f.group(u.bob, [u.alice]);
      await f.send(group, u.bob, 2);
      await f.send(kept, u.bob, 1);
      await f.dissolve(group);
      expect(counts(await syncNow('alice')).groups).toEqual({ [kept]: 1 });
    });

    it('reflects the state at each connect', async () => {
      const u = await f.users(['alice', 'bob']);
      const direct = await f.direct(u.alice, u.bob);
      expect(counts(await syncNow('alice')).friends).toEqual({});
      await f.send(direct, u.bob, 2);
      expect(counts(await syncNow('alice')).friends).toEqual({ bob: 2 });
    });
  });

  describe('last_message and order', () => {
    it('previews each message type', async () => {
      const alice = await f.user('alice');
      const longText = '😀'.repeat(30) + 'x'.repeat(100); // 130 code points, 160 UTF-16 units
      const cases: Array<[string, { type: number; content?: string; extra?: Record<string, unknown> }, string]> = [
        ['p-text', { type: 1, content: 'short text' }, 'short text'],
        ['p-long', { type: 1, content: longText }, '😀'.repeat(30) + 'x'.repeat(70)],
        ['p-voice', { type: 2, extra: { voice_url: 'https://cdn/v.amr', duration: 3 } }, '[voice]'],
        ['p-image', { type: 3, extra: { url: 'https://cdn/x.jpg', width: 10, height: 10, is_original: 2 } }, '[image]'],
        ['p-location', { type: 4, extra: { latitude: 1, longitude: 2 } }, '[location]'],
        ['p-redpacket', { type: 5, extra: { amount: 8 } }, '[red packet]'],
        ['p-card', { type: 6, extra: { app_user_id: 'alice', nickname: 'a', head: '' } }, '[card]'],
        ['p-video', { type: 7, content: 'not shown', extra: { video_url: 'https://cdn/v.mp4', cover_url: 'https://cdn/c.jpg', videoTotalTime: 5, width: 4, height: 3 } }, '[video]'],
        ['p-file', { type: 8, extra: { file_name: '新建文件夹.doc', file_size: 2312432, etag: 'dsfsfaegfsrgr' } }, '[file] 新建文件夹.doc'],
      ];
      const expected: Record<string, [string, number]> = {};
      for (const [peer, message, preview] of cases) {
        const peerId = await f.user(peer);
        const conversation = await f.direct(alice, peerId);
        await f.send(conversation, peerId, [{ type: 1, content: 'earlier' }, message]);
        expected[peer] = [preview, message.type];
      }
      const { friendList } = listsOf(await syncNow('alice'));
      expect(Object.fromEntries(friendList.map((item) => [item.app_user_id, [item.last_message, item.last_type]]))).toEqual(expected);
      expect(Array.from(friendList.find((item) => item.app_user_id === 'p-long').last_message as string)).toHaveLength(100);
    });

    it('previews the last message of a group the same way', async () => {
      const u = await f.users(['alice', 'bob']);
      const group = await f.group(u.bob, [u.alice]);
      await f.send(group, u.bob, [{ type: 8, extra: { file_name: 'report.pdf', file_size: 1, etag: 'e' } }]);
      expect(listsOf(await syncNow('alice')).groupList[0]).toMatchObject({ last_message: '[file] report.pdf', last_type: 8, count: 1 });
    });

    it('orders both lists by the time of the last message, newest first', async () => {
      const u = await f.users(['alice', 'p1', 'p2', 'p3', 'owner']);
      const base = Date.now() - 3600_000;
      const c1 = await f.direct(u.alice, u.p1);
      const c2 = await f.direct(u.alice, u.p2);
      const c3 = await f.direct(u.alice, u.p3);
      const g1 = await f.group(u.owner, [u.alice]);
      const g2 = await f.group(u.owner, [u.alice]);
      const g3 = await f.group(u.owner, [u.alice]);
      const sends: SendSpec[] = [
        { conversationId: c1, senderId: u.p1, time: base + 10 },
        { conversationId: c2, senderId: u.p2, time: base + 30 },
        { conversationId: c3, senderId: u.p3, time: base + 20 },
        { conversationId: g1, senderId: u.owner, time: base + 5 },
        { conversationId: g2, senderId: u.owner, time: base + 50 },
        { conversationId: g3, senderId: u.owner, time: base + 40 },
        { conversationId: c1, senderId: u.p1, time: base + 60 }, // p1 talks again: back on top
      ];
      await f.sendMany(sends);
      const { friendList, groupList } = listsOf(await syncNow('alice'));
      expect(friendList.map((item) => item.app_user_id)).toEqual(['p1', 'p2', 'p3']);
      expect(friendList.map((item) => item.time)).toEqual([base + 60, base + 30, base + 20]);
      expect(groupList.map((item) => item.group_id)).toEqual([g2, g3, g1].map(String));
    });
  });

  describe('the sync action and the admin endpoint', () => {
    it('answer the same data as the frame on connect', async () => {
      const u = await f.users(['alice', 'bob', 'carol']);
      await f.send(await f.direct(u.alice, u.bob), u.bob, 2);
      const group = await f.group(u.carol, [u.alice]);
      await f.send(group, u.carol, [{ type: 3, extra: { url: 'https://cdn/x.jpg', width: 1, height: 1, is_original: 1 } }]);

      const { client, sync } = await connectSynced('alice');
      const reply = await client.request('sync', { nonce: '1595489198766l8urH1' });
      expect(reply).toMatchObject({ code: 200, msg: 'OK', action: 'sync', nonce: '1595489198766l8urH1', user_id: u.alice, msg_id: 0 });
      expect(reply.data).toBe(sync.data);
      expect(listsOf(reply).friendList).toHaveLength(1);
      expect(listsOf(reply).groupList).toHaveLength(1);

      const admin = await t.admin.call('GET', '/admin/conversations/alice');
      expect(admin.status).toBe(200);
      expect(admin.body).toEqual(listsOf(sync));

      // after a change, all three still agree
      await f.read(group, u.alice);
      const again = await client.request('sync');
      expect(listsOf(again).groupList).toEqual([]);
      expect((await t.admin.call('GET', '/admin/conversations/alice')).body).toEqual(listsOf(again));
      expect(counts(await syncNow('alice'))).toEqual(counts(again));
    });

    it('the admin endpoint is guarded, answers 404 for an unknown user and [] lists for a quiet one, and is documented', async () => {
      await f.user('quiet');
      expect((await t.admin.call('GET', '/admin/conversations/quiet', undefined, null)).status).toBe(401);
      expect((await t.admin.call('GET', '/admin/conversations/quiet')).body).toEqual({ friendList: [], groupList: [] });
      const missing = await t.admin.call('GET', '/admin/conversations/nobody');
      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe(404);
      expect((await t.admin.call('GET', '/admin/conversations/bad%20id')).status).toBe(400);
      const openApi = await t.admin.call('GET', '/docs-json', undefined, null);
      expect(openApi.body.paths['/admin/conversations/{app_user_id}']?.get).toBeDefined();
    });
  });

  describe('a heavy user', () => {
    it('gets exact counts over 1,000 conversations', async () => {
      const me = await f.user('heavy');
      const peerNames = Array.from({ length: 600 }, (_, i) => `peer${i}`);
      const ids = await f.users([...peerNames, 'owner', 'other']);
      const directs = await f.directs(me, peerNames.map((name) => ids[name]));
      const groups: number[] = [];
      for (let i = 0; i < 400; i++) groups.push(await f.group(ids.owner, [me, ids.other], { name: `g${i}` }));

      // conversation i: (i % 7) + 1 messages from the other side, then for some a reply and more
      const sends: SendSpec[] = [];
      const expectFriends: Record<string, number> = {};
      const expectGroups: Record<string, number> = {};
      const readUpTo: Array<[number, number]> = [];
      const plan = (i: number, conversation: number, others: number[]) => {
        let unread = 0;
        const first = (i % 7) + 1;
        for (let k = 0; k < first; k++) sends.push({ conversationId: conversation, senderId: others[k % others.length] });
        unread = first;
        if (i % 5 === 0) {
          sends.push({ conversationId: conversation, senderId: me }); // my reply reads all
          unread = 0;
          const more = i % 3;
          for (let k = 0; k < more; k++) sends.push({ conversationId: conversation, senderId: others[0] });
          unread = more;
        } else if (i % 5 === 1) {
          readUpTo.push([conversation, 1]); // an ack of the first message
          unread = first - 1;
        }
        return unread;
      };
      directs.forEach((conversation, i) => {
        const unread = plan(i, conversation, [ids[peerNames[i]]]);
        if (unread > 0) expectFriends[peerNames[i]] = unread;
      });
      groups.forEach((group, i) => {
        const unread = plan(i, group, [ids.owner, ids.other]);
        if (unread > 0) expectGroups[String(group)] = unread;
      });
      await f.sendMany(sends);
      for (const [conversation, seq] of readUpTo) await f.read(conversation, me, seq);

      const sync = await syncNow('heavy');
      const got = counts(sync);
      expect(Object.keys(expectFriends).length + Object.keys(expectGroups).length).toBeGreaterThan(700);
      expect(got.friends).toEqual(expectFriends);
      expect(got.groups).toEqual(expectGroups);
      const { friendList, groupList } = listsOf(sync);
      for (const list of [friendList, groupList]) {
        for (let i = 1; i < list.length; i++) expect(list[i - 1].time).toBeGreaterThanOrEqual(list[i].time);
      }
    });
  });
});
