import { readFileSync } from 'fs';
import { join } from 'path';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

describe('foundation: connections, frames, limits, admin users', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '50', RATE_LIMIT_BURST: '100' });
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  describe('upgrade authentication', () => {
    it('refuses an upgrade with a forged token, or for a disabled user', async () => {
      const { token } = await t.admin.ensureUserToken('alice');
      const [head, body] = token.split('.');
      expect(await WsClient.refusedStatus(t.port, `${head}.${body}.forgedsignature`)).toBe(401);
      expect(await WsClient.refusedStatus(t.port, 'not-a-jwt')).toBe(401);
      expect((await t.admin.call('POST', '/admin/users/alice/disable')).status).toBe(200);
      expect(await WsClient.refusedStatus(t.port, token)).toBe(401);
      expect((await t.admin.call('POST', '/admin/users/alice/enable')).status).toBe(200);
      expect(await WsClient.refusedStatus(t.port, token)).toBe(101);
    });

    it('accepts a valid token in the query or in the Authorization header, bound to its user', async () => {
      const { token } = await t.admin.ensureUserToken('bob');
      const viaHeader = await WsClient.open(t.port, token, { header: true });
      const pong = await viaHeader.request('ping');
      expect(pong).toMatchObject({ code: 200, action: 'pong' });
      viaHeader.close();
      const client = await t.connect('bob');
      const registry = t.server.app.get(require('../src/realtime/connection-registry').ConnectionRegistry);
      const bob = (await t.sql(`SELECT id FROM users WHERE app_user_id = 'bob'`))[0];
      expect(registry.isOnline(bob.id)).toBe(true);
      client.close();
    });

    it('refuses an expired token', async () => {
      await t.admin.putUser('carol');
      const { token } = await t.admin.token('carol', 1);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await WsClient.refusedStatus(t.port, token)).toBe(401);
    });

    it('closes an idle connection when its token expires: error 401, then 4401', async () => {
      await t.admin.putUser('dave');
      const { token } = await t.admin.token('dave', 2);
      const client = await WsClient.open(t.port, token);
      expect((await client.request('ping')).code).toBe(200);
      const expired = await client.waitFor((frame) => frame.action === 'error', 5000, 'token expired frame');
      expect(expired).toMatchObject({ code: 401, msg: 'token expired' });
      expect((await client.closed).code).toBe(4401);
    });
  });

  describe('frames', () => {
    it('answers non-JSON, non-object, missing and unknown actions with error 400 and keeps the socket open', async () => {
      const client = await t.connect('erin');
      client.sendRaw('this is not json');
      expect(await client.push('error')).toMatchObject({ code: 400, action: 'error' });
      client.sendRaw('[1,2,3]');
      expect((await client.push('error')).msg).toMatch(/object/);
      client.sendRaw(JSON.stringify({ nonce: 'n-1' }));
      expect(await client.push('error')).toMatchObject({ code: 400, nonce: 'n-1', msg: expect.stringMatching(/action/) });
      client.sendRaw(JSON.stringify({ action: 'fly', nonce: 'n-2' }));
      expect(await client.push('error')).toMatchObject({ code: 400, nonce: 'n-2', msg: expect.stringMatching(/fly/) });
      const pong = await client.request('ping');
      expect(pong).toMatchObject({ code: 200, msg: 'OK', action: 'pong' });
      expect(typeof pong.time).toBe('number');
    });

    it('failure replies carry code, msg, action and nonce only; a chat never echoes a group_id from its extra', async () => {
      const client = await t.connect('erin');
      client.sendRaw(JSON.stringify({ action: 'fly', nonce: 'n-3' }));
      expect(Object.keys(await client.push('error')).sort()).toEqual(['action', 'code', 'msg', 'nonce']);
      const failed = await client.request('chat', { type: 1, content: 'hi', app_user_ids: 'nobody-here', extra: { group_id: '7' } });
      expect(failed.code).toBe(404);
      expect(Object.keys(failed).sort()).toEqual(['action', 'code', 'msg', 'nonce']);
      const groupFailure = await client.request('groupInfo', { extra: { group_id: '999' } });
      expect(groupFailure).toMatchObject({ code: 404, group_id: '999', action: 'groupInfo' });
    });

    it('requires a nonce on every request', async () => {
      const client = await t.connect('erin');
      client.sendRaw(JSON.stringify({ action: 'ping' }));
      expect(await client.push('pong')).toMatchObject({ code: 400, msg: expect.stringMatching(/nonce/) });
      client.sendRaw(JSON.stringify({ action: 'ping', nonce: 'x'.repeat(65) }));
      expect(await client.push('pong', (f) => f.nonce !== undefined)).toMatchObject({ code: 400, msg: expect.stringMatching(/nonce/) });
    });

    it('closes the connection with 1009 on a frame over 64 KiB', async () => {
      const client = await t.connect('frank');
      client.sendRaw(JSON.stringify({ action: 'ping', nonce: 'big', pad: 'x'.repeat(200 * 1024) }));
      expect((await client.closed).code).toBe(1009);
    });

    it('answers ping with pong echoing the nonce', async () => {
      const client = await t.connect('gina');
      const reply = await client.request('ping', { nonce: '1595489198766l8urH1' });
      expect(reply).toMatchObject({ code: 200, action: 'pong', nonce: '1595489198766l8urH1' });
    });
  });

  describe('rate limit', () => {
    it('answers a flood with 429s on that connection while another connection is still served', async () => {
      const flooder = await t.connect('henry');
      const other = await t.connect('iris');
      const nonces = Array.from({ length: 400 }, (_, i) => `flood-${i}`);
      for (const nonce of nonces) flooder.send({ action: 'ping', nonce });
      const served = await other.request('ping');
      expect(served.code).toBe(200);
      // every request gets exactly one reply, in no promised order (a 429 is written at once, a pong
      // after an await): wait for each of the 400, not for the last nonce
      const replies = await flooder.replies(nonces, 10_000);
      expect(flooder.received((f) => typeof f.nonce === 'string' && f.nonce.startsWith('flood-'))).toHaveLength(400);
      const limited = replies.filter((f) => f.code === 429);
      expect(limited.length).toBeGreaterThanOrEqual(250);
      expect(limited[0]).toMatchObject({ action: 'pong', code: 429 });
      expect(replies.filter((f) => f.code === 200).length).toBeGreaterThanOrEqual(100);
    });
  });

  describe('heartbeat', () => {
    it('drops a connection that stops answering pings', async () => {
      const fast = await startTestServer({ HEARTBEAT_INTERVAL_MS: '100', HEARTBEAT_TIMEOUT_MS: '300' });
      try {
        const { token } = await fast.admin.ensureUserToken('jack');
        const client = await WsClient.open(fast.port, token);
        // stop reading the socket: pings go unanswered
        (client.socket as any)._socket.pause();
        const started = Date.now();
        const responsive = await WsClient.open(fast.port, token);
        await new Promise((resolve) => setTimeout(resolve, 900));
        const registry = fast.server.app.get(require('../src/realtime/connection-registry').ConnectionRegistry);
        expect(registry.size).toBe(1); // only the responsive one is left
        expect(Date.now() - started).toBeGreaterThan(300);
        responsive.close();
        client.socket.terminate();
      } finally {
        await fast.close();
      }
    });
  });

  describe('admin users API', () => {
    it('requires the admin bearer token', async () => {
      expect((await t.admin.call('GET', '/admin/users/alice', undefined, null)).status).toBe(401);
      expect((await t.admin.call('GET', '/admin/users/alice', undefined, 'wrong-token')).status).toBe(401);
    });

    it('creates, updates and reads a user', async () => {
      const created = await t.admin.call('PUT', '/admin/users/5724abc', { nickname: 'Alice', head: 'https://cdn.example.com/a.jpg' });
      expect(created.status).toBe(200);
      expect(created.body).toEqual({ user_id: expect.any(Number), app_user_id: '5724abc', nickname: 'Alice', head: 'https://cdn.example.com/a.jpg', disabled: false });
      const updated = await t.admin.call('PUT', '/admin/users/5724abc', { nickname: 'Alicia' });
      expect(updated.body).toMatchObject({ user_id: created.body.user_id, nickname: 'Alicia', head: 'https://cdn.example.com/a.jpg' });
      const read = await t.admin.call('GET', '/admin/users/5724abc');
      expect(read.body).toEqual(updated.body);
      expect((await t.admin.call('GET', '/admin/users/nobody')).status).toBe(404);
    });

    it('rejects bad bodies with 400 naming the field, and changes nothing', async () => {
      await t.admin.putUser('kate', 'Kate');
      const cases: Array<[unknown, RegExp]> = [
        [{}, /nickname/],
        [{ nickname: '' }, /nickname/],
        [{ nickname: 'x'.repeat(65) }, /nickname/],
        [{ nickname: 7 }, /nickname/],
        [{ nickname: 'Kate', head: 'ftp://x/y.png' }, /head/],
      ];
      for (const [body, field] of cases) {
        const response = await t.admin.call('PUT', '/admin/users/kate', body);
        expect(response.status).toBe(400);
        expect(response.body.msg).toMatch(field);
      }
      expect((await t.admin.call('PUT', '/admin/users/bad%20id', { nickname: 'x' })).status).toBe(400);
      expect((await t.admin.call('POST', '/admin/users/kate/tokens', { ttl_seconds: -5 })).body.msg).toMatch(/ttl_seconds/);
      expect((await t.admin.call('GET', '/admin/users/kate')).body.nickname).toBe('Kate');
    });

    it('answers a body that is not JSON with 400', async () => {
      const response = await fetch(`${t.baseUrl}/admin/users/kate`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.admin.adminToken}`, 'content-type': 'application/json' },
        body: '{"nickname": ',
      });
      expect(response.status).toBe(400);
      expect((await response.json()).code).toBe(400);
    });

    it('issues tokens with an expiry', async () => {
      await t.admin.putUser('liam');
      const before = Date.now();
      const issued = await t.admin.call('POST', '/admin/users/liam/tokens', {});
      expect(issued.status).toBe(200);
      expect(issued.body.token).toEqual(expect.any(String));
      expect(issued.body.expires_at).toBeGreaterThan(before + 7 * 24 * 3600 * 1000 - 5000);
      const short = await t.admin.call('POST', '/admin/users/liam/tokens', { ttl_seconds: 60 });
      expect(short.body.expires_at).toBeLessThan(before + 65_000);
      expect((await t.admin.call('POST', '/admin/users/nobody/tokens', {})).status).toBe(404);
    });

    it('disable sends the 401 error frame to every open socket and closes them with 4401', async () => {
      const phone = await t.connect('mia');
      const web = await t.connect('mia');
      expect((await t.admin.call('POST', '/admin/users/mia/disable')).body.disabled).toBe(true);
      for (const client of [phone, web]) {
        expect(await client.push('error')).toMatchObject({ code: 401, msg: 'user disabled' });
        expect((await client.closed).code).toBe(4401);
      }
    });
  });

  describe('health and docs', () => {
    it('GET /health is 200 while the database answers', async () => {
      const health = await t.admin.call('GET', '/health', undefined, null);
      expect(health.status).toBe(200);
      expect(health.body.status).toBe('ok');
    });

    it('serves the OpenAPI document with every admin users endpoint', async () => {
      const docs = await t.admin.call('GET', '/docs-json', undefined, null);
      expect(docs.status).toBe(200);
      const paths = Object.keys(docs.body.paths);
      expect(paths).toEqual(expect.arrayContaining(['/admin/users/{app_user_id}', '/admin/users/{app_user_id}/tokens', '/admin/users/{app_user_id}/disable', '/admin/users/{app_user_id}/enable']));
      expect(docs.body.paths['/admin/users/{app_user_id}'].put.requestBody).toBeDefined();
      // the served document is the committed docs/openapi.json (test/openapi.spec.ts lints that file)
      expect(docs.body).toEqual(JSON.parse(readFileSync(join(__dirname, '..', 'docs', 'openapi.json'), 'utf8')));
    });

    it('GET /metrics is Prometheus text', async () => {
      const metrics = await t.admin.call('GET', '/metrics', undefined, null);
      expect(metrics.status).toBe(200);
      expect(String(metrics.body)).toContain('im_connections_open');
      await t.connect('olga', { waitSync: true });
      const after = String((await t.admin.call('GET', '/metrics', undefined, null)).body);
      expect(after).toMatch(/^im_sync_build_seconds_count [1-9]/m);
    });
  });
});
