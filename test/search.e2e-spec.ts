import { ImError } from '../packages/client/src';
import { addMember, createGroup, userId } from './support/messaging-fixtures';
import { sdkClient } from './support/sdk';
import { FIRST_WINDOW } from '../src/search/search-queries';
import { searchTokensParam, searchTokensSql } from '../src/search/search-index';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

/**
 * Search (PROTOCOL §12, docs/search.md), on real PostgreSQL (DATABASE_URL) and on the embedded
 * database (PGlite, no DATABASE_URL): the same scenarios must give the same answers on both.
 */
const DATABASES: Array<[string, Record<string, string>]> = [
  ['PostgreSQL', {}],
  ['the embedded database', { DATABASE_URL: '' }],
];

/** Recalls a message through the admin API (PROTOCOL §4 Recall: any message). */
async function recall(t: TestServer, msgId: number): Promise<void> {
  expect((await t.admin.call('POST', `/admin/messages/${msgId}/recall`)).status).toBe(200);
}

describe.each(DATABASES)('search on %s', (_name, env) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0', ...env });
  }, 180_000); // a fresh PGlite data directory (initdb) takes long on a loaded machine
  afterAll(() => t?.close());
  beforeEach(() => t.reset());

  async function say(from: WsClient, to: string, content: string): Promise<number> {
    const reply = await from.request('chat', { type: 1, content, app_user_ids: to });
    expect(reply.code).toBe(200);
    return reply.msg_id!;
  }
  async function sayInGroup(from: WsClient, group: string, content: string): Promise<number> {
    const reply = await from.request('groupChat', { type: 1, content, group_id: group });
    expect(reply.code).toBe(200);
    return reply.msg_id!;
  }
  async function search(client: WsClient, query: string, fields: Record<string, unknown> = {}): Promise<{ messages: any[]; has_more: boolean }> {
    const reply = await client.request('search', { query, ...fields });
    expect(reply).toMatchObject({ code: 200, action: 'search' });
    return dataOf(reply);
  }
  const ids = async (client: WsClient, query: string, fields: Record<string, unknown> = {}) => (await search(client, query, fields)).messages.map((m) => m.msg_id);

  it('finds Chinese, Japanese and Korean substrings inside sentences, and single characters', async () => {
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    const zh = await say(alice, 'bob', '我们明天去北京开会，记得带电脑');
    const ja = await say(bob, 'alice', '秋の夜、鈴虫が鳴く。バッタも跳ねる');
    const ko = await say(alice, 'bob', '저는 한국어를 공부합니다');
    const kyoto = await say(bob, 'alice', '京都と東京に行きました');
    const tokyo = await say(alice, 'bob', '東京都庁はどこですか');

    expect(await ids(alice, '北京')).toEqual([zh]);
    expect(await ids(alice, '明天去')).toEqual([zh]);
    expect(await ids(alice, '京开')).toEqual([zh]); // any substring, not only words
    expect(await ids(alice, '鈴虫')).toEqual([ja]);
    expect(await ids(bob, '鈴虫が鳴く')).toEqual([ja]);
    expect(await ids(bob, 'バッタ')).toEqual([ja]);
    expect(await ids(alice, '공부')).toEqual([ko]);
    expect(await ids(alice, '한국어를')).toEqual([ko]);
    // every pair of 東京都 occurs in 京都と東京, but not the three characters in a row
    expect(await ids(alice, '東京都')).toEqual([tokyo]);
    expect(await ids(alice, '東京')).toEqual([tokyo, kyoto]);
    // one character
    expect(await ids(alice, '虫')).toEqual([ja]);
    expect(await ids(alice, '京')).toEqual([tokyo, kyoto, zh]);
    expect(await ids(alice, '국')).toEqual([ko]);
    expect(await ids(alice, '上海')).toEqual([]);
    // every word must match (AND)
    expect(await ids(alice, '北京 电脑')).toEqual([zh]);
    expect(await ids(alice, '北京 鈴虫')).toEqual([]);

    const item = (await search(bob, '鈴虫')).messages[0];
    expect(item).toEqual({
      msg_id: ja,
      seq: 2,
      time: expect.any(Number),
      user_id: await userId(t, 'bob'),
      type: 1,
      content: '秋の夜、鈴虫が鳴く。バッタも跳ねる',
      extra: {},
      app_user_id: 'bob',
      nickname: 'bob-nick',
      head: '',
      to_app_user_id: 'alice',
    });
  });

  it('matches space-separated words case-insensitively from their start, and mixed scripts', async () => {
    const alice = await t.connect('alice');
    await t.connect('bob');
    const meeting = await say(alice, 'bob', 'The MEETING moved to Friday, see you there');
    const concat = await say(alice, 'bob', 'please concatenate the files');
    const phone = await say(alice, 'bob', '新款iPhone 15价格是多少？');
    const cafe = await say(alice, 'bob', 'Ｃａｆé Straße');

    expect(await ids(alice, 'meeting')).toEqual([meeting]);
    expect(await ids(alice, 'Meet')).toEqual([meeting]); // a word matches the words it starts
    expect(await ids(alice, 'eeting')).toEqual([]); // never from the middle of a word
    expect(await ids(alice, 'cat')).toEqual([]);
    expect(await ids(alice, 'CONCATENATE')).toEqual([concat]);
    expect(await ids(alice, 'friday meeting')).toEqual([meeting]); // any order
    expect(await ids(alice, 'meeting monday')).toEqual([]);
    expect(await ids(alice, 'iphone 15 价格')).toEqual([phone]);
    expect(await ids(alice, 'IPHONE')).toEqual([phone]);
    expect(await ids(alice, '15价格')).toEqual([phone]);
    expect(await ids(alice, '新款')).toEqual([phone]);
    expect(await ids(alice, 'café straße')).toEqual([cafe]); // full-width letters are folded (NFKC)
    expect(await ids(alice, '  the  ')).toEqual([concat, meeting]);
  });

  it('an edited message is found by its new text only', async () => {
    const alice = await t.connect('alice');
    await t.connect('bob');
    const id = await say(alice, 'bob', 'the old wording 旧的说法');
    expect(await ids(alice, 'wording')).toEqual([id]);
    expect((await alice.request('edit', { msg_id: id, app_user_ids: 'bob', content: 'a brand new text 新的说法' })).code).toBe(200);
    expect(await ids(alice, 'wording')).toEqual([]);
    expect(await ids(alice, '旧的')).toEqual([]);
    expect(await ids(alice, 'brand')).toEqual([id]);
    expect(await ids(alice, '新的说法')).toEqual([id]);
    expect((await search(alice, 'brand')).messages[0]).toMatchObject({ content: 'a brand new text 新的说法', edited_at: expect.any(Number) });
  });

  it('finds file names (type 8), never other types', async () => {
    const alice = await t.connect('alice');
    await t.connect('bob');
    const file = await alice.request('chat', {
      type: 8,
      content: '',
      extra: { file_name: '2024年度報告書_Q3.pdf', file_size: 1024, etag: 'abc' },
      app_user_ids: 'bob',
    });
    expect(file.code).toBe(200);
    const location = await alice.request('chat', { type: 4, content: 'report', extra: { latitude: 1, longitude: 2, address: 'report street' }, app_user_ids: 'bob' });
    expect(location.code).toBe(200);
    expect(await ids(alice, '報告')).toEqual([file.msg_id]);
    expect(await ids(alice, 'q3 PDF')).toEqual([file.msg_id]);
    expect(await ids(alice, '2024')).toEqual([file.msg_id]);
    expect(await ids(alice, 'report')).toEqual([]);
  });

  it('keeps to what the user may read: joining, clearHistory, recall, leaving, dissolving, other conversations', async () => {
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    const carol = await t.connect('carol');
    const group = await createGroup(t, 'alice', ['bob']);
    const before = await sayInGroup(alice, group, 'secret plan before carol joined');
    await addMember(t, group, 'carol');
    const after = await sayInGroup(alice, group, 'secret plan after carol joined');
    expect(await ids(carol, 'secret')).toEqual([after]);
    expect(await ids(bob, 'secret')).toEqual([after, before]);

    // a one-to-one conversation of others is never searched
    const direct = await say(alice, 'bob', 'secret between alice and bob');
    expect(await ids(carol, 'secret')).toEqual([after]);
    expect(await ids(bob, 'secret')).toEqual([direct, after, before]);

    // clearHistory hides what came before it, for that user only
    expect((await bob.request('clearHistory', { group_id: group })).code).toBe(200);
    expect(await ids(bob, 'secret')).toEqual([direct]);
    expect(await ids(alice, 'secret')).toEqual([direct, after, before]);
    const later = await sayInGroup(alice, group, 'secret plan after bob cleared');
    expect(await ids(bob, 'secret')).toEqual([later, direct]);
    expect((await alice.request('clearHistory', { app_user_ids: 'bob' })).code).toBe(200);
    expect(await ids(alice, 'secret')).toEqual([later, after, before]);

    // a recalled message is found by nobody
    await recall(t, after);
    expect(await ids(alice, 'secret')).toEqual([later, before]);
    expect(await ids(carol, 'secret')).toEqual([later]);

    // a user who left finds nothing more of that group, narrowed or not
    expect((await carol.request('leaveGroup', { group_id: group })).code).toBe(200);
    expect(await ids(carol, 'secret')).toEqual([]);
    expect(await carol.request('search', { query: 'secret', group_id: group })).toMatchObject({ code: 403, action: 'search' });
    const admin = await t.admin.call('GET', `/admin/messages/search?q=secret&app_user_id=carol`);
    expect(admin).toEqual({ status: 200, body: { messages: [], has_more: false } });

    // a dissolved group is gone
    expect((await alice.request('dissolveGroup', { group_id: group })).code).toBe(200);
    expect(await ids(alice, 'secret')).toEqual([]);
    expect(await ids(bob, 'secret')).toEqual([direct]);
  });

  it('narrows to one conversation', async () => {
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    await t.connect('carol');
    const group = await createGroup(t, 'alice', ['bob']);
    const toBob = await say(alice, 'bob', 'lunch today?');
    const toCarol = await say(alice, 'carol', 'lunch tomorrow?');
    const inGroup = await sayInGroup(bob, group, 'team lunch 午饭');
    expect(await ids(alice, 'lunch')).toEqual([inGroup, toCarol, toBob]);
    expect(await ids(alice, 'lunch', { app_user_ids: 'bob' })).toEqual([toBob]);
    expect(await ids(alice, 'lunch', { app_user_ids: 'carol' })).toEqual([toCarol]);
    const page = await search(alice, 'lunch', { group_id: group });
    expect(page).toEqual({ messages: [expect.objectContaining({ msg_id: inGroup, group_id: group, app_user_id: 'bob' })], has_more: false });
    const reply = await alice.request('search', { query: 'lunch', group_id: group });
    expect(reply.group_id).toBe(group);
    expect(await ids(bob, 'lunch', { app_user_ids: 'carol' })).toEqual([]); // no conversation yet
  });

  it('pages newest first with before_msg_id, without repeats or gaps, across rows the phrase check drops', async () => {
    const alice = await t.connect('alice');
    await t.connect('bob');
    const group = await createGroup(t, 'alice', ['bob']);
    const expected: number[] = [];
    for (let i = 0; i < 23; i++) {
      expected.push(i % 2 ? await say(alice, 'bob', `東京都の会議 ${i}`) : await sayInGroup(alice, group, `会議は東京都で ${i}`));
      // candidates of the index that are not matches (東京 and 京都 apart)
      if (i % 3 === 0) await say(alice, 'bob', `京都から東京へ ${i}`);
    }
    expected.reverse();
    const seen: number[] = [];
    let before: number | undefined;
    const hasMore: boolean[] = [];
    for (;;) {
      const page = await search(alice, '東京都', { limit: 5, ...(before === undefined ? {} : { before_msg_id: before }) });
      seen.push(...page.messages.map((m) => m.msg_id));
      hasMore.push(page.has_more);
      if (!page.has_more) break;
      before = page.messages[page.messages.length - 1].msg_id;
    }
    expect(seen).toEqual(expected);
    expect(hasMore).toEqual([true, true, true, true, false]);
    // the default page is 20
    expect((await search(alice, '東京都')).messages.map((m) => m.msg_id)).toEqual(expected.slice(0, 20));
    expect(await ids(alice, '東京都', { before_msg_id: expected[21], limit: 50 })).toEqual([expected[22]]);
  });

  it('matches spread over many msg id windows keep every rule and the order', async () => {
    const alice = await t.connect('alice');
    const carol = await t.connect('carol');
    const group = await createGroup(t, 'alice', ['carol']);
    const total = 1300;
    // stored straight in SQL (set-based), with the lexemes the send path would store, msg ids spread
    // far apart (as other conversations' traffic would): the search walks many id windows
    const aliceId = await userId(t, 'alice');
    const [{ base }] = await t.sql<{ base: number }>(`SELECT nextval('msg_id_seq') AS base`);
    await t.sql(
      `INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at, search_tokens)
       SELECT $6::bigint + s * $7::bigint, $1, s, $2, 'bulk-' || s, 1, 'common word ' || s, '{}', $3, ${searchTokensSql('$4')}
       FROM generate_series(1, $5::int) AS s`,
      [Number(group), aliceId, Date.now(), searchTokensParam(1, 'common word', {}), total, Number(base), FIRST_WINDOW / 4],
    );
    await t.sql(`SELECT setval('msg_id_seq', (SELECT max(id) FROM messages))`);
    await t.sql(`UPDATE conversations SET last_seq = $2 WHERE id = $1`, [Number(group), total]);
    const all = (await t.sql<{ id: number }>(`SELECT id FROM messages WHERE conversation_id = $1 ORDER BY seq DESC`, [Number(group)])).map((r) => Number(r.id));
    // carol joined at seq 400 (set in SQL, as the messages were) and cleared at 700; seq 1250 is recalled
    await t.sql(`UPDATE conversation_members SET joined_seq = 400, cleared_seq = 700 WHERE conversation_id = $1 AND user_id = $2`, [Number(group), await userId(t, 'carol')]);
    await recall(t, all[total - 1250]);
    const walk = async (client: WsClient) => {
      const seen: number[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await search(client, 'common', { limit: 50, ...(before === undefined ? {} : { before_msg_id: before }) });
        seen.push(...page.messages.map((m) => m.msg_id));
        if (!page.has_more) return seen;
        before = seen[seen.length - 1];
      }
    };
    const expected = all.filter((id) => id !== all[total - 1250]);
    expect(await walk(alice)).toEqual(expected);
    expect(await walk(carol)).toEqual(expected.slice(0, total - 700 - 1));
    expect(await ids(carol, 'common', { group_id: group, before_msg_id: all[total - 705] })).toEqual(all.slice(total - 704, total - 700));
    const admin = await t.admin.call('GET', `/admin/messages/search?q=common&limit=3&before_msg_id=${all[10]}`);
    expect(admin.body.messages.map((m: any) => m.msg_id)).toEqual(all.slice(11, 14));
  });

  it('refuses bad input with 400 naming the field, unknown targets with 404, non-members with 403', async () => {
    const alice = await t.connect('alice');
    await t.connect('bob');
    const group = await createGroup(t, 'bob', []);
    const bad: Array<[Record<string, unknown>, string]> = [
      [{}, 'query'],
      [{ query: '' }, 'query'],
      [{ query: 'x'.repeat(101) }, 'query'],
      [{ query: 5 }, 'query'],
      [{ query: '!!! ...' }, 'query'],
      [{ query: 'a', limit: 0 }, 'limit'],
      [{ query: 'a', limit: 51 }, 'limit'],
      [{ query: 'a', limit: '5' }, 'limit'],
      [{ query: 'a', before_msg_id: 0 }, 'before_msg_id'],
      [{ query: 'a', before_msg_id: 'x' }, 'before_msg_id'],
      [{ query: 'a', group_id: 3 }, 'group_id'],
      [{ query: 'a', app_user_ids: ['bob'] }, 'app_user_ids'],
      [{ query: 'a', app_user_ids: 'bob', group_id: group }, 'app_user_ids and group_id'],
      [{ query: 'a', app_user_ids: 'alice' }, 'app_user_ids'],
    ];
    for (const [fields, field] of bad) {
      const reply = await alice.request('search', fields);
      expect({ fields, code: reply.code, action: reply.action }).toEqual({ fields, code: 400, action: 'search' });
      expect(reply.msg).toContain(field);
    }
    expect(await ids(alice, 'x'.repeat(100))).toEqual([]); // 100 characters is fine
    expect(await alice.request('search', { query: 'a', app_user_ids: 'nobody' })).toMatchObject({ code: 404 });
    expect(await alice.request('search', { query: 'a', group_id: '999999' })).toMatchObject({ code: 404 });
    expect(await alice.request('search', { query: 'a', group_id: group })).toMatchObject({ code: 403 });
  });

  it('SDK: client.search returns ChatMessages, narrows, pages, and rejects bad input with ImError 400', async () => {
    const alice = await sdkClient(t, 'alice');
    const bob = await sdkClient(t, 'bob');
    try {
      const group = await createGroup(t, 'alice', ['bob']);
      const direct = await alice.client.sendText({ user: 'bob' }, '鈴虫が鳴く夜');
      const inGroup = await bob.client.sendText({ group }, '鈴虫の声 in the group');
      const page = await alice.client.search('鈴虫');
      expect(page.has_more).toBe(false);
      expect(page.messages.map((m) => m.msg_id)).toEqual([inGroup.msg_id, direct.msg_id]);
      expect(page.messages[0]).toMatchObject({ content: '鈴虫の声 in the group', conversation: { group }, mine: false, app_user_id: 'bob' });
      expect(page.messages[1]).toMatchObject({ conversation: { user: 'bob' }, mine: true });
      const narrowed = await alice.client.search('鈴虫', { conversation: { user: 'bob' } });
      expect(narrowed.messages.map((m) => m.msg_id)).toEqual([direct.msg_id]);
      const first = await bob.client.search('鈴虫', { limit: 1 });
      expect(first).toMatchObject({ messages: [{ msg_id: inGroup.msg_id }], has_more: true });
      const second = await bob.client.search('鈴虫', { limit: 1, before_msg_id: inGroup.msg_id });
      expect(second).toMatchObject({ messages: [{ msg_id: direct.msg_id, conversation: { user: 'alice' } }], has_more: false });
      const error = await alice.client.search('', { limit: 5 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ImError);
      expect(error).toMatchObject({ code: 400 });
    } finally {
      alice.client.close();
      bob.client.close();
    }
  });

  it('admin route: everything without app_user_id, what that user may read with it, same rules and errors', async () => {
    const alice = await t.connect('alice');
    await t.connect('bob');
    await t.connect('carol');
    const group = await createGroup(t, 'alice', ['bob']);
    const first = await sayInGroup(alice, group, 'quarterly numbers 季度数字');
    await addMember(t, group, 'carol');
    const second = await say(alice, 'bob', 'the quarterly numbers again');
    const call = (query: string) => t.admin.call('GET', `/admin/messages/search?${query}`);

    expect((await call(`q=${encodeURIComponent('季度')}`)).body.messages.map((m: any) => m.msg_id)).toEqual([first]);
    expect((await call('q=Quarterly')).body).toEqual({
      messages: [expect.objectContaining({ msg_id: second, to_app_user_id: 'bob' }), expect.objectContaining({ msg_id: first, group_id: group })],
      has_more: false,
    });
    expect((await call('q=quarterly&app_user_id=carol')).body).toEqual({ messages: [], has_more: false });
    expect((await call('q=quarterly&app_user_id=bob')).body.messages.map((m: any) => m.msg_id)).toEqual([second, first]);
    expect((await call(`q=quarterly&group_id=${group}`)).body.messages.map((m: any) => m.msg_id)).toEqual([first]);
    const paged = await call('q=quarterly&limit=1');
    expect(paged.body).toMatchObject({ messages: [{ msg_id: second }], has_more: true });
    expect((await call(`q=quarterly&limit=1&before_msg_id=${second}`)).body).toMatchObject({ messages: [{ msg_id: first }], has_more: false });
    await recall(t, first);
    expect((await call('q=quarterly')).body.messages.map((m: any) => m.msg_id)).toEqual([second]);

    for (const [query, field] of [
      ['', 'q'],
      ['q=', 'q'],
      [`q=${'y'.repeat(101)}`, 'q'],
      ['q=%21%21', 'q must contain'],
      ['q=a&limit=0', 'limit'],
      ['q=a&limit=51', 'limit'],
      ['q=a&limit=x', 'limit'],
      ['q=a&before_msg_id=0', 'before_msg_id'],
      ['q=a&group_id=x', 'group_id'],
      ['q=a&app_user_id=%20', 'app_user_id'],
    ]) {
      const response = await call(query);
      expect({ query, status: response.status, code: response.body.code }).toEqual({ query, status: 400, code: 400 });
      expect(response.body.msg).toContain(field);
    }
    expect((await call('q=a&app_user_id=nobody')).status).toBe(404);
    expect((await call('q=a&group_id=999999')).status).toBe(404);
    expect((await t.admin.call('GET', '/admin/messages/search?q=a', undefined, null)).status).toBe(401);
  });
});
