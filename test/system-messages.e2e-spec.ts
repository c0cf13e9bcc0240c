import { AppConfig } from '../src/config/app-config';
import { connectAll, createGroup, disconnect, quietSystem, systemMessage, systemMessagesReceived, userIdOf } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, Frame, WsClient } from './support/ws-client';

const nick = (id: string) => `${id}-nick`;

async function waitFor(done: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits for `count` system messages (sync frame excluded) on the client and returns them in arrival order. */
async function collect(client: WsClient, count: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(await client.push('systemMessage', (frame) => dataOf(frame).type !== 19));
  }
  return frames;
}

describe('SystemMessageService: stored, received once, redelivered on connect', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  it('gives an offline member the missed 17, 12, 14, 17, 13 on connect, oldest first, after the sync frame, exactly once', async () => {
    const { alice, carol } = await connectAll(t, ['alice', 'carol']);
    await t.admin.putUser('bob', nick('bob'));

    const first = await createGroup(alice, ['bob', 'carol']); // 17 to bob
    await alice.request('editGroup', { extra: { group_id: first, notice: 'read me' } }); // 12
    await alice.request('removeFromGroup', { extra: { group_id: first, app_user_ids: ['bob'] } }); // 14
    const second = await createGroup(alice, ['bob']); // 17
    await alice.request('dissolveGroup', { extra: { group_id: second } }); // 13
    await systemMessage(carol, 14);

    const bob = await t.connect('bob');
    const frames = await collect(bob, 5);
    expect(frames.map((frame) => [dataOf(frame).type, frame.group_id])).toEqual([
      [17, first],
      [12, first],
      [14, first],
      [17, second],
      [13, second],
    ]);
    const ids = frames.map((frame) => frame.msg_id!);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(dataOf(frames[1]).extra).toEqual({ group_id: first, notice: 'read me' });
    expect(dataOf(frames[2]).extra.removed_member_list).toEqual([{ app_user_id: 'bob', nickname: nick('bob') }]);
    // the sync frame, when there is one, comes before every missed system message
    const syncIndex = bob.frames.findIndex((frame) => frame.action === 'systemMessage' && dataOf(frame).type === 19);
    if (syncIndex >= 0) expect(syncIndex).toBeLessThan(bob.frames.indexOf(frames[0]));
    // the same frames as the live recipients got (one msg_id per system message, shared)
    const carolTwelve = carol.received((frame) => frame.action === 'systemMessage' && dataOf(frame).type === 12)[0];
    expect(frames[1]).toEqual(carolTwelve);
    expect(await quietSystem(bob, 200)).toEqual([]);

    await disconnect(t, bob, 'bob');
    const again = await t.connect('bob');
    expect(await quietSystem(again, 400)).toEqual([]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM system_messages WHERE delivered_at IS NULL`)).toEqual([{ n: 0 }]);
  });

  it('does not push again what a connection already received live', async () => {
    const { alice, bob } = await connectAll(t, ['alice', 'bob']);
    const gid = await createGroup(alice, ['bob']);
    await systemMessage(bob, 17);
    await alice.request('editGroup', { extra: { group_id: gid, group_name: 'B' } });
    await systemMessage(bob, 12);
    await disconnect(t, bob, 'bob');
    const again = await t.connect('bob');
    expect(await quietSystem(again, 400)).toEqual([]);
    const bobId = await userIdOf(t, 'bob');
    const rows = await t.sql(`SELECT type, delivered_at FROM system_messages WHERE recipient_id = $1 ORDER BY msg_id`, [bobId]);
    expect(rows.map((row) => row.type)).toEqual([17, 12]);
    for (const row of rows) expect(row.delivered_at).toEqual(expect.any(Number));
  });

  it('stores one row per recipient sharing one msg_id, drawn from the sequence chat messages use', async () => {
    const { alice } = await connectAll(t, ['alice']);
    for (const id of ['bob', 'carol', 'dave']) await t.admin.putUser(id, nick(id));
    const gid = await createGroup(alice, ['bob', 'carol', 'dave']);
    const rows = await t.sql(`SELECT msg_id, recipient_id, type, frame FROM system_messages ORDER BY recipient_id`);
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((row) => row.msg_id)).size).toBe(1);
    expect(rows.every((row) => row.type === 17)).toBe(true);
    // the frame text is stored once; the other rows refer to it
    const full = rows.filter((row) => row.frame.startsWith('{'));
    expect(full).toHaveLength(1);
    expect(JSON.parse(full[0].frame)).toMatchObject({ action: 'systemMessage', group_id: gid, msg_id: rows[0].msg_id });
    const [{ last_value }] = await t.sql(`SELECT last_value FROM msg_id_seq`);
    expect(Number(last_value)).toBe(rows[0].msg_id);
  });

  it('reaches every connection of a recipient; a second device that was offline does not get it again', async () => {
    const { alice } = await connectAll(t, ['alice']);
    const phone = await t.connect('bob');
    const web = await t.connect('bob');
    const gid = await createGroup(alice, ['bob']);
    const [a, b] = await Promise.all([systemMessage(phone, 17), systemMessage(web, 17)]);
    expect(a).toEqual(b);
    web.close();
    await web.closed; // phone still online
    await alice.request('editGroup', { extra: { group_id: gid, notice: 'x' } });
    await systemMessage(phone, 12);
    const tablet = await t.connect('bob');
    expect(await quietSystem(tablet, 400)).toEqual([]);
  });

  it('a connect storm (users looked up and claimed together): each member gets its missed messages once, also with two devices opening at once', async () => {
    const { alice } = await connectAll(t, ['alice']);
    const members = Array.from({ length: 40 }, (_, i) => `m${i}`);
    for (const id of members) await t.admin.putUser(id, nick(id));
    const gid = await createGroup(alice, members); // 17 to each offline member
    await alice.request('editGroup', { extra: { group_id: gid, notice: 'storm' } }); // 12
    const tokens = await Promise.all(members.map(async (id) => (await t.admin.token(id)).token));
    // every member at once, and the first ten with a second device in the same wave
    const sockets = await Promise.all([...tokens, ...tokens.slice(0, 10)].map((token) => WsClient.open(t.port, token)));
    const byMember = members.map((_, i) => (i < 10 ? [sockets[i], sockets[members.length + i]] : [sockets[i]]));
    for (const devices of byMember) {
      await waitFor(() => devices.flatMap(systemMessagesReceived).length >= 2);
      await Promise.all(devices.map((device) => quietSystem(device, 100)));
      const types = devices.flatMap(systemMessagesReceived).map((frame) => dataOf(frame).type);
      expect(types.sort()).toEqual([12, 17]);
      // each device got the sync frame first
      for (const device of devices) expect(dataOf(device.frames[0]).type).toBe(19);
    }
    for (const socket of sockets) socket.close();
    await Promise.all(sockets.map((socket) => socket.closed));
  });

  it('never sends one system message twice to a connection that opens while it is being pushed', async () => {
    // bob holds 20 connections at once here: above the per-user limit (10, PROTOCOL §2), which would
    // close the oldest with 4409 and leave them waiting for the last 12 forever
    const config = t.server.app.get(AppConfig);
    const limit = config.MAX_CONNECTIONS_PER_USER;
    config.MAX_CONNECTIONS_PER_USER = 25;
    try {
      await openWhilePushing();
    } finally {
      config.MAX_CONNECTIONS_PER_USER = limit;
    }
  });

  async function openWhilePushing(): Promise<void> {
    const { alice } = await connectAll(t, ['alice']);
    await t.admin.putUser('bob', nick('bob'));
    const gid = await createGroup(alice, ['bob']);
    const { token } = await t.admin.token('bob');
    const bobs: WsClient[] = [];
    const edits: Array<Promise<Frame>> = [];
    for (let i = 0; i < 20; i++) {
      const opening = WsClient.open(t.port, token);
      for (let j = 0; j < 3; j++) edits.push(alice.request('editGroup', { extra: { group_id: gid, notice: `n${i}.${j}` } }));
      bobs.push(await opening);
    }
    expect((await Promise.all(edits)).every((reply) => reply.code === 200)).toBe(true);
    await alice.request('editGroup', { extra: { group_id: gid, notice: 'last' } });
    for (const bob of bobs) await systemMessage(bob, 12, (data) => data.extra.notice === 'last');
    const seen = new Set<number>();
    for (const bob of bobs) {
      const ids = systemMessagesReceived(bob).map((frame) => frame.msg_id!);
      expect(new Set(ids).size).toBe(ids.length);
      ids.forEach((id) => seen.add(id));
    }
    // every system message to bob (the 17 and the 16 edits) reached some connection of his
    const all = await t.sql(`SELECT msg_id, delivered_at FROM system_messages WHERE recipient_id = $1`, [await userIdOf(t, 'bob')]);
    expect(all).toHaveLength(62);
    for (const row of all) expect(seen.has(row.msg_id)).toBe(true);
    for (const bob of bobs) bob.close();
  }

  describe('type 10: user info changed', () => {
    it('goes to online users sharing a group or a one-to-one conversation with the changed user, from user 0, not stored', async () => {
      const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave', 'erin']);
      const gid = await createGroup(c.alice, ['bob']);
      await createGroup(c.carol, ['dave']);
      const [aliceId, erinId] = [await userIdOf(t, 'alice'), await userIdOf(t, 'erin')];
      await t.sql(`INSERT INTO conversations (kind, user_low, user_high) VALUES (1, $1, $2)`, [Math.min(aliceId, erinId), Math.max(aliceId, erinId)]);
      // a dissolved group no longer connects its former members
      const gone = await createGroup(c.alice, ['dave']);
      await c.alice.request('dissolveGroup', { extra: { group_id: gone } });
      await systemMessage(c.dave, 13);
      const before = Number((await t.sql(`SELECT count(*) FROM system_messages`))[0].count);

      const updated = await t.admin.call('PUT', '/admin/users/alice', { nickname: 'Alicia', head: 'https://cdn.example.com/new.jpg' });
      expect(updated.status).toBe(200);
      const frames = await Promise.all([c.bob, c.erin].map((client) => systemMessage(client, 10)));
      for (const frame of frames) {
        expect(frame).toMatchObject({ code: 200, action: 'systemMessage', user_id: 0, msg_id: frames[0].msg_id });
        expect(frame.msg_id).toBeGreaterThan(0);
        expect(frame.group_id).toBeUndefined();
        expect(dataOf(frame)).toEqual({
          content: '',
          type: 10,
          sub_type: 'personal',
          extra: { app_user_id: 'alice', nickname: 'Alicia', head: 'https://cdn.example.com/new.jpg' },
        });
      }
      expect(await quietSystem(c.carol, 100)).toEqual([]);
      expect(await quietSystem(c.dave, 10)).toEqual([]);
      expect(await quietSystem(c.alice, 10)).toEqual([]);
      expect(Number((await t.sql(`SELECT count(*) FROM system_messages`))[0].count)).toBe(before);
      // groupInfo shows the new profile
      const info = dataOf(await c.bob.request('groupInfo', { extra: { group_id: gid } }));
      expect(info.member_list[0]).toEqual({ app_user_id: 'alice', nickname: 'Alicia', head: 'https://cdn.example.com/new.jpg', role: 'owner', muted_until: 0 });
    });

    it('is not sent when nothing changed', async () => {
      const c = await connectAll(t, ['alice', 'bob']);
      await createGroup(c.alice, ['bob']);
      await systemMessage(c.bob, 17);
      await t.admin.call('PUT', '/admin/users/alice', { nickname: nick('alice') });
      expect(await quietSystem(c.bob, 300)).toEqual([]);
    });
  });
});
