import { ImCode, ImError, moderationReason } from '../packages/client/src';
import { sdkClient } from './support/sdk';
import { startTestServer, TestServer } from './support/server';
import { dataOf, newNonce } from './support/ws-client';
import { WebhookReceiver } from './support/webhook-receiver';

const SECRET = 'webhook-secret-0123456789';

describe('before-send webhook (PROTOCOL §11, send step 3)', () => {
  let hook: WebhookReceiver;
  let allowing: TestServer; // BEFORE_SEND_ON_FAILURE=allow
  let rejecting: TestServer; // BEFORE_SEND_ON_FAILURE=reject

  beforeAll(async () => {
    hook = await WebhookReceiver.start(SECRET);
    const env = { BEFORE_SEND_WEBHOOK_URL: hook.url, WEBHOOK_SECRET: SECRET, BEFORE_SEND_TIMEOUT_MS: '300' };
    allowing = await startTestServer({ ...env, BEFORE_SEND_ON_FAILURE: 'allow' });
    rejecting = await startTestServer({ ...env, BEFORE_SEND_ON_FAILURE: 'reject', DATABASE_URL: allowing.server.databaseUrl });
  }, 120_000);
  afterAll(async () => {
    await rejecting?.close();
    await allowing?.close();
    await hook?.stop();
  });
  beforeEach(async () => {
    await rejecting.reset();
    await allowing.reset();
    hook.calls.length = 0;
    hook.answer = () => ({ status: 200, body: { action: 'allow' } });
  });

  it('asks with the message after the access checks and stores it on allow', async () => {
    const alice = await allowing.connect('alice');
    const bob = await allowing.connect('bob');
    const reply = await alice.request('chat', { type: 1, content: 'hi', extra: { a: 1 }, app_user_ids: 'bob' });
    expect(reply.code).toBe(200);
    expect(dataOf(await bob.push('chat')).content).toBe('hi');
    expect(hook.calls).toHaveLength(1);
    const [call] = hook.calls;
    expect(call.signed).toBe(true);
    expect(call.event).toBe('message.before_send');
    expect(call.body).toEqual({ event: 'message.before_send', sender: { app_user_id: 'alice', nickname: 'alice-nick', head: '' }, to_app_user_id: 'bob', type: 1, content: 'hi', extra: { a: 1 } });
    // a refused send never reaches the app: 404 before 812
    expect((await alice.request('chat', { type: 1, content: 'x', app_user_ids: 'nobody' })).code).toBe(404);
    expect(hook.calls).toHaveLength(1);
  });

  it('rejects with 812 and the app\'s reason; nothing is stored or delivered', async () => {
    hook.answer = () => ({ status: 200, body: { action: 'reject', reason: 'spam link' } });
    const owner = await allowing.connect('owner');
    const member = await allowing.connect('member');
    const group = await owner.request('createGroup', { extra: { group_name: 'G', app_user_ids: ['member'] } });
    const nonce = newNonce();
    owner.send({ action: 'groupChat', nonce, type: 1, content: 'buy now', group_id: group.group_id });
    const reply = await owner.waitFor((frame) => frame.nonce === nonce);
    expect(reply).toEqual({ code: 812, msg: 'spam link', action: 'sendResult', nonce, group_id: group.group_id });
    expect(hook.calls[0].body).toMatchObject({ group_id: group.group_id, content: 'buy now' });
    expect(await member.quietFor(300, 'groupChat')).toHaveLength(0);
    expect(await allowing.sql('SELECT id FROM messages')).toEqual([]);
    // the same nonce again is asked again (nothing was stored), and may now pass
    hook.answer = () => ({ status: 200, body: { action: 'allow' } });
    expect((await owner.request('groupChat', { nonce, type: 1, content: 'buy now', group_id: group.group_id })).code).toBe(200);
  });

  it('replace: stores and delivers the app\'s content, validated again (400 when invalid)', async () => {
    hook.answer = () => ({ status: 200, body: { action: 'replace', content: 'h***o' } });
    const alice = await allowing.connect('alice');
    const bob = await allowing.connect('bob');
    const reply = await alice.request('chat', { type: 1, content: 'hello', extra: { keep: true }, app_user_ids: 'bob' });
    expect(reply.code).toBe(200);
    expect(dataOf(reply)).toMatchObject({ content: 'h***o', extra: { keep: true } });
    expect(dataOf(await bob.push('chat'))).toMatchObject({ content: 'h***o', extra: { keep: true } });
    hook.answer = () => ({ status: 200, body: { action: 'replace', content: '', extra: [] } });
    const bad = await alice.request('chat', { type: 1, content: 'again', app_user_ids: 'bob' });
    expect(bad.code).toBe(400);
    expect(bad.msg).toMatch(/replacement is invalid: content must be a non-empty string/);
    expect((await allowing.sql('SELECT content FROM messages ORDER BY id')).map((row: any) => row.content)).toEqual(['h***o']);
  });

  it('replace: a reply_to and mentions in the replacement are resolved and counted like a send\'s', async () => {
    const owner = await allowing.connect('owner');
    const member = await allowing.connect('member');
    await allowing.connect('other');
    const group = await owner.request('createGroup', { extra: { group_name: 'G', app_user_ids: ['member', 'other'] } });
    const first = await owner.request('groupChat', { type: 1, content: 'first', group_id: group.group_id });
    expect(first.code).toBe(200);
    // the app turns a plain message into a reply that mentions `member`
    hook.answer = () => ({ status: 200, body: { action: 'replace', extra: { reply_to: first.msg_id, mentions: ['member'] } } });
    const reply = await owner.request('groupChat', { type: 1, content: 'see above', group_id: group.group_id });
    expect(reply.code).toBe(200);
    const quote = { msg_id: first.msg_id, seq: 1, app_user_id: 'owner', nickname: 'owner-nick', type: 1, preview: 'first' };
    expect(dataOf(reply).extra).toEqual({ reply_to: quote, mentions: ['member'] });
    expect(dataOf(await member.push('groupChat', (frame) => frame.msg_id === reply.msg_id)).extra.reply_to).toEqual(quote);
    const [stored] = await allowing.sql('SELECT mention_ids FROM messages WHERE id = $1', [reply.msg_id]);
    expect(stored.mention_ids).toHaveLength(1);
    const synced = dataOf(await member.request('sync')).extra.groupList;
    expect(synced.map((item: any) => [item.count, item.mention_count])).toEqual([[2, 1]]);
    // a replacement naming a non-member is refused like a send
    hook.answer = () => ({ status: 200, body: { action: 'replace', extra: { mentions: ['stranger'] } } });
    expect((await owner.request('groupChat', { type: 1, content: 'x', group_id: group.group_id })).code).toBe(400);
  });

  it('a hook that times out or fails: allow stores, reject answers 812', async () => {
    hook.answer = () => 'hang';
    const alice = await allowing.connect('alice');
    await allowing.connect('bob');
    expect((await alice.request('chat', { type: 1, content: 'slow hook', app_user_ids: 'bob' })).code).toBe(200);
    const carol = await rejecting.connect('carol');
    await rejecting.connect('dave');
    const timedOut = await carol.request('chat', { type: 1, content: 'slow hook', app_user_ids: 'dave' });
    expect(timedOut.code).toBe(812);
    expect(timedOut.data).toBeUndefined();
    hook.answer = () => ({ status: 500 });
    expect((await carol.request('chat', { type: 1, content: 'hook down', app_user_ids: 'dave' })).code).toBe(812);
    expect((await alice.request('chat', { type: 1, content: 'hook down', app_user_ids: 'bob' })).code).toBe(200);
    hook.answer = () => ({ status: 200, body: { action: 'maybe' } });
    expect((await carol.request('chat', { type: 1, content: 'nonsense answer', app_user_ids: 'dave' })).code).toBe(812);
    expect((await allowing.sql('SELECT content FROM messages ORDER BY id')).map((row: any) => row.content)).toEqual(['slow hook', 'hook down']);
    const metrics = await (await fetch(`${allowing.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/im_before_send_seconds_count\{outcome="failure"\} [1-9]/);
    expect(metrics).toMatch(/im_before_send_seconds_count\{outcome="allow"\} [0-9]/);
  });

  it('dedupe first: a stored nonce answers 831 without asking the app', async () => {
    const alice = await allowing.connect('alice');
    await allowing.connect('bob');
    const nonce = newNonce();
    const first = await alice.request('chat', { nonce, type: 1, content: 'once', app_user_ids: 'bob' });
    hook.answer = () => ({ status: 200, body: { action: 'reject', reason: 'no' } });
    const again = await alice.request('chat', { nonce, type: 1, content: 'once', app_user_ids: 'bob' });
    expect(again.code).toBe(831);
    expect(again.msg_id).toBe(first.msg_id);
    expect(hook.calls).toHaveLength(1);
  });

  it('the SDK rejects a moderated send with ImError 812 and the app\'s reason', async () => {
    hook.answer = () => ({ status: 200, body: { action: 'reject', reason: 'contains a phone number' } });
    await allowing.admin.putUser('bob');
    const { client } = await sdkClient(allowing, 'alice');
    try {
      const error = await client.sendText({ user: 'bob' }, 'call me at 555').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ImError);
      expect((error as ImError).code).toBe(ImCode.Moderation);
      expect(moderationReason(error)).toBe('contains a phone number');
    } finally {
      client.close();
    }
  });
});
