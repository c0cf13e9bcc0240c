import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

/** Asks until the answer matches (a close or a heartbeat drop reaches the server a moment after the client sees it). */
async function eventually<T>(ask: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await ask();
    if (done(value) || Date.now() > deadline) {
      if (!done(value)) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      return value;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function online(asker: WsClient, appUserIds: string[]): Promise<Record<string, boolean>> {
  const reply = await asker.request('presence', { app_user_ids: appUserIds });
  if (reply.code !== 200) throw new Error(`presence failed: ${JSON.stringify(reply)}`);
  return dataOf(reply).online;
}

describe('presence', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  it('answers online per user: true while at least one connection is open, across devices and disconnects', async () => {
    await t.admin.putUser('bob');
    await t.admin.putUser('carol');
    const alice = await t.connect('alice');

    const reply = await alice.request('presence', { app_user_ids: ['bob', 'carol', 'alice'], nonce: 'p-1' });
    expect(reply).toMatchObject({ code: 200, msg: 'OK', action: 'presence', nonce: 'p-1' });
    expect(reply.data).toBe('{"online":{"bob":false,"carol":false,"alice":true}}');

    const phone = await t.connect('bob');
    expect(await online(alice, ['bob', 'carol'])).toEqual({ bob: true, carol: false });

    const web = await t.connect('bob'); // second device
    expect(await online(alice, ['bob'])).toEqual({ bob: true });
    phone.close();
    await phone.closed;
    expect(await online(alice, ['bob'])).toEqual({ bob: true }); // web is still open
    web.close();
    await eventually(() => online(alice, ['bob']), (value) => value.bob === false, 'bob offline after his last connection closed');

    const again = await t.connect('bob');
    expect(await online(alice, ['bob'])).toEqual({ bob: true });
    again.close();
  });

  it('answers false for unknown users, and once per repeated id', async () => {
    const alice = await t.connect('alice');
    expect(await online(alice, ['nobody', 'alice', 'alice'])).toEqual({ nobody: false, alice: true });
  });

  it('accepts 1 to 200 app_user_ids and answers 400 naming app_user_ids otherwise', async () => {
    const alice = await t.connect('alice');
    const many = Array.from({ length: 200 }, (_, i) => `user${i}`);
    expect(Object.keys(await online(alice, many))).toHaveLength(200);
    const bad: unknown[] = [undefined, [], [...many, 'one-more'], 'bob', ['bob', 7], null, { bob: true }];
    for (const appUserIds of bad) {
      const reply = await alice.request('presence', appUserIds === undefined ? {} : { app_user_ids: appUserIds });
      expect(reply).toMatchObject({ code: 400, action: 'presence' });
      expect(reply.msg).toMatch(/app_user_ids/);
      expect(reply.data).toBeUndefined();
    }
  });

  it('turns false when the heartbeat drops the user’s last connection', async () => {
    const fast = await startTestServer({ HEARTBEAT_INTERVAL_MS: '100', HEARTBEAT_TIMEOUT_MS: '300' });
    try {
      await fast.admin.putUser('dan');
      const asker = await fast.connect('asker');
      const dan = await fast.connect('dan');
      expect(await online(asker, ['dan'])).toEqual({ dan: true });
      // dan's network goes silent: pings go unanswered, the socket is never closed by the client
      (dan.socket as any)._socket.pause();
      await eventually(() => online(asker, ['dan']), (value) => value.dan === false, 'dan dropped by the heartbeat');
      expect(await online(asker, ['asker'])).toEqual({ asker: true }); // the asker answers pings and stays
      dan.socket.terminate();
    } finally {
      await fast.close();
    }
  });
});
