import { connectAll, createGroup } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, Frame, WsClient } from './support/ws-client';

/**
 * `count` and `mention_count` stay exact through sends, mentions, @all, recalls (read and unread),
 * edits and acks: after every step of a scripted scenario, each user's sync and conversation list are
 * compared with a count made by brute force from history and the read positions the script moved.
 */
describe('unread and mention counts stay exact', () => {
  let t: TestServer;

  beforeAll(async () => {
    // the brute-force check reads history several times per step: no rate limit
    t = await startTestServer({ RECALL_WINDOW_SECONDS: '0', RATE_LIMIT_PER_SEC: '0' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  const USERS = ['alice', 'bob', 'carol', 'dave'] as const;
  type User = (typeof USERS)[number];

  const ok = (frame: Frame) => {
    if (frame.code !== 200) throw new Error(`expected 200, got ${JSON.stringify(frame)}`);
    return frame;
  };

  /** A conversation as the script sees it: how to address it from each user, and who takes part. */
  interface Conv {
    key: string;
    members: User[];
    target(from: User): Record<string, unknown>;
  }

  /** Every message of a conversation, oldest first, as `reader` reads it through history. */
  async function allHistory(client: WsClient, target: Record<string, unknown>): Promise<any[]> {
    const messages: any[] = [];
    let after = 0;
    for (;;) {
      const page = dataOf(ok(await client.request('history', { ...target, after_seq: after, limit: 100 })));
      messages.push(...page.messages);
      if (!page.has_more) return messages;
      after = page.messages[page.messages.length - 1].seq;
    }
  }

  /** Counts by brute force, and as the server reports them in sync and conversations; must agree. */
  async function checkCounts(clients: Record<User, WsClient>, convs: Conv[], readPos: Map<string, number>, step: string): Promise<void> {
    for (const user of USERS) {
      const expected = new Map<string, { count: number; mention_count: number }>();
      for (const conv of convs) {
        if (!conv.members.includes(user)) continue;
        const messages = await allHistory(clients[user], conv.target(user));
        const from = readPos.get(`${user}:${conv.key}`) ?? 0;
        const unread = messages.filter((m) => m.seq > from && m.app_user_id !== user && !m.recalled);
        const mentioned = unread.filter((m) => m.extra.mention_all === true || (Array.isArray(m.extra.mentions) && m.extra.mentions.includes(user)));
        if (messages.length > 0) expected.set(conv.key, { count: unread.length, mention_count: mentioned.length });
      }
      const keyOf = (item: any) => (item.group_id !== undefined ? `g${item.group_id}` : `d${[user, item.app_user_id].sort().join('-')}`);
      const sync = dataOf(ok(await clients[user].request('sync'))).extra;
      const fromSync = new Map<string, unknown>([...sync.friendList, ...sync.groupList].map((item: any) => [keyOf(item), { count: item.count, mention_count: item.mention_count }]));
      const unreadOnly = new Map([...expected].filter(([, value]) => value.count > 0));
      expect({ step, user, sync: Object.fromEntries(fromSync) }).toEqual({ step, user, sync: Object.fromEntries(unreadOnly) });
      const list = dataOf(ok(await clients[user].request('conversations', { limit: 100 }))).conversations;
      const fromList = new Map<string, unknown>(list.map((item: any) => [keyOf(item), { count: item.count, mention_count: item.mention_count }]));
      expect({ step, user, list: Object.fromEntries(fromList) }).toEqual({ step, user, list: Object.fromEntries(expected) });
    }
  }

  it('after every step of a scenario mixing sends, mentions, @all, recalls of read and unread messages, edits and acks', async () => {
    const clients = await connectAll(t, [...USERS]);
    const gid = await createGroup(clients.alice, ['bob', 'carol', 'dave']);
    ok(await clients.alice.request('setGroupRole', { extra: { group_id: gid, app_user_id: 'bob', role: 'admin' } }));
    const group: Conv = { key: `g${gid}`, members: [...USERS], target: () => ({ group_id: gid }) };
    const direct: Conv = { key: 'dalice-bob', members: ['alice', 'bob'], target: (from) => ({ app_user_ids: from === 'alice' ? 'bob' : 'alice' }) };
    const convs = [group, direct];
    const readPos = new Map<string, number>();
    const sent: Array<{ msgId: number; seq: number; from: User; conv: Conv; recalled: boolean }> = [];

    // a fixed pseudo-random script (the same every run)
    let state = 20241205;
    const random = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return (state >>> 16) % n; // the high bits: the low ones of this generator repeat quickly
    };
    let allSends = 0;
    const moveRead = (user: User, conv: Conv, seq: number) => {
      const key = `${user}:${conv.key}`;
      readPos.set(key, Math.max(readPos.get(key) ?? 0, seq));
    };

    for (let step = 0; step < 45; step++) {
      const op = random(10);
      let label: string;
      if (op < 4 || sent.length < 3) {
        const conv = random(4) === 0 ? direct : group;
        const from = conv.members[random(conv.members.length)];
        const extra: Record<string, unknown> = {};
        if (conv === group && random(2) === 0) extra.mentions = USERS.filter(() => random(2) === 0);
        if (conv === group && (from === 'alice' || from === 'bob') && random(3) === 0) {
          extra.mention_all = true;
          allSends++;
        }
        const reply = ok(await clients[from].request(conv === group ? 'groupChat' : 'chat', { ...conv.target(from), type: 1, content: `m${step}`, extra }));
        const seq = dataOf(reply).seq;
        sent.push({ msgId: reply.msg_id!, seq, from, conv, recalled: false });
        moveRead(from, conv, seq);
        label = `${step}: ${from} sends ${JSON.stringify(extra)} to ${conv.key}`;
      } else if (op < 6) {
        const message = sent[random(sent.length)];
        const by = message.conv === group && random(3) === 0 ? 'alice' : message.from;
        ok(await clients[by].request('recall', { ...message.conv.target(by), msg_id: message.msgId }));
        message.recalled = true;
        label = `${step}: ${by} recalls ${message.msgId}`;
      } else if (op < 8) {
        const live = sent.filter((m) => !m.recalled);
        if (live.length === 0) continue;
        const message = live[random(live.length)];
        const extra = message.conv === group ? { mentions: USERS.filter(() => random(2) === 0) } : undefined;
        ok(await clients[message.from].request('edit', { ...message.conv.target(message.from), msg_id: message.msgId, content: `e${step}`, extra }));
        label = `${step}: ${message.from} edits ${message.msgId} ${JSON.stringify(extra)}`;
      } else {
        const message = sent[random(sent.length)];
        const readers = message.conv.members.filter((u) => u !== message.from);
        const reader = readers[random(readers.length)];
        ok(await clients[reader].request('ack', { ...message.conv.target(reader), msg_id: message.msgId, status: 2 }));
        moveRead(reader, message.conv, message.seq);
        label = `${step}: ${reader} reads up to ${message.msgId}`;
      }
      await checkCounts(clients, convs, readPos, label);
    }
    // the scenario did what it says
    expect(sent.filter((m) => m.recalled).length).toBeGreaterThan(3);
    expect((await t.sql(`SELECT count(*)::int AS n FROM message_edits`))[0].n).toBeGreaterThan(3);
    expect(allSends).toBeGreaterThan(0);
  });

  it('a recall racing an ack, and two edits racing, end consistent', async () => {
    const clients = await connectAll(t, [...USERS]);
    const gid = await createGroup(clients.alice, ['bob', 'carol', 'dave']);
    const group: Conv = { key: `g${gid}`, members: [...USERS], target: () => ({ group_id: gid }) };
    const readPos = new Map<string, number>();
    const ids: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const reply = ok(await clients.alice.request('groupChat', { group_id: gid, type: 1, content: `m${i}`, extra: { mentions: ['bob', 'carol'] } }));
      ids.push(reply.msg_id!);
    }
    readPos.set(`alice:${group.key}`, 6);

    for (let round = 0; round < 3; round++) {
      // bob reads up to message 2r+2 while alice recalls it and the one before
      const target = ids[2 * round + 1];
      const [ack, recallA, recallB] = await Promise.all([
        clients.bob.request('ack', { group_id: gid, msg_id: target, status: 2 }),
        clients.alice.request('recall', { group_id: gid, msg_id: target }),
        clients.alice.request('recall', { group_id: gid, msg_id: ids[2 * round] }),
      ]);
      ok(ack);
      ok(recallA);
      ok(recallB);
      readPos.set(`bob:${group.key}`, 2 * round + 2);
      await checkCounts(clients, [group], readPos, `round ${round}`);
    }

    const text = ok(await clients.carol.request('groupChat', { group_id: gid, type: 1, content: 'v0' }));
    const edits = await Promise.all(
      ['v1', 'v2', 'v3'].map((content, i) => clients.carol.request('edit', { group_id: gid, msg_id: text.msg_id, content, extra: { mentions: [USERS[i]] } })),
    );
    edits.forEach(ok);
    const versions = dataOf(ok(await clients.dave.request('editHistory', { group_id: gid, msg_id: text.msg_id }))).versions as any[];
    expect(versions[0].content).toBe('v0');
    expect(versions.map((v) => v.content).slice(1).sort()).toEqual(['v1', 'v2', 'v3']);
    const times = versions.map((v) => v.edited_at);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const last = versions[versions.length - 1];
    const [item] = dataOf(ok(await clients.dave.request('history', { group_id: gid, limit: 1 }))).messages;
    expect({ content: item.content, extra: item.extra, edited_at: item.edited_at }).toEqual(last);
    // the stored mentions are those of the version that ended last
    const [row] = await t.sql(`SELECT u.app_user_id FROM messages m JOIN users u ON u.id = ANY (m.mention_ids) WHERE m.id = $1`, [text.msg_id]);
    expect(row.app_user_id).toBe(last.extra.mentions[0]);
    readPos.set(`carol:${group.key}`, 7);
    await checkCounts(clients, [group], readPos, 'after racing edits');
  });
});
