import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { openApiDocumentJson } from '../src/openapi/openapi-preview';

/**
 * The OpenAPI document of the HTTP API: the committed docs/openapi.json is exactly what the
 * controllers generate (`npm run openapi:write`), `@redocly/cli lint` (recommended rules, warnings
 * count as errors: redocly.yaml) passes on it offline and fails on a broken one, and every operation
 * documents its summary and its error responses with the `{code, msg}` schema.
 */

const root = join(__dirname, '..');
const run = promisify(execFile);
const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

function lint(file: string) {
  return run(process.execPath, [join(root, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js'), 'lint', '--config', join(root, 'redocly.yaml'), file], {
    cwd: root,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
}

describe('OpenAPI document (src/openapi)', () => {
  let json: string;
  let doc: any;
  beforeAll(async () => {
    json = await openApiDocumentJson();
    doc = JSON.parse(json);
  });

  it('docs/openapi.json is current (regenerate with npm run openapi:write)', () => {
    expect(readFileSync(join(root, 'docs', 'openapi.json'), 'utf8')).toBe(json);
  });

  it('passes @redocly/cli lint with 0 errors and 0 warnings, and the lint fails on a broken document', async () => {
    const ok = await lint(join(root, 'docs', 'openapi.json'));
    expect(`${ok.stdout}${ok.stderr}`).toMatch(/Your API description is valid/);
    expect(`${ok.stdout}${ok.stderr}`).not.toMatch(/You have \d+ warning|\berrors?\b/i);
    const dir = mkdtempSync(join(tmpdir(), 'openapi-'));
    try {
      const broken = JSON.parse(json);
      delete broken.paths['/admin/users/{app_user_id}'].get.summary;
      broken.servers = [{ url: 'http://localhost:3000' }];
      writeFileSync(join(dir, 'broken.json'), JSON.stringify(broken));
      const failed = await lint(join(dir, 'broken.json')).then(
        () => undefined,
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(`${failed?.stdout}${failed?.stderr}`).toMatch(/operation-summary/);
      expect(`${failed?.stdout}${failed?.stderr}`).toMatch(/no-server-example\.com/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('every operation has a summary and documents its errors with the {code, msg} schema and an example', () => {
    const operations = Object.entries(doc.paths as Record<string, any>).flatMap(([path, item]) =>
      METHODS.filter((method) => item[method]).map((method) => ({ path, method, op: item[method] })),
    );
    expect(operations.length).toBeGreaterThan(15);
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect({ where, summary: typeof op.summary }).toEqual({ where, summary: 'string' });
      const statuses = Object.keys(op.responses);
      expect({ where, ok: statuses.includes('200') }).toEqual({ where, ok: true });
      // every route may be sent a body the JSON middleware refuses
      expect({ where, body: statuses.filter((s) => s === '413' || s === '415') }).toEqual({ where, body: ['413', '415'] });
      for (const status of statuses.filter((s) => Number(s) >= 400 && s !== '503')) {
        const content = op.responses[status].content['application/json'];
        expect({ where, status, schema: content.schema }).toEqual({ where, status, schema: { $ref: '#/components/schemas/ErrorDto' } });
        expect(content.example).toEqual({ code: expect.any(Number), msg: expect.any(String) });
      }
      if (path.startsWith('/admin/')) {
        expect({ where, security: op.security }).toEqual({ where, security: [{ bearer: [] }] });
        expect({ where, errors: ['400', '401', '500'].filter((s) => !statuses.includes(s)) }).toEqual({ where, errors: [] });
      } else if (path === '/media/uploads') {
        expect({ where, security: op.security }).toEqual({ where, security: [{ client: [] }] });
      } else {
        expect({ where, security: op.security }).toEqual({ where, security: [] });
      }
    }
    expect(doc.components.schemas.ErrorDto).toMatchObject({ required: ['code', 'msg'], properties: { code: { type: 'integer' }, msg: { type: 'string' } } });
  });

  it('documents the 404s the routes answer, /health with its 503, the opaque bearer token, the servers and the ttl_seconds maximum', () => {
    const notFound = Object.entries(doc.paths as Record<string, any>).flatMap(([path, item]) =>
      METHODS.filter((method) => item[method]?.responses['404']).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(notFound.sort()).toEqual(
      [
        'GET /admin/users/{app_user_id}',
        'POST /admin/users/{app_user_id}/tokens',
        'POST /admin/users/{app_user_id}/disable',
        'POST /admin/users/{app_user_id}/enable',
        'PUT /admin/users/{app_user_id}/blacklist/{other}',
        'DELETE /admin/users/{app_user_id}/blacklist/{other}',
        'POST /admin/groups',
        'PATCH /admin/groups/{group_id}',
        'POST /admin/groups/{group_id}/members',
        'DELETE /admin/groups/{group_id}/members',
        'DELETE /admin/groups/{group_id}',
        'GET /admin/groups/{group_id}',
        'PUT /admin/groups/{group_id}/roles/{app_user_id}',
        'PUT /admin/groups/{group_id}/mutes/{app_user_id}',
        'GET /admin/users/{app_user_id}/conversations',
        'GET /admin/messages',
        'GET /admin/messages/search',
        'POST /admin/messages/{msg_id}/recall',
        'GET /admin/conversations/{app_user_id}',
        'PUT /media/{key}',
        'GET /media/{key}',
      ].sort(),
    );
    expect(Object.keys(doc.paths['/health'].get.responses)).toEqual(expect.arrayContaining(['200', '503']));
    expect(doc.paths['/health'].get.responses['503'].content['application/json'].example).toMatchObject({ code: 503, status: 'error' });
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer', description: expect.stringMatching(/not a JWT/) });
    expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(doc.components.schemas.IssueTokenBody.properties.ttl_seconds).toMatchObject({ type: 'integer', minimum: 1, maximum: 366 * 24 * 3600 });
  });
});
