import { ValidateFunction } from 'ajv';
import { buildAsyncApi } from '../src/contract/asyncapi';
import { createAjv, dataSchemaOf, FRAME_SCHEMAS, SYSTEM_MESSAGE_DATA } from '../src/contract';
import { startTestServer, TestServer } from './support/server';
import { dataOf, Frame, WsClient } from './support/ws-client';

/**
 * Every frame a real server sends in a scripted session (chat, groupChat, ack, history, search, blacklist,
 * every group action, presence, sync, ping, in-band auth, errors, reactions, typing, clearHistory, system
 * messages 10, 12-18, 22-24, 19) must
 * validate against the frame schema of its action (src/contract/frames.ts), its decoded `data` against
 * that schema's contentSchema, and a systemMessage's data against the schema of its type.
 */

const ajv = createAjv();
const ENVELOPES = new Map<string, ValidateFunction>(Object.entries(FRAME_SCHEMAS).map(([action, schema]) => [action, ajv.compile(schema)]));
const DATA = new Map<string, ValidateFunction>(
  Object.keys(FRAME_SCHEMAS).flatMap((action) => {
    const schema = dataSchemaOf(action);
    return schema ? [[action, ajv.compile(schema)] as [string, ValidateFunction]] : [];
  }),
);
const SYSTEM = new Map<number, ValidateFunction>(Object.entries(SYSTEM_MESSAGE_DATA).map(([type, schema]) => [Number(type), ajv.compile(schema)]));

/** What is wrong with one frame against the contract ([] = valid). */
function problemsOf(frame: Frame): string[] {
  const envelope = ENVELOPES.get(frame.action);
  if (!envelope) return [`no frame schema for action ${frame.action}`];
  const problems: string[] = [];
  if (!envelope(frame)) problems.push(`envelope: ${ajv.errorsText(envelope.errors)}`);
  if (frame.data !== undefined) {
    const data = dataOf(frame);
    const validate = DATA.get(frame.action);
    if (!validate) problems.push('data on a frame whose schema has none');
    else if (!validate(data)) problems.push(`data: ${ajv.errorsText(validate.errors)}`);
    if (frame.action === 'systemMessage') {
      const system = SYSTEM.get(data.type);
      if (!system) problems.push(`no schema for system message type ${data.type}`);
      else if (!system(data)) problems.push(`type ${data.type}: ${ajv.errorsText(system.errors)}`);
    }
  }
  return problems;
}

