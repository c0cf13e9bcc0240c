import { connectAll, createGroup } from './support/groups-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, Frame, newNonce, WsClient } from './support/ws-client';

/**
 * PROTOCOL §3 "Rules for every request", over real sockets: every action, every field, every wrong
 * JSON type (generated from a table), the generic rules (nonce, NUL / unpaired surrogates anywhere,
 * nesting depth), and dedupe before 400 for chat/groupChat. Each refusal is a 400 naming the field,
 * and nothing in the database changed.
 */

const REPLY_ACTION: Record<string, string> = { chat: 'sendResult', groupChat: 'sendResult', ack: 'ackResult', ping: 'pong', typing: 'typingResult' };
const replyAction = (action: string) => REPLY_ACTION[action] ?? action;

/** `n` nested containers: nest(1) = {}, nest(2) = {"a":[]}, alternating objects and arrays. */
function nest(n: number): unknown {
  let value: unknown = n % 2 === 0 ? [] : {};
  for (let i = n - 1; i >= 1; i--) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

/** Sends one frame (any nonce, even a non-string one) and resolves with its reply. */
function requestRaw(client: WsClient, frame: Record<string, unknown>): Promise<Frame> {
  const action = replyAction(String(frame.action));
  const nonce = frame.nonce;
  const reply = client.waitFor(
    (f) => f.action === action && (typeof nonce === 'string' ? f.nonce === nonce : f.nonce === undefined),
    5000,
    `reply to ${JSON.stringify(frame).slice(0, 200)}`,
  );
  client.sendRaw(JSON.stringify(frame));
  return reply;
}

/** Everything a refused request could have changed. */
async function snapshot(t: TestServer): Promise<unknown> {
  const [row] = await t.sql(`
    SELECT (SELECT count(*) FROM messages)::int AS messages,
           (SELECT count(*) FROM system_messages)::int AS system_messages,
           (SELECT count(*) FROM conversations)::int AS conversations,
           (SELECT count(*) FROM blacklist)::int AS blacklist,
           (SELECT json_agg(json_build_array(id, content, extra, recalled_at, edited_at) ORDER BY id) FROM messages) AS message_states,
           (SELECT count(*) FROM message_edits)::int AS message_edits,
           (SELECT count(*) FROM users)::int AS users,
           (SELECT json_agg(g ORDER BY g.id) FROM groups g) AS groups,
           (SELECT count(*) FROM message_reactions)::int AS reactions,
           (SELECT json_agg(json_build_array(conversation_id, user_id, read_seq, cleared_seq) ORDER BY conversation_id, user_id) FROM conversation_members) AS members`);
  return row;
}

type Kind = 'groupId' | 'appUserId' | 'appUserIds' | 'int' | 'flag' | 'string' | 'object' | 'inviteCode' | 'one' | 'bool';

const BIG = 2 ** 53 + 2;
/** Values of the wrong JSON type (or out of range) for each kind; `valid` is the field's good value. */
function wrongValues(kind: Kind, valid: unknown, nullable: boolean): unknown[] {
  const values: unknown[] = (() => {
    switch (kind) {
      case 'groupId':
        return [Number(valid), [valid], { group_id: valid }, true, BIG, 1.5, -1, '', 'abc', ' 1', '1e3', '-1', `${valid}\u0000`, `${valid}\ud800`];
      case 'appUserId':
        return [5, [valid], { id: valid }, true, BIG, 1.5, -1, '', 'a b', 'x'.repeat(65), 'bo\u0000b', 'bob\udc00'];
      case 'appUserIds':
        return [(valid as string[])[0], 5, {}, true, BIG, [5], [null], [valid], [{}], [true], [1.5], ['a b'], ['bo\u0000b'], ['\ud800bob']];
      case 'int':
        return [String(valid), [valid], { n: valid }, true, BIG, 1.5, -1, '1'];
      case 'flag':
        return ['1', [1], { n: 1 }, true, BIG, 1.5, -1, 2];
      case 'bool':
        return ['true', 1, 0, [true], { b: true }, 'false'];
      case 'one':
        return ['1', [1], { n: 1 }, true, BIG, 1.5, -1, 0, 2];
      case 'string':
        return [5, [valid], { s: valid }, true, BIG, 1.5, -1, `${valid}\u0000`, `${valid}\ud800`, `\udfff${valid}`];
      case 'object':
        return ['x', 5, [valid], true, BIG, 1.5, -1];
      case 'inviteCode':
        // a string of the wrong form is a wrong code (403, the groups service's); only other types are 400
        return [5, [valid], { code: valid }, true, BIG, 1.5, -1, `${valid}\u0000`, `\ud800${valid}`];
    }
  })();
  return nullable ? values : [...values, null];
}

interface Case {
  who: 'alice' | 'bob' | 'carol';
  action: string;
  /** A request that would succeed (or at least be accepted) as is. */
  base: (ids: Ids) => Record<string, unknown>;
  fields: Array<{ path: string; kind: Kind; nullable?: boolean }>;
}

interface Ids {
  gid: string;
  msgId: number;
  inviteCode: string;
}

/**
 * The table: each action with a request that would change something (bob leaving, alice blocking…),
 * and each of its fields. Every wrong value of every field must be refused without any effect.
 */
const CASES: Case[] = [
  {
    who: 'alice',
    action: 'chat',
    base: () => ({ app_user_ids: 'bob', type: 1, content: 'hi', extra: { k: 1 } }),
    fields: [
      { path: 'app_user_ids', kind: 'appUserId' },
      { path: 'type', kind: 'int' },
      { path: 'content', kind: 'string' },
      { path: 'extra', kind: 'object', nullable: true },
    ],
  },
  {
    who: 'alice',
    action: 'groupChat',
    base: ({ gid }) => ({ group_id: gid, type: 1, content: 'hi' }),
    fields: [
      { path: 'group_id', kind: 'groupId' },
      { path: 'type', kind: 'int' },
      { path: 'content', kind: 'string' },
      { path: 'extra', kind: 'object', nullable: true },
    ],
  },
  {
    who: 'bob',
    action: 'ack',
    base: ({ msgId }) => ({ msg_id: msgId, status: 2, app_user_ids: 'alice' }),
    fields: [
      { path: 'msg_id', kind: 'int' },
      { path: 'status', kind: 'int' },
      { path: 'app_user_ids', kind: 'appUserId' },
    ],
  },
  {
    who: 'bob',
    action: 'history',
    base: () => ({ app_user_ids: 'alice', before_seq: 5, limit: 10 }),
    fields: [
      { path: 'app_user_ids', kind: 'appUserId' },
      { path: 'before_seq', kind: 'int', nullable: true },
      { path: 'limit', kind: 'int', nullable: true },
    ],
  },
  {
    who: 'bob',
    action: 'history',
    base: ({ gid }) => ({ group_id: gid, after_seq: 0 }),
    fields: [
      { path: 'group_id', kind: 'groupId' },
      { path: 'after_seq', kind: 'int', nullable: true },
    ],
  },
  { who: 'alice', action: 'block', base: () => ({ app_user_ids: 'carol' }), fields: [{ path: 'app_user_ids', kind: 'appUserId' }] },
  { who: 'alice', action: 'unblock', base: () => ({ app_user_ids: 'carol' }), fields: [{ path: 'app_user_ids', kind: 'appUserId' }] },
  {
    who: 'alice',
    action: 'createGroup',
    base: () => ({ extra: { group_name: 'New', cover: '', notice: 'n', app_user_ids: ['carol'] } }),
    fields: [
      { path: 'extra', kind: 'object' },
      { path: 'extra.group_name', kind: 'string' },
      { path: 'extra.cover', kind: 'string', nullable: true },
      { path: 'extra.notice', kind: 'string', nullable: true },
      { path: 'extra.app_user_ids', kind: 'appUserIds' },
    ],
  },
  {
    who: 'alice',
    action: 'editGroup',
    base: ({ gid }) => ({ extra: { group_id: gid, group_name: 'Renamed' } }),
    fields: [
      { path: 'extra', kind: 'object' },
      { path: 'extra.group_id', kind: 'groupId' },
      { path: 'group_id', kind: 'groupId' },
      { path: 'extra.group_name', kind: 'string', nullable: true },
      { path: 'extra.cover', kind: 'string', nullable: true },
      { path: 'extra.notice', kind: 'string', nullable: true },
      { path: 'extra.banned_to_post', kind: 'flag', nullable: true },
      { path: 'extra.invite_mode', kind: 'flag', nullable: true },
      { path: 'extra.reset_invite_code', kind: 'one', nullable: true },
      { path: 'extra.app_user_id', kind: 'appUserId', nullable: true },
    ],
  },
  {
    who: 'alice',
    action: 'inviteToGroup',
    base: ({ gid }) => ({ extra: { group_id: gid, app_user_ids: ['carol'] } }),
    fields: [
      { path: 'extra', kind: 'object' },
      { path: 'extra.group_id', kind: 'groupId' },
      { path: 'extra.app_user_ids', kind: 'appUserIds' },
    ],
  },
  {
    who: 'carol',
    action: 'joinGroup',
    base: ({ gid, inviteCode }) => ({ extra: { group_id: gid, invite_code: inviteCode } }),
    fields: [
      { path: 'extra', kind: 'object', nullable: true },
      { path: 'extra.group_id', kind: 'groupId' },
      { path: 'extra.invite_code', kind: 'inviteCode', nullable: true },
    ],
  },
  {
    who: 'alice',
    action: 'removeFromGroup',
    base: ({ gid }) => ({ extra: { group_id: gid, app_user_ids: ['bob'] } }),
    fields: [
      { path: 'extra', kind: 'object' },
      { path: 'extra.group_id', kind: 'groupId' },
      { path: 'extra.app_user_ids', kind: 'appUserIds' },
    ],
  },
  {
    who: 'alice',
    action: 'setGroupRole',
    base: ({ gid }) => ({ extra: { group_id: gid, app_user_id: 'bob', role: 'member' } }),
    fields: [
      { path: 'extra', kind: 'object' },
      { path: 'extra.group_id', kind: 'groupId' },
      { path: 'extra.app_user_id', kind: 'appUserId' },
      { path: 'extra.role', kind: 'string' },
    ],
  },
  {
    who: 'alice',
    action: 'muteMember',
    base: ({ gid }) => ({ extra: { group_id: gid, app_user_id: 'bob', minutes: 0 } }),
    fields: [
      { path: 'extra', kind: 'object' },
      { path: 'extra.group_id', kind: 'groupId' },
      { path: 'extra.app_user_id', kind: 'appUserId' },
      { path: 'extra.minutes', kind: 'int' },
    ],
  },
  {
    who: 'alice',
    action: 'readBy',
    base: ({ gid, msgId }) => ({ extra: { group_id: gid, msg_id: msgId, limit: 10 } }),
    fields: [
      { path: 'extra', kind: 'object' },
      { path: 'extra.group_id', kind: 'groupId' },
      { path: 'extra.msg_id', kind: 'int' },
      { path: 'extra.limit', kind: 'int', nullable: true },
    ],
  },
  {
    who: 'bob',
    action: 'leaveGroup',
    base: ({ gid }) => ({ extra: { group_id: gid } }),
    fields: [
      { path: 'extra', kind: 'object', nullable: true },
      { path: 'extra.group_id', kind: 'groupId' },
    ],
  },
  { who: 'bob', action: 'leaveGroup', base: ({ gid }) => ({ group_id: gid }), fields: [{ path: 'group_id', kind: 'groupId' }] },
  {
    who: 'alice',
    action: 'dissolveGroup',
    base: ({ gid }) => ({ extra: { group_id: gid } }),
    fields: [
      { path: 'extra', kind: 'object', nullable: true },
      { path: 'extra.group_id', kind: 'groupId' },
    ],
  },
  { who: 'bob', action: 'groupInfo', base: ({ gid }) => ({ extra: { group_id: gid } }), fields: [{ path: 'extra.group_id', kind: 'groupId' }] },
  { who: 'alice', action: 'presence', base: () => ({ app_user_ids: ['bob'] }), fields: [{ path: 'app_user_ids', kind: 'appUserIds' }] },
  { who: 'alice', action: 'sync', base: () => ({}), fields: [] },
  {
    who: 'alice',
    action: 'conversations',
    base: () => ({ limit: 10, before_time: 1 }),
    fields: [
      { path: 'limit', kind: 'int', nullable: true },
      { path: 'before_time', kind: 'int', nullable: true },
    ],
  },
  {
    who: 'alice',
    action: 'setConversation',
    base: () => ({ app_user_ids: 'bob', muted: false, pinned: false }),
    fields: [
      { path: 'app_user_ids', kind: 'appUserId' },
      { path: 'muted', kind: 'bool', nullable: true },
      { path: 'pinned', kind: 'bool', nullable: true },
    ],
  },
  { who: 'alice', action: 'setConversation', base: ({ gid }) => ({ group_id: gid, pinned: false }), fields: [{ path: 'group_id', kind: 'groupId' }] },
  {
    who: 'bob',
    action: 'react',
    base: ({ msgId }) => ({ msg_id: msgId, app_user_ids: 'alice', emoji: '👍', op: 'add' }),
    fields: [
      { path: 'msg_id', kind: 'int' },
      { path: 'app_user_ids', kind: 'appUserId' },
      { path: 'emoji', kind: 'string' },
      { path: 'op', kind: 'string' },
    ],
  },
  { who: 'bob', action: 'typing', base: () => ({ app_user_ids: 'alice' }), fields: [{ path: 'app_user_ids', kind: 'appUserId' }] },
  { who: 'bob', action: 'typing', base: ({ gid }) => ({ group_id: gid }), fields: [{ path: 'group_id', kind: 'groupId' }] },
  { who: 'bob', action: 'clearHistory', base: () => ({ app_user_ids: 'alice' }), fields: [{ path: 'app_user_ids', kind: 'appUserId' }] },
  { who: 'bob', action: 'clearHistory', base: ({ gid }) => ({ group_id: gid }), fields: [{ path: 'group_id', kind: 'groupId' }] },
  { who: 'alice', action: 'ping', base: () => ({}), fields: [] },
  {
    who: 'alice',
    action: 'recall',
    base: ({ msgId }) => ({ msg_id: msgId, app_user_ids: 'bob' }),
    fields: [
      { path: 'msg_id', kind: 'int' },
      { path: 'app_user_ids', kind: 'appUserId' },
    ],
  },
  { who: 'alice', action: 'recall', base: ({ gid, msgId }) => ({ msg_id: msgId, group_id: gid }), fields: [{ path: 'group_id', kind: 'groupId' }] },
  {
    who: 'alice',
    action: 'edit',
    base: ({ msgId }) => ({ msg_id: msgId, app_user_ids: 'bob', content: 'edited', extra: { k: 1 } }),
    fields: [
      { path: 'msg_id', kind: 'int' },
      { path: 'app_user_ids', kind: 'appUserId' },
      { path: 'content', kind: 'string' },
      { path: 'extra', kind: 'object', nullable: true },
    ],
  },
  {
    who: 'bob',
    action: 'editHistory',
    base: ({ msgId }) => ({ msg_id: msgId, app_user_ids: 'alice' }),
    fields: [
      { path: 'msg_id', kind: 'int' },
      { path: 'app_user_ids', kind: 'appUserId' },
    ],
  },
  {
    who: 'bob',
    action: 'search',
    base: () => ({ query: 'hello', app_user_ids: 'alice', limit: 10, before_msg_id: 1000 }),
    fields: [
      { path: 'query', kind: 'string' },
      { path: 'app_user_ids', kind: 'appUserId' },
      { path: 'limit', kind: 'int', nullable: true },
      { path: 'before_msg_id', kind: 'int', nullable: true },
    ],
  },
  { who: 'bob', action: 'search', base: ({ gid }) => ({ query: '鈴虫', group_id: gid }), fields: [{ path: 'group_id', kind: 'groupId' }] },
];

const ACTIONS = [...new Set(CASES.map((c) => c.action))];

function setPath(target: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(target);
  const keys = path.split('.');
  let at = copy;
  for (const key of keys.slice(0, -1)) {
    if (at[key] === null || typeof at[key] !== 'object') at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[keys[keys.length - 1]] = value;
  return copy;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('hostile input over WebSocket (PROTOCOL §3 rules for every request)', () => {
  let t: TestServer;
  let c: Record<'alice' | 'bob' | 'carol', WsClient>;
  let ids: Ids;

  beforeAll(async () => {
    // hundreds of requests per connection and test: the rate limit (PROTOCOL §7) is not under test here
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '1000000', RATE_LIMIT_BURST: '1000000' });
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await t.reset();
    c = await connectAll(t, ['alice', 'bob', 'carol']);
    const gid = await createGroup(c.alice, ['bob']);
    const sent = await c.alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'first' });
    expect(sent.code).toBe(200);
    const inviteCode = dataOf(await c.alice.request('groupInfo', { extra: { group_id: gid } })).invite_code;
    expect(inviteCode).toMatch(/^[A-Za-z0-9_-]{16}$/);
    ids = { gid, msgId: sent.msg_id!, inviteCode };
  });

  it('covers every action the server routes (auth below)', () => {
    const { REQUEST_SCHEMAS } = require('../src/contract');
    expect([...ACTIONS, 'auth'].sort()).toEqual(Object.keys(REQUEST_SCHEMAS).sort());
  });

  it('in-band auth: a bad token, nonce, string or depth is a 400 naming it; the socket can still authenticate', async () => {
    const { token } = await t.admin.token('carol');
    const socket = await WsClient.open(t.port);
    try {
      const refused: Array<[Record<string, unknown>, RegExp]> = [
        ...[undefined, null, 5, 1.5, true, [token], { token }, ''].map((value): [Record<string, unknown>, RegExp] => [{ nonce: newNonce(), token: value }, /^token (is required|must be)/]),
        [{ nonce: newNonce(), token: `${token}\u0000` }, /^token contains a NUL/],
        [{ nonce: newNonce(), token: `${token}\ud800` }, /^token contains a NUL/],
        [{ nonce: 'a b', token }, /^nonce /],
        [{ nonce: 7, token }, /^nonce /],
        [{ nonce: newNonce(), token, extra: nest(17) }, /^extra.* is nested deeper than 16 levels/],
      ];
      for (const [fields, msg] of refused) {
        const reply = await requestRaw(socket, { action: 'auth', ...fields });
        expect({ fields, code: reply.code, action: reply.action }).toEqual({ fields, code: 400, action: 'auth' });
        expect(reply.msg).toMatch(msg);
      }
      expect(await requestRaw(socket, { action: 'auth', nonce: newNonce(), token })).toMatchObject({ code: 200, action: 'auth' });
    } finally {
      socket.close();
    }
  });

  for (const testCase of CASES) {
    if (testCase.fields.length === 0) continue;
    const title = `${testCase.action} (${testCase.fields.map((f) => f.path).join(', ')})`;
    it(`${title}: every field of the wrong type or form is a 400 naming it, and changes nothing`, async () => {
      const client = c[testCase.who];
      const before = await snapshot(t);
      const base = testCase.base(ids);
      for (const field of testCase.fields) {
        const valid = field.path.split('.').reduce<any>((value, key) => value?.[key], base) ?? 'x';
        for (const value of wrongValues(field.kind, valid, field.nullable ?? false)) {
          const frame = { action: testCase.action, nonce: newNonce(), ...setPath(base, field.path, value) };
          const reply = await requestRaw(client, frame);
          const expected = { field: field.path, value, code: 400, action: replyAction(testCase.action), data: undefined };
          expect({ field: field.path, value, code: reply.code, action: reply.action, data: reply.data }).toEqual(expected);
          expect({ field: field.path, value, msg: reply.msg }).toEqual({ field: field.path, value, msg: expect.stringMatching(new RegExp(`^${escape(field.path)}\\b`)) });
        }
      }
      expect(await snapshot(t)).toEqual(before);
    });
  }

  it('leaveGroup: group_id 20, ["21"], 22.0 are refused and the member stays a member', async () => {
    const before = await snapshot(t);
    for (const group_id of [Number(ids.gid), [ids.gid], 22.0, 20, ['21']]) {
      for (const fields of [{ extra: { group_id } }, { group_id }]) {
        const reply = await c.bob.request('leaveGroup', fields);
        expect(reply).toMatchObject({ code: 400, action: 'leaveGroup', msg: expect.stringMatching(/group_id must be a string of digits/) });
        expect(reply.group_id).toBeUndefined();
      }
    }
    expect(await snapshot(t)).toEqual(before);
    const info = dataOf(await c.bob.request('groupInfo', { extra: { group_id: ids.gid } }));
    expect(info.member_list.map((m: { app_user_id: string }) => m.app_user_id).sort()).toEqual(['alice', 'bob']);
  });

  it('a failure reply carries group_id only when the request named one as a string', async () => {
    expect(await c.bob.request('leaveGroup', { extra: { group_id: ids.gid, x: '\u0000' } })).toMatchObject({ code: 400, group_id: ids.gid });
    expect(await c.alice.request('groupChat', { group_id: ids.gid, type: '1' })).toMatchObject({ code: 400, group_id: ids.gid, action: 'sendResult' });
    expect((await c.alice.request('groupChat', { group_id: 7, type: 1, content: 'x' })).group_id).toBeUndefined();
    expect((await c.alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'x', extra: { group_id: ids.gid }, depth: nest(20) })).group_id).toBeUndefined();
  });

  describe('nonce: 1-64 printable ASCII (0x21-0x7E)', () => {
    const bad: unknown[] = [undefined, null, 5, 1.5, true, [], {}, ['n'], '', 'x'.repeat(65), 'a b', 'tab\t', 'é', 'n\u0000', 'n\u007f', 'n\ud800', 'n\udbff', '\udc00n'];
    for (const action of ACTIONS) {
      it(`${action}: every bad nonce is a 400 naming nonce, nothing done`, async () => {
        const testCase = CASES.find((each) => each.action === action)!;
        const before = await snapshot(t);
        for (const nonce of bad) {
          const frame: Record<string, unknown> = { action, ...testCase.base(ids) };
          if (nonce !== undefined) frame.nonce = nonce;
          const reply = await requestRaw(c[testCase.who], frame);
          expect({ nonce, code: reply.code, msg: reply.msg, action: reply.action }).toEqual({
            nonce,
            code: 400,
            msg: expect.stringMatching(/^nonce /),
            action: replyAction(action),
          });
        }
        expect(await snapshot(t)).toEqual(before);
        // 64 printable characters are fine
        const ok = await requestRaw(c[testCase.who], { action, ...testCase.base(ids), nonce: '!~' + 'x'.repeat(62) });
        expect(ok.code).not.toBe(400);
      });
    }

    it('a lone surrogate no longer loses a message: "…s\\ud800" and "…s\\udbff" are both refused, then "…s" is stored once', async () => {
      const base = newNonce();
      for (const nonce of [`${base}s\ud800`, `${base}s\udbff`]) {
        const reply = await c.alice.request('chat', { nonce, app_user_ids: 'bob', type: 1, content: 'lost?' });
        expect(reply).toMatchObject({ code: 400, action: 'sendResult', nonce });
        expect(reply.msg).toMatch(/^nonce/);
      }
      expect(await t.sql(`SELECT nonce FROM messages WHERE content = 'lost?'`)).toEqual([]);
      const stored = await c.alice.request('chat', { nonce: `${base}s`, app_user_ids: 'bob', type: 1, content: 'lost?' });
      expect(stored.code).toBe(200);
      expect(await t.sql(`SELECT nonce FROM messages WHERE content = 'lost?'`)).toEqual([{ nonce: `${base}s` }]);
    });
  });

  describe('no U+0000 or unpaired surrogate anywhere, keys included: 400 naming the path, never rewritten', () => {
    const unstorable = ['a\u0000b', 'a\ud800', '\udbffa', 'a\udc00', '\udfff'];

    it('in any string of any action (an ignored top-level field too)', async () => {
      const before = await snapshot(t);
      for (const testCase of CASES) {
        for (const value of unstorable) {
          const reply = await c[testCase.who].request(testCase.action, { ...testCase.base(ids), note: { list: ['ok', value] } });
          expect({ action: testCase.action, value, code: reply.code, msg: reply.msg }).toEqual({
            action: testCase.action,
            value,
            code: 400,
            msg: 'note.list[1] contains a NUL character (U+0000) or an unpaired UTF-16 surrogate',
          });
        }
      }
      expect(await snapshot(t)).toEqual(before);
    });

    it('in keys, at the top level and nested', async () => {
      const before = await snapshot(t);
      for (const testCase of CASES) {
        for (const key of unstorable) {
          const top = await c[testCase.who].request(testCase.action, { ...testCase.base(ids), [key]: 1 });
          expect({ action: testCase.action, key, code: top.code }).toEqual({ action: testCase.action, key, code: 400 });
          expect(top.msg).toMatch(/key containing a NUL character/);
          const nested = await c[testCase.who].request(testCase.action, { ...testCase.base(ids), extra: { ok: { [key]: 1 } } });
          expect({ action: testCase.action, key, code: nested.code, msg: nested.msg }).toEqual({
            action: testCase.action,
            key,
            code: 400,
            msg: expect.stringMatching(/^extra\.ok has a key containing/),
          });
        }
      }
      expect(await snapshot(t)).toEqual(before);
    });

    it('group names, covers, notices, nicknames of the new owner, presence ids and chat content are refused, not stored as U+FFFD', async () => {
      const before = await snapshot(t);
      const refused: Array<[WsClient, string, Record<string, unknown>, RegExp]> = [
        [c.alice, 'createGroup', { extra: { group_name: 'G\ud800', app_user_ids: ['bob'] } }, /^extra\.group_name /],
        [c.alice, 'createGroup', { extra: { group_name: 'G', cover: 'https://x/\udc00', app_user_ids: ['bob'] } }, /^extra\.cover /],
        [c.alice, 'editGroup', { extra: { group_id: ids.gid, notice: 'n\u0000' } }, /^extra\.notice /],
        [c.alice, 'editGroup', { extra: { group_id: ids.gid, group_name: '\udbffX' } }, /^extra\.group_name /],
        [c.alice, 'editGroup', { extra: { group_id: ids.gid, app_user_id: 'bob\u0000' } }, /^extra\.app_user_id /],
        [c.alice, 'presence', { app_user_ids: ['bob\ud800'] }, /^app_user_ids\[0\] /],
        [c.alice, 'presence', { app_user_ids: ['bob\u0000'] }, /^app_user_ids\[0\] /],
        [c.alice, 'chat', { app_user_ids: 'bob', type: 1, content: 'x\ud800' }, /^content /],
        [c.alice, 'groupChat', { group_id: ids.gid, type: 1, content: 'x', extra: { deep: { s: '\u0000' } } }, /^extra\.deep\.s /],
      ];
      for (const [client, action, fields, msg] of refused) {
        const reply = await client.request(action, fields);
        expect({ action, fields, code: reply.code }).toEqual({ action, fields, code: 400 });
        expect(reply.msg).toMatch(msg);
      }
      expect(await snapshot(t)).toEqual(before);
      expect(await t.sql(`SELECT id FROM groups WHERE group_name LIKE '%' || chr(65533) || '%' OR notice LIKE '%' || chr(65533) || '%'`)).toEqual([]);
    });
  });

  describe('nesting deeper than MAX_NESTING_DEPTH (16) anywhere: 400, never code 0', () => {
    it('16 levels pass (the frame is level 1), 17 do not, in extra of a chat', async () => {
      const ok = await c.alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'deep', extra: nest(15) as Record<string, unknown> });
      expect(ok.code).toBe(200);
      const deep = await c.alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'deeper', extra: nest(16) as Record<string, unknown> });
      expect(deep).toMatchObject({ code: 400, msg: expect.stringMatching(/^extra[.a[\]0]* is nested deeper than 16 levels/) });
    });

    it('a 6 KB extra nested 3,000 deep and a 10,000-deep value in any field of any action: 400 naming the field', async () => {
      const before = await snapshot(t);
      let chain: unknown = 'end';
      for (let i = 0; i < 3000; i++) chain = { a: chain };
      const extraReply = await c.alice.request('chat', { app_user_ids: 'bob', type: 5, extra: chain as Record<string, unknown> });
      expect(extraReply).toMatchObject({ code: 400, msg: expect.stringMatching(/^extra(\.a)+ is nested deeper than 16 levels/) });

      const deepArray = '['.repeat(10_000) + ']'.repeat(10_000);
      for (const testCase of CASES) {
        const fields = [...testCase.fields.map((f) => f.path), 'unknown_field'];
        for (const path of fields) {
          const nonce = newNonce();
          const frame = { action: testCase.action, nonce, ...setPath(testCase.base(ids), path, '@DEEP@') };
          const reply = c[testCase.who].waitFor((f) => f.nonce === nonce, 5000, `reply to deep ${testCase.action} ${path}`);
          c[testCase.who].sendRaw(JSON.stringify(frame).replace('"@DEEP@"', deepArray));
          reply.then(() => undefined, () => undefined);
          const answer = await reply;
          expect({ action: testCase.action, path, code: answer.code }).toEqual({ action: testCase.action, path, code: 400 });
          expect(answer.msg).toMatch(new RegExp(`^${escape(path)}(\\[0\\])* is nested deeper than 16 levels`));
        }
      }
      expect(await snapshot(t)).toEqual(before);
      // the connection is still fine
      expect((await c.alice.request('ping')).code).toBe(200);
    });
  });

  describe('dedupe comes first for chat/groupChat (PROTOCOL §4 step 1)', () => {
    it('a stored nonce answers 831 with the original whatever the fields now say, schema and generic failures included', async () => {
      const nonce = newNonce();
      const original = await c.alice.request('chat', { nonce, app_user_ids: 'bob', type: 1, content: 'once' });
      expect(original.code).toBe(200);
      const changed: Array<Record<string, unknown>> = [
        { app_user_ids: ['bob'], type: 1, content: 'once' },
        { app_user_ids: 'bob', type: '1', content: 'once' },
        { app_user_ids: 'bob', type: 1, content: 5 },
        { app_user_ids: 'bob', type: 1, content: 'x\u0000' },
        { app_user_ids: 'bob', type: 1, content: 'once', extra: nest(30) },
        { app_user_ids: 'bob', type: 1, content: 'once', extra: { ['k\ud800']: 1 } },
        {},
      ];
      for (const fields of changed) {
        const reply = await c.alice.request('chat', { nonce, ...fields });
        expect({ fields, code: reply.code, msg_id: reply.msg_id, data: reply.data, time: reply.time }).toEqual({
          fields,
          code: 831,
          msg_id: original.msg_id,
          data: original.data,
          time: original.time,
        });
        expect(reply.action).toBe('sendResult');
      }
      expect(Number((await t.sql(`SELECT count(*) FROM messages WHERE content = 'once'`))[0].count)).toBe(1);
      // a fresh nonce with the same bad fields is a plain 400
      for (const fields of changed) expect((await c.alice.request('chat', fields)).code).toBe(400);
    });

    it('groupChat too, and the 831 carries the group_id', async () => {
      const nonce = newNonce();
      const original = await c.alice.request('groupChat', { nonce, group_id: ids.gid, type: 1, content: 'group once' });
      expect(original.code).toBe(200);
      for (const fields of [{ group_id: Number(ids.gid), type: 1 }, { group_id: ids.gid, type: 1, content: 'x', extra: 'no' }, { group_id: ids.gid, type: 1, content: '\udc00' }]) {
        const reply = await c.alice.request('groupChat', { nonce, ...fields });
        expect(reply).toMatchObject({ code: 831, msg_id: original.msg_id, data: original.data, group_id: ids.gid });
      }
    });
  });
});
