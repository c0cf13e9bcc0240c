import { connectAll, createGroup } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

/** readBy (PROTOCOL §5) and read_count in history (§4), in groups of any size. */
describe('readBy and read_count', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  const readBy = (c: WsClient, gid: string, msgId: number, limit?: number) =>
    c.request('readBy', { extra: { group_id: gid, msg_id: msgId, ...(limit === undefined ? {} : { limit }) } });
  const say = async (c: WsClient, gid: string, text: string) => {
    const reply = await c.request('groupChat', { group_id: gid, type: 1, content: text, extra: {} });
    expect(reply.code).toBe(200);
    return reply.msg_id!;
  };
  const unread = async (c: WsClient) => dataOf(await c.request('sync')).extra.groupList.map((item: any) => [item.group_id, item.count]);

  it('a 2,000-member group made through the admin API: counts and lists before and after members ack, one statement per request', async () => {
    const now = Date.now();
    await t.sql(
      `INSERT INTO users (app_user_id, nickname, head, created_at, updated_at)
       SELECT 'm' || lpad(i::text, 4, '0'), 'Member ' || i, '', $1, $1 FROM generate_series(1, 1996) AS i`,
      [now],
    );
    const c = await connectAll(t, ['alice', 'bob', 'carol', 'dave']);
    const members = ['bob', 'carol', 'dave', ...Array.from({ length: 1996 }, (_, i) => `m${String(i + 1).padStart(4, '0')}`)];
    const created = await t.admin.call('POST', '/admin/groups', { owner: 'alice', group_name: 'Big', members });
    expect(created.status).toBe(200);
    expect(created.body.member_count).toBe(2000);
    const gid = created.body.group_id as string;
    expect((await t.admin.call('PUT', `/admin/groups/${gid}/roles/dave`, { role: 'admin' })).status).toBe(200);

    const msgId = await say(c.bob, gid, 'who reads this?');
    const before = await readBy(c.bob, gid, msgId);
    expect(before).toMatchObject({ code: 200, action: 'readBy', group_id: gid });
    const first = dataOf(before);
    expect(first.read_count).toBe(0);
    expect(first.unread_count).toBe(1999);
    expect(first.read).toEqual([]);
    expect(first.unread).toHaveLength(100);
    // as member lists: the owner first, then by join time (bob, the sender, is not listed)
    expect(first.unread.slice(0, 2)).toEqual([
      { app_user_id: 'alice', nickname: 'alice-nick', head: '' },
      { app_user_id: 'm0001', nickname: 'Member 1', head: '' },
    ]);
    expect(first.unread.map((r: any) => r.app_user_id)).not.toContain('bob');

    // carol acks over WebSocket, 1,200 others read up to the message (as their acks would)
    expect((await c.carol.request('ack', { msg_id: msgId, status: 2, group_id: gid })).code).toBe(200);
    await t.sql(
      `UPDATE conversation_members SET read_seq = 1 WHERE conversation_id = $1
         AND user_id IN (SELECT id FROM users WHERE app_user_id BETWEEN 'm0001' AND 'm1200')`,
      [gid],
    );
    const after = dataOf(await readBy(c.bob, gid, msgId, 500));
    expect(after.read_count).toBe(1201);
    expect(after.unread_count).toBe(798);
    expect(after.read).toHaveLength(500);
    expect(after.read[0].app_user_id).toBe('m0001');
    expect(after.unread).toHaveLength(500);
    expect(after.unread[0].app_user_id).toBe('alice');
    expect(after.read.map((r: any) => r.app_user_id)).not.toContain('bob');
    // the owner and admins may ask too; a member who did not send it may not
    expect(dataOf(await readBy(c.alice, gid, msgId, 1))).toEqual({ ...after, read: after.read.slice(0, 1), unread: after.unread.slice(0, 1) });
    expect((await readBy(c.dave, gid, msgId)).code).toBe(200);
    expect((await readBy(c.carol, gid, msgId)).code).toBe(403);

    // read_count in bob's history: on his own message only
    await say(c.carol, gid, 'carol too');
    const page = dataOf(await c.bob.request('history', { group_id: gid, limit: 100 }));
    expect(page.messages.map((m: any) => [m.app_user_id, m.read_count])).toEqual([
      ['carol', undefined],
      ['bob', 1201],
    ]);
    const carolPage = dataOf(await c.carol.request('history', { group_id: gid }));
    expect(carolPage.messages.map((m: any) => [m.app_user_id, m.read_count])).toEqual([
      ['carol', 0],
      ['bob', undefined],
    ]);

    // one statement per readBy, whatever the group size
    const statements = await countStatements(t, () => readBy(c.bob, gid, msgId));
    expect(statements).toBe(1);
  });

  it('read_count follows acks; readBy refuses outsiders, bad ids and bad limits; unread counts do not change', async () => {
    const c = await connectAll(t, ['alice', 'bob', 'carol', 'erin']);
    const gid = await createGroup(c.alice, ['bob', 'carol']);
    const other = await createGroup(c.alice, ['bob']);
    const m1 = await say(c.alice, gid, 'one');
    const m2 = await say(c.alice, gid, 'two');
    const elsewhere = await say(c.alice, other, 'elsewhere');
    const unreadBefore = [await unread(c.bob), await unread(c.carol)];

    const counts = async () => dataOf(await c.alice.request('history', { group_id: gid })).messages.map((m: any) => [m.seq, m.read_count]);
    expect(await counts()).toEqual([
      [2, 0],
      [1, 0],
    ]);
    expect((await c.bob.request('ack', { msg_id: m1, status: 2, group_id: gid })).code).toBe(200);
    expect(await counts()).toEqual([
      [2, 0],
      [1, 1],
    ]);
    expect((await c.carol.request('ack', { msg_id: m2, status: 2, group_id: gid })).code).toBe(200);
    expect(await counts()).toEqual([
      [2, 1],
      [1, 2],
    ]);
    // status 1 (delivered) moves nothing
    expect((await c.bob.request('ack', { msg_id: m2, status: 1, group_id: gid })).code).toBe(200);
    expect(dataOf(await readBy(c.alice, gid, m2))).toEqual({
      read_count: 1,
      unread_count: 1,
      read: [{ app_user_id: 'carol', nickname: 'carol-nick', head: '' }],
      unread: [{ app_user_id: 'bob', nickname: 'bob-nick', head: '' }],
    });

    expect((await readBy(c.erin, gid, m1)).code).toBe(403);
    expect((await readBy(c.alice, gid, elsewhere)).code).toBe(404);
    expect((await readBy(c.alice, gid, 999_999)).code).toBe(404);
    expect((await readBy(c.alice, '999999', m1)).code).toBe(404);
    for (const limit of [0, 501, 1.5, '5']) {
      expect(await c.alice.request('readBy', { extra: { group_id: gid, msg_id: m1, limit } })).toMatchObject({ code: 400, msg: expect.stringContaining('extra.limit') });
    }
    expect(await c.alice.request('readBy', { extra: { group_id: gid } })).toMatchObject({ code: 400, msg: expect.stringContaining('msg_id') });
    // bob reads again what he had: readBy and history change no unread count
    expect(unreadBefore).toEqual([
      [
        [other, 1],
        [gid, 2],
      ],
      [[gid, 2]],
    ]);
    // only the acks moved them (bob read 1 of 2, carol both)
    expect([await unread(c.bob), await unread(c.carol)]).toEqual([
      [
        [other, 1],
        [gid, 1],
      ],
      [],
    ]);
    const settled = [await unread(c.bob), await unread(c.carol)];
    await readBy(c.alice, gid, m1);
    await c.bob.request('history', { group_id: gid });
    expect([await unread(c.bob), await unread(c.carol)]).toEqual(settled);
    // a member who joins after a message is in neither list nor in read_count: it was never theirs to read
    await t.admin.putUser('finn', 'finn-nick');
    expect((await c.alice.request('inviteToGroup', { extra: { group_id: gid, app_user_ids: ['finn'] } })).code).toBe(200);
    expect(dataOf(await readBy(c.alice, gid, m2))).toMatchObject({ read_count: 1, unread_count: 1 });
    expect(await counts()).toEqual([
      [2, 1],
      [1, 2],
    ]);
    const m3 = await say(c.alice, gid, 'three');
    expect(dataOf(await readBy(c.alice, gid, m3))).toMatchObject({ read_count: 0, unread_count: 3 });
  });
});

/** How many statements the server's pool ran while `work` ran (pg_stat_statements is not assumed: counts the pool's queries). */
async function countStatements(t: TestServer, work: () => Promise<unknown>): Promise<number> {
  const { Db } = require('../src/database/db');
  const db = t.server.app.get(Db);
  const original = db.query.bind(db);
  let count = 0;
  db.query = (...args: unknown[]) => {
    count++;
    return original(...args);
  };
  try {
    await work();
  } finally {
    db.query = original;
  }
  return count;
}
