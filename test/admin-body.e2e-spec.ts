import { ADMIN_TOKEN, startTestServer, TestServer } from './support/server';

/**
 * PROTOCOL §8 request bodies, with real fetch against the running server: 413 over
 * ADMIN_BODY_MAX_BYTES, 415 for a body that is not application/json, 400 naming the field for
 * NUL / unpaired surrogates / nesting, never a 500, every error `{code, msg}`.
 */

interface Answer {
  status: number;
  body: any;
}

async function send(t: TestServer, method: string, path: string, body: BodyInit | undefined, headers: Record<string, string> = {}, init: Record<string, unknown> = {}): Promise<Answer> {
  const response = await fetch(t.baseUrl + path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers }, body, ...init } as RequestInit);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // kept as text: the assertion below shows it
  }
  return { status: response.status, body: parsed };
}

const json = { 'content-type': 'application/json' };

/** An error answer: the status, and exactly `{code: status, msg}`. */
function expectError(answer: Answer, status: number, msg?: RegExp): void {
  expect({ status: answer.status, body: answer.body }).toEqual({ status, body: { code: status, msg: msg ? expect.stringMatching(msg) : expect.any(String) } });
}

function nested(depth: number): unknown {
  let value: unknown = 'x';
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

describe('admin REST bodies (PROTOCOL §8)', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());
  beforeEach(() => t.reset());

  async function userExists(appUserId: string): Promise<boolean> {
    return (await t.admin.call('GET', `/admin/users/${appUserId}`)).status === 200;
  }

  it('accepts application/json (with or without charset=utf-8) and a body-less POST', async () => {
    expect((await send(t, 'PUT', '/admin/users/ann', JSON.stringify({ nickname: 'Ann' }), json)).status).toBe(200);
    expect((await send(t, 'PUT', '/admin/users/ann', JSON.stringify({ nickname: 'Ann 2' }), { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
    expect((await send(t, 'PUT', '/admin/users/ann', JSON.stringify({ nickname: 'Ann 3' }), { 'content-type': 'Application/JSON;charset=UTF-8' })).status).toBe(200);
    const token = await send(t, 'POST', '/admin/users/ann/tokens', undefined);
    expect(token.status).toBe(200);
    expect(typeof token.body.token).toBe('string');
  });

  describe('413 over ADMIN_BODY_MAX_BYTES (1 MiB by default)', () => {
    it('a 5 MB body', async () => {
      const big = JSON.stringify({ nickname: 'Big', head: 'x'.repeat(5 * 1024 * 1024) });
      expectError(await send(t, 'PUT', '/admin/users/big', big, json), 413, /larger than 1048576 bytes/);
      expect(await userExists('big')).toBe(false);
    });

    it('a body just over the limit, sent chunked (no Content-Length)', async () => {
      const chunk = new TextEncoder().encode(JSON.stringify({ nickname: 'Big', pad: 'y'.repeat(1024 * 1024) }));
      const stream = new ReadableStream({
        start(controller) {
          for (let i = 0; i < chunk.length; i += 64 * 1024) controller.enqueue(chunk.slice(i, i + 64 * 1024));
          controller.close();
        },
      });
      expectError(await send(t, 'PUT', '/admin/users/big', stream as unknown as BodyInit, json, { duplex: 'half' }), 413);
      expect(await userExists('big')).toBe(false);
    });

    it('a body under the limit passes', async () => {
      const answer = await send(t, 'PUT', '/admin/users/fits', JSON.stringify({ nickname: 'Fits', pad: 'z'.repeat(1000 * 1000) }), json);
      expect(answer.status).toBe(200);
    });
  });

  describe('415 for a body that is not application/json', () => {
    const cases: Array<[string, BodyInit, Record<string, string>]> = [
      ['form-urlencoded', 'nickname=Eve', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['URLSearchParams', new URLSearchParams({ nickname: 'Eve' }), {}],
      ['text/plain JSON', JSON.stringify({ nickname: 'Eve' }), { 'content-type': 'text/plain' }],
      ['no Content-Type', new Uint8Array(Buffer.from(JSON.stringify({ nickname: 'Eve' }))), {}],
      ['multipart', (() => {
        const form = new FormData();
        form.set('nickname', 'Eve');
        return form;
      })(), {}],
      ['a +json type', JSON.stringify({ nickname: 'Eve' }), { 'content-type': 'application/merge-patch+json' }],
      ['charset latin1', JSON.stringify({ nickname: 'Eve' }), { 'content-type': 'application/json; charset=latin1' }],
      ['unknown content encoding', JSON.stringify({ nickname: 'Eve' }), { 'content-type': 'application/json', 'content-encoding': 'x-magic' }],
    ];
    for (const [name, body, headers] of cases) {
      it(`${name}: 415, nothing created`, async () => {
        expectError(await send(t, 'PUT', '/admin/users/eve', body, headers), 415);
        expect(await userExists('eve')).toBe(false);
      });
    }
  });

  describe('400 naming the field, never 500', () => {
    it('a field of the wrong JSON type is reported as a type error, before any range or size rule', async () => {
      await t.admin.putUser('owner');
      expectError(await send(t, 'POST', '/admin/users/owner/tokens', JSON.stringify({ ttl_seconds: '60' }), json), 400, /^ttl_seconds must be an integer/);
      expectError(await send(t, 'POST', '/admin/users/owner/tokens', JSON.stringify({ ttl_seconds: 1.5 }), json), 400, /^ttl_seconds must be an integer/);
      const group = { owner: 'owner', group_name: 'g', members: 'owner' };
      expectError(await send(t, 'POST', '/admin/groups', JSON.stringify(group), json), 400, /^members must be an array/);
    });

    it('NUL or an unpaired surrogate in a field or a key', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ nickname: 'E\u0000ve' }, /^nickname contains a NUL character/],
        [{ nickname: 'Eve\ud800' }, /^nickname contains a NUL character \(U\+0000\) or an unpaired UTF-16 surrogate/],
        [{ nickname: 'Eve', head: '\udc00' }, /^head /],
        [{ nickname: 'Eve', ['k\u0000']: 1 }, /^body has a key containing/],
        [{ nickname: 'Eve', x: { ['\udbff']: 1 } }, /^x has a key containing/],
        [{ nickname: 'Eve', list: ['ok', 'no\u0000'] }, /^list\[1\] contains/],
      ];
      for (const [body, msg] of cases) {
        expectError(await send(t, 'PUT', '/admin/users/eve', JSON.stringify(body), json), 400, msg);
      }
      expect(await userExists('eve')).toBe(false);
      // groups: names, notices and member ids
      await t.admin.putUser('owner');
      for (const body of [
        { owner: 'owner', group_name: 'G\ud800', members: [] },
        { owner: 'owner', group_name: 'G', notice: 'n\u0000', members: [] },
        { owner: 'owner', group_name: 'G', members: ['a\u0000'] },
      ]) {
        expect((await send(t, 'POST', '/admin/groups', JSON.stringify(body), json)).status).toBe(400);
      }
      expect(await t.sql(`SELECT id FROM groups`)).toEqual([]);
    });

    it('nesting deeper than MAX_NESTING_DEPTH (16), 10,000 deep included', async () => {
      expect((await send(t, 'PUT', '/admin/users/eve', JSON.stringify({ nickname: 'Eve', x: nested(14) }), json)).status).toBe(200);
      expectError(await send(t, 'PUT', '/admin/users/eve', JSON.stringify({ nickname: 'Eve', x: nested(16) }), json), 400, /^x(\.a)+ is nested deeper than 16 levels/);
      const deep = `{"nickname":"Eve","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
      expectError(await send(t, 'PUT', '/admin/users/eve', deep, json), 400, /^x(\[0\])+ is nested deeper than 16 levels/);
      const deepBody = '['.repeat(100_000) + ']'.repeat(100_000);
      expectError(await send(t, 'POST', '/admin/groups', deepBody, json), 400);
    });

    it('bodies that are not a JSON object', async () => {
      for (const body of ['{', 'nickname=Eve', '"Eve"', '42', 'null', '[]', '[{"nickname":"Eve"}]', '{"nickname":"Eve"} x', '\u0000']) {
        expectError(await send(t, 'PUT', '/admin/users/eve', body, json), 400);
      }
      expect(await userExists('eve')).toBe(false);
    });

    it("Nest's own refusals (unknown route, undecodable path parameter) are exactly {code, msg} too", async () => {
      expectError(await send(t, 'GET', '/admin/no-such-route', undefined), 404);
      expectError(await send(t, 'GET', '/admin/users/%ED%A0%80', undefined), 400);
      expectError(await send(t, 'GET', '/admin/users/%E0%A4%A', undefined), 400);
      expectError(await send(t, 'PUT', '/admin/users/a%00b', JSON.stringify({ nickname: 'x' }), json), 400, /app_user_id/);
    });

    it('no input gives a 500 on any route with a body', async () => {
      await t.admin.putUser('owner');
      const gid = (await t.admin.call('POST', '/admin/groups', { owner: 'owner', group_name: 'G', members: [] })).body.group_id;
      const routes: Array<[string, string]> = [
        ['PUT', '/admin/users/eve'],
        ['POST', '/admin/users/owner/tokens'],
        ['POST', '/admin/groups'],
        ['PATCH', `/admin/groups/${gid}`],
        ['POST', `/admin/groups/${gid}/members`],
        ['DELETE', `/admin/groups/${gid}/members`],
      ];
      const bodies: Array<[string, Record<string, string>]> = [
        ['{"nickname":{"$gt":""}}', json],
        ['{"ttl_seconds":1e400}', json],
        ['{"ttl_seconds":"9007199254740993"}', json],
        ['{"members":"x","owner":["owner"],"group_name":{}}', json],
        ['{"app_user_ids":[[[[[]]]]]}', json],
        ['{"__proto__":{"admin":true},"constructor":{"prototype":{}}}', json],
        ['{"nickname":"\\ud800"}', json],
        ['{"a":' + '{"a":'.repeat(40) + '1' + '}'.repeat(41), json],
        ['', json],
        ['x', { 'content-type': 'text/plain' }],
      ];
      for (const [method, path] of routes) {
        for (const [body, headers] of bodies) {
          const answer = await send(t, method, path, body, headers);
          expect({ method, path, body, status: answer.status < 500 }).toEqual({ method, path, body, status: true });
          if (answer.status >= 400) expect({ method, path, body, keys: Object.keys(answer.body).sort() }).toEqual({ method, path, body, keys: ['code', 'msg'] });
        }
      }
    });
  });
});
