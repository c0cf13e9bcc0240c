import { HistoryClearedEvent, ImClient, ImError, ReactionEvent, TypingEvent } from '../packages/client/src';
import { startTestServer, TestServer } from './support/server';
import { sdkClient, until } from './support/sdk';

/** The SDK's react, typing and clearHistory, with their events, against the real server. */
describe('client SDK: reactions, typing, clearHistory', () => {
  let t: TestServer;
  const open: ImClient[] = [];
  const connect = async (appUserId: string) => {
    const recorded = await sdkClient(t, appUserId);
    open.push(recorded.client);
    return recorded.client;
  };

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0', TYPING_INTERVAL_MS: '60000' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());
  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });

  it('react resolves with the count; `reaction` reaches the peer and my other device; history carries the state', async () => {
    const alice = await connect('alice');
    const alicePhone = await connect('alice');
    const bob = await connect('bob');
    const seen: Record<string, ReactionEvent[]> = { alicePhone: [], bob: [] };
    alicePhone.on('reaction', (r) => seen.alicePhone.push(r));
    bob.on('reaction', (r) => seen.bob.push(r));
    const sent = await bob.sendText({ user: 'alice' }, 'hi');

    const added = await alice.react({ user: 'bob' }, sent.msg_id, '👍');
    expect(added).toMatchObject({ msg_id: sent.msg_id, seq: sent.seq, emoji: '👍', op: 'add', app_user_id: 'alice', count: 1, user_id: alice.userId });
    await until(() => seen.bob.length === 1 && seen.alicePhone.length === 1, 'reaction events');
    expect(seen.bob[0]).toMatchObject({ msg_id: sent.msg_id, emoji: '👍', op: 'add', count: 1, app_user_id: 'alice' });

    const page = await bob.history({ user: 'alice' });
    expect(page.messages[0].reactions).toEqual([{ emoji: '👍', count: 1, app_user_ids: ['alice'], me: false }]);
    expect((await alice.react({ user: 'bob' }, sent.msg_id, '👍', 'remove')).count).toBe(0);
    expect((await bob.history({ user: 'alice' })).messages[0].reactions).toBeUndefined();

    const tooLong = await alice.react({ user: 'bob' }, sent.msg_id, '😀😀😀😀😀😀😀😀😀').catch((error) => error);
    expect(tooLong).toBeInstanceOf(ImError);
    expect(tooLong).toMatchObject({ code: 400, action: 'react' });
  });

  it('typing emits `typing` on the other side with the conversation; groups too', async () => {
    const alice = await connect('alice');
    const bob = await connect('bob');
    const events: TypingEvent[] = [];
    bob.on('typing', (e) => events.push(e));
    await alice.typing({ user: 'bob' });
    await until(() => events.length === 1, 'typing event');
    expect(events[0]).toMatchObject({ app_user_id: 'alice', to_app_user_id: 'bob', conversation: { user: 'alice' }, user_id: alice.userId });

    const group = await alice.createGroup({ group_name: 'G', app_user_ids: ['bob'] });
    await alice.typing({ group: group.group_id });
    await until(() => events.length === 2, 'group typing event');
    expect(events[1]).toMatchObject({ app_user_id: 'alice', group_id: group.group_id, conversation: { group: group.group_id } });

    const refused = await alice.typing({ user: 'nobody' }).catch((error) => error);
    expect(refused).toMatchObject({ code: 404, action: 'typing' });
  });

  it('clearHistory resolves with the seq; my other device gets `historyCleared`; history is empty there too', async () => {
    const alice = await connect('alice');
    const alicePhone = await connect('alice');
    const bob = await connect('bob');
    const cleared: HistoryClearedEvent[] = [];
    alicePhone.on('historyCleared', (e) => cleared.push(e));
    for (const text of ['1', '2']) await bob.sendText({ user: 'alice' }, text);

    expect(await alice.clearHistory({ user: 'bob' })).toBe(2);
    await until(() => cleared.length === 1, 'historyCleared');
    expect(cleared[0]).toEqual({ seq: 2, conversation: { user: 'bob' } });
    expect((await alicePhone.history({ user: 'bob' })).messages).toEqual([]);
    expect((await bob.history({ user: 'alice' })).messages).toHaveLength(2);
    expect((await alice.sync()).friendList).toEqual([]);
  });
});
