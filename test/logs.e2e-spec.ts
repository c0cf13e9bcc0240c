import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ChildServer } from './support/child-server';
import { ADMIN_TOKEN } from './support/server';
import { WsClient } from './support/ws-client';

/** The shared database's URL with a password in it (PostgreSQL on 127.0.0.1 trusts the test user, so any password works). */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

const lineSecrets = (line: string, secrets: string[]) => secrets.filter((secret) => line.includes(secret));

/**
 * Issue 11: logs are JSON lines off a terminal (the child's stdout is a pipe), with a line per
 * connection opened/closed and per failed request, and never a token, password or secret — checked on
 * the real output of a scripted session that includes failed authentications and admin calls.
 */
describe('logs: JSON lines, connections and failures recorded, no secrets', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'im-logs-'));
  const dbPassword = 'db-pw-never-in-logs-5c1f';
  const env: Record<string, string> = {
    LOG_LEVEL: 'debug',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: withPassword(process.env.DATABASE_URL, dbPassword) } : { DATA_DIR: dataDir }),
  };
  let server: ChildServer | undefined;

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a scripted session leaves JSON lines only, the expected events, and none of the secrets used', async () => {
    server = await ChildServer.start(env);
    const wrongAdmin = 'wrong-admin-secret-3f9a7c1d2e';
    const forged = 'forged.client-token.7d2b9e';
    const { token: aliceToken } = await server.admin.ensureUserToken('log-alice');
    const { token: bobToken } = await server.admin.ensureUserToken('log-bob');

    // admin call with a wrong token: 401, logged without the header
    expect((await server.admin.call('GET', '/admin/users/log-alice', undefined, wrongAdmin)).status).toBe(401);
    // upgrade with a forged token in the query string: refused 401
    expect(await WsClient.refusedStatus(server.port, forged)).toBe(401);
    // in-band auth with a forged token: answered 401 and closed
    const anonymous = await WsClient.open(server.port);
    expect((await anonymous.request('auth', { token: `${forged}-inband` })).code).toBe(401);
    await anonymous.closed;

    const alice = await WsClient.open(server.port, aliceToken);
    await alice.waitSync();
    const bob = await WsClient.open(server.port, bobToken, { header: true });
    await bob.waitSync();
    expect((await alice.request('chat', { type: 1, content: 'hello', app_user_ids: 'log-bob' })).code).toBe(200);
    expect((await alice.request('chat', { type: 1, content: 'to nobody', app_user_ids: 'log-nobody' })).code).toBe(404);
    alice.socket.close(1000);
    await alice.closed;
    bob.close();
    await bob.closed;

    server.signal('SIGTERM');
    expect((await server.exited).code).toBe(0);

    const lines = server.output.split('\n').filter((line) => line.trim() !== '');
    expect(lines.length).toBeGreaterThan(10);
    const records = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, any>;
      } catch {
        return { notJson: line };
      }
    });
    expect(records.filter((record) => record.notJson)).toEqual([]);
    for (const record of records) expect(Object.keys(record)).toEqual(expect.arrayContaining(['level', 'time', 'msg']));

    const secrets = [ADMIN_TOKEN, wrongAdmin, forged, aliceToken, bobToken, dbPassword];
    expect(lines.filter((line) => lineSecrets(line, secrets).length > 0)).toEqual([]);
    // no URL with a password in it (the embedded database's is drawn at random)
    expect(lines.filter((line) => /\w+:\/\/[^\s"@/]*:[^\s"@/]+@/.test(line))).toEqual([]);

    const find = (msg: string) => records.filter((record) => record.msg === msg);
    expect(records.find((record) => /listening on port \d+/.test(record.msg))).toBeDefined();
    expect(find('upgrade refused')).toEqual([expect.objectContaining({ level: 'info', reason: 'unauthenticated', status: 401, remote_address: expect.any(String) })]);
    expect(find('request failed')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 'info', action: 'auth', code: 401 }),
        expect.objectContaining({ level: 'info', action: 'chat', code: 404, duration_ms: expect.any(Number), user_id: expect.any(Number) }),
      ]),
    );
    expect(find('request')).toEqual(expect.arrayContaining([expect.objectContaining({ level: 'debug', action: 'chat', code: 200 })]));
    expect(find('http request failed')).toEqual(expect.arrayContaining([expect.objectContaining({ status: 401, route: '/admin/users/:app_user_id', method: 'GET' })]));
    const opened = find('connection opened');
    expect(opened).toHaveLength(2);
    for (const record of opened) expect(record).toMatchObject({ level: 'info', user_id: expect.any(Number), connection_id: expect.any(String), remote_address: expect.any(String) });
    const closed = find('connection closed');
    expect(closed).toHaveLength(2);
    expect(closed.map((record) => record.close_code).sort()).toEqual([1000, 1005]);
    for (const record of closed) expect(record.duration_ms).toEqual(expect.any(Number));
    // start-up said what it did; migrations too on a database that had none yet
    expect(records.some((record) => /opening the embedded database|connecting to the database/.test(record.msg))).toBe(true);
  });
});