describe('frame contract against a running server', () => {
  let t: TestServer;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    t = await startTestServer();
    await t.reset();
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await t.close();
  });

  const connect = async (appUserId: string) => {
    const client = await t.connect(appUserId);
    clients.push(client);
    return client;
  };

  it('every frame of a scripted session validates against the schema of its action', async () => {
    const alice = await connect('alice');
    const alice2 = await connect('alice');
    const bob = await connect('bob');
    const carol = await connect('carol');
    const dave = await connect('dave');
    const ok = (frame: Frame) => {
      expect({ action: frame.action, code: frame.code, msg: frame.msg }).toEqual({ action: frame.action, code: 200, msg: 'OK' });
      return frame;
    };

    // one-to-one: send, push, 831, failures, receipts, history, blacklist
    const sent = ok(await alice.request('chat', { nonce: 'c-1', app_user_ids: 'bob', type: 1, content: 'hi', extra: {} }));
    await bob.push('chat');
    await alice2.push('chat');
    expect((await alice.request('chat', { nonce: 'c-1', app_user_ids: 'bob', type: 1, content: 'hi' })).code).toBe(831);
    ok(await alice.request('chat', { app_user_ids: 'bob', type: 3, extra: { url: 'https://cdn.example.com/x.jpg', width: 1200, height: 800, is_original: 2 } }));
    ok(await alice.request('chat', { app_user_ids: 'bob', type: 8, extra: { file_name: 'a.pdf', file_size: 10, etag: 'e1' } }));
    expect((await alice.request('chat', { app_user_ids: 'nobody', type: 1, content: 'x' })).code).toBe(404);
    expect((await alice.request('chat', { app_user_ids: 'bob', content: 'no type' })).code).toBe(400);
    ok(await bob.request('ack', { msg_id: sent.msg_id, status: 2, app_user_ids: 'alice' }));
    await alice.push('ack');
    ok(await alice.request('history', { app_user_ids: 'bob', limit: 2 }));
    ok(await bob.request('block', { app_user_ids: 'alice' }));
    expect((await alice.request('chat', { app_user_ids: 'bob', type: 1, content: 'blocked' })).code).toBe(811);
    ok(await bob.request('unblock', { app_user_ids: 'alice' }));

    // groups: every action and the system messages they cause
    const created = ok(await alice.request('createGroup', { extra: { group_name: 'G', app_user_ids: ['bob'] } }));
    const group = dataOf(created);
    await bob.push('systemMessage', (frame) => dataOf(frame).type === 17);
    const gsent = ok(await alice.request('groupChat', { group_id: group.group_id, type: 1, content: 'hello group' }));
    await bob.push('groupChat');
    ok(await bob.request('ack', { msg_id: gsent.msg_id, status: 2, group_id: group.group_id }));
    await alice.push('ack', (frame) => frame.group_id === group.group_id);
    ok(await bob.request('history', { group_id: group.group_id }));
    // search (PROTOCOL §12): results from a group and a one-to-one conversation
    const found = ok(await bob.request('search', { query: 'h', limit: 5 }));
    expect(dataOf(found).messages.map((m: { content: string }) => m.content)).toEqual(['hello group', 'hi']);
    ok(await bob.request('search', { query: 'hello', group_id: group.group_id }));
    ok(await alice.request('editGroup', { extra: { group_id: group.group_id, group_name: 'G2', notice: 'n' } }));
    await bob.push('systemMessage', (frame) => dataOf(frame).type === 12);
    ok(await carol.request('joinGroup', { extra: { group_id: group.group_id, invite_code: group.invite_code } }));
    await carol.push('systemMessage', (frame) => dataOf(frame).type === 16);
    expect((await dave.request('joinGroup', { extra: { group_id: group.group_id, invite_code: 'wrongwrongwrong0' } })).code).toBe(403);
    ok(await bob.request('inviteToGroup', { extra: { group_id: group.group_id, app_user_ids: ['dave'] } }));
    await dave.push('systemMessage', (frame) => dataOf(frame).type === 17);
    ok(await alice.request('readBy', { extra: { group_id: group.group_id, msg_id: gsent.msg_id, limit: 5 } }));
    const ownPage = ok(await alice.request('history', { group_id: group.group_id }));
    expect(dataOf(ownPage).messages[0].read_count).toBe(1); // bob acked; carol and dave joined after it
    ok(await alice.request('setGroupRole', { extra: { group_id: group.group_id, app_user_id: 'bob', role: 'admin' } }));
    await carol.push('systemMessage', (frame) => dataOf(frame).type === 18);
    ok(await bob.request('muteMember', { extra: { group_id: group.group_id, app_user_id: 'dave', minutes: 5 } }));
    await dave.push('systemMessage', (frame) => dataOf(frame).type === 22);
    ok(await alice.request('removeFromGroup', { extra: { group_id: group.group_id, app_user_ids: ['dave'] } }));
    await dave.push('systemMessage', (frame) => dataOf(frame).type === 14);
    ok(await carol.request('leaveGroup', { extra: { group_id: group.group_id } }));
    await bob.push('systemMessage', (frame) => dataOf(frame).type === 15);
    ok(await bob.request('groupInfo', { group_id: group.group_id }));
    expect((await dave.request('groupInfo', { group_id: group.group_id })).code).toBe(403);

    // presence, sync (with unread in both lists), ping
    ok(await alice.request('chat', { app_user_ids: 'carol', type: 1, content: 'unread' }));
    ok(await alice.request('groupChat', { group_id: group.group_id, type: 1, content: 'unread too' }));
    ok(await alice.request('presence', { app_user_ids: ['bob', 'nobody'] }));
    const synced = ok(await bob.request('sync'));
    expect(dataOf(synced).extra.groupList.length).toBeGreaterThan(0);
    expect(dataOf(synced).extra.friendList.length).toBeGreaterThan(0);
    ok(await alice.request('conversations', { limit: 5 }));
    ok(await alice.request('setConversation', { app_user_ids: 'carol', pinned: true }));
    await alice2.push('systemMessage', (frame) => dataOf(frame).type === 24);
    ok(await alice.request('setConversation', { group_id: group.group_id, muted: true }));
    await alice2.push('systemMessage', (frame) => dataOf(frame).type === 24 && frame.group_id === group.group_id);
    // reactions, typing, clearHistory (issue 13)
    ok(await bob.request('react', { msg_id: gsent.msg_id, group_id: group.group_id, emoji: '👍', op: 'add' }));
    await alice.push('reaction');
    const reacted = ok(await alice.request('history', { group_id: group.group_id }));
    expect(dataOf(reacted).messages.find((m: { msg_id: number }) => m.msg_id === gsent.msg_id).reactions).toHaveLength(1);
    ok(await alice.request('typing', { app_user_ids: 'bob' }));
    await bob.push('typing');
    ok(await alice.request('conversations', { limit: 5 }));
    ok(await alice.request('ping'));

    // message lifecycle (issue 13): reply + mentions, edit, editHistory, recall (group and one-to-one), 20 and 21 of both kinds
    const quoted = ok(await alice.request('groupChat', { group_id: group.group_id, type: 1, content: 'q', extra: { reply_to: gsent.msg_id, mentions: ['bob'], mention_all: true } }));
    ok(await alice.request('edit', { group_id: group.group_id, msg_id: quoted.msg_id, content: 'q2' }));
    await bob.push('systemMessage', (frame) => dataOf(frame).type === 21 && frame.group_id === group.group_id);
    ok(await bob.request('editHistory', { group_id: group.group_id, msg_id: quoted.msg_id }));
    ok(await alice.request('recall', { group_id: group.group_id, msg_id: quoted.msg_id }));
    await bob.push('systemMessage', (frame) => dataOf(frame).type === 20 && frame.group_id === group.group_id);
    ok(await alice.request('edit', { app_user_ids: 'bob', msg_id: sent.msg_id, content: 'hi!' }));
    await bob.push('systemMessage', (frame) => dataOf(frame).type === 21 && frame.group_id === undefined);
    ok(await alice.request('recall', { app_user_ids: 'bob', msg_id: sent.msg_id }));
    await bob.push('systemMessage', (frame) => dataOf(frame).type === 20 && frame.group_id === undefined);
    ok(await bob.request('history', { group_id: group.group_id }));

    // clearHistory last: a cleared group cannot be quoted from any more
    ok(await alice.request('clearHistory', { group_id: group.group_id }));
    await alice2.push('systemMessage', (frame) => dataOf(frame).type === 23 && frame.group_id === group.group_id);
    ok(await alice.request('clearHistory', { app_user_ids: 'carol' }));
    await alice2.push('systemMessage', (frame) => dataOf(frame).type === 23 && frame.group_id === undefined);

    // type 10: a profile change reaches users who share a conversation
    await t.admin.putUser('bob', 'Bobby', 'https://cdn.example.com/b.jpg');
    await alice.push('systemMessage', (frame) => dataOf(frame).type === 10);
    ok(await alice.request('dissolveGroup', { extra: { group_id: group.group_id } }));
    await bob.push('systemMessage', (frame) => dataOf(frame).type === 13);
    expect((await bob.request('groupInfo', { group_id: group.group_id })).code).toBe(404);

    // errors: unparsable, unknown action, a later reconnect gets the sync frame again
    alice.sendRaw('not json');
    await alice.push('error', (frame) => frame.msg === 'frame is not valid JSON');
    alice.send({ action: 'noSuchAction', nonce: 'e-1' });
    await alice.push('error', (frame) => frame.nonce === 'e-1');

    // in-band auth: a request before auth (401), a bad token (401, close), a good one (200 + sync)
    const { token } = await t.admin.token('carol');
    const browser = await WsClient.open(t.port);
    clients.push(browser);
    expect((await browser.request('ping')).code).toBe(401);
    ok(await browser.request('auth', { token }));
    await browser.waitSync();
    const stranger = await WsClient.open(t.port);
    clients.push(stranger);
    expect((await stranger.request('auth', { token: 'bad' })).code).toBe(401);
    await stranger.closed;

    // a disabled user's sockets get the 401 error frame
    expect((await t.admin.call('POST', '/admin/users/dave/disable')).status).toBeLessThan(300);
    await dave.push('error', (frame) => frame.code === 401);

    // let late pushes arrive, then check every frame every client received
    await alice.quietFor(200);
    const frames = clients.flatMap((client) => client.frames);
    const problems = frames.flatMap((frame) => problemsOf(frame).map((problem) => `${JSON.stringify(frame)}: ${problem}`));
    expect(problems).toEqual([]);

    // the session covered every frame schema and every system message type the server sends
    expect([...new Set(frames.map((frame) => frame.action))].sort()).toEqual(Object.keys(FRAME_SCHEMAS).sort());
    const types = new Set(frames.filter((frame) => frame.action === 'systemMessage').map((frame) => dataOf(frame).type as number));
    expect([...types].sort((a, b) => a - b)).toEqual(Object.keys(SYSTEM_MESSAGE_DATA).map(Number));
  });

  it('serves the AsyncAPI document at GET /asyncapi.json (no auth) and lists it in the OpenAPI document', async () => {
    const served = await t.admin.call('GET', '/asyncapi.json', undefined, null);
    expect(served.status).toBe(200);
    expect(served.body).toEqual(buildAsyncApi({ wsPath: '/', host: `127.0.0.1:${t.port}` }));
    const openApi = await t.admin.call('GET', '/docs-json', undefined, null);
    expect(openApi.status).toBe(200);
    expect(Object.keys(openApi.body.paths['/asyncapi.json'])).toEqual(['get']);
    expect(openApi.body.paths['/asyncapi.json'].get.security).toEqual([]); // public: no bearer token
  });

  it('the schemas reject frames that break the contract', () => {
    const good = { code: 200, msg: 'OK', action: 'presence', data: '{"online":{"bob":true}}', nonce: 'n', time: 1 };
    expect(problemsOf(good as Frame)).toEqual([]);
    expect(problemsOf({ ...good, data: '{"online":{"bob":1}}' } as Frame)).not.toEqual([]);
    expect(problemsOf({ ...good, surprise: 1 } as Frame)).not.toEqual([]);
    expect(problemsOf({ code: 404, msg: 'no', action: 'presence', nonce: 'n' } as unknown as Frame)).toEqual([]);
    expect(problemsOf({ code: 200, msg: 'OK', action: 'presence', nonce: 'n', time: 1 } as Frame)).not.toEqual([]); // 200 without data
    const system = { code: 200, msg: 'OK', action: 'systemMessage', nonce: 'n', time: 1, user_id: 0, msg_id: 5, group_id: '3' };
    expect(problemsOf({ ...system, data: JSON.stringify({ group_id: '3', content: '', type: 13, sub_type: 'group', extra: { group_id: '3' } }) } as Frame)).toEqual([]);
    expect(problemsOf({ ...system, data: JSON.stringify({ group_id: '3', content: '', type: 13, sub_type: 'personal', extra: { group_id: '3' } }) } as Frame)).not.toEqual([]);
  });
});
