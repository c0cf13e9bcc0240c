import { readdirSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { ADAPTER_ACTIONS, checkRequest, createAjv, dataSchemaOf, EXPECTED, findGenericProblem, FRAME_SCHEMAS, PUSH_FRAME_ACTIONS, REQUEST_SCHEMAS } from '../src/contract';
import { replyActionOf } from '../src/realtime/frames';

/** The request schemas themselves: complete, descriptive, and the generic walk's limits. */

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every leaf schema under `properties`, with its dotted path. */
function leaves(schema: Record<string, any>, path = ''): Array<[string, Record<string, any>]> {
  const result: Array<[string, Record<string, any>]> = [];
  for (const [key, child] of Object.entries<Record<string, any>>(schema.properties ?? {})) {
    const childPath = path ? `${path}.${key}` : key;
    result.push([childPath, child]);
    result.push(...leaves(child, childPath));
    if (child.items) result.push([`${childPath}[]`, child.items]);
  }
  return result;
}

describe('request contract (src/contract)', () => {
  it('has a schema for every @SubscribeMessage action and the adapter\'s own (auth), and nothing else', () => {
    const routed = new Set<string>();
    for (const file of sourceFiles(join(__dirname, '..', 'src'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/@SubscribeMessage\('([^']+)'\)/g)) routed.add(match[1]);
    }
    expect([...routed, ...ADAPTER_ACTIONS].sort()).toEqual(Object.keys(REQUEST_SCHEMAS).sort());
  });

  it('has a frame schema for the reply of every request, and for the pushes (chat, groupChat, ack, reaction, typing, systemMessage, error)', () => {
    const replies = new Set(Object.keys(REQUEST_SCHEMAS).map(replyActionOf));
    expect([...PUSH_FRAME_ACTIONS].sort()).toEqual(['ack', 'chat', 'error', 'groupChat', 'reaction', 'systemMessage', 'typing']);
    expect([...new Set([...replies, ...PUSH_FRAME_ACTIONS])].sort()).toEqual(Object.keys(FRAME_SCHEMAS).sort());
  });

  it('compiles every frame schema and its decoded data schema in ajv strict mode', () => {
    const ajv = createAjv();
    for (const [action, schema] of Object.entries(FRAME_SCHEMAS)) {
      expect(() => ajv.compile(schema)).not.toThrow();
      const data = dataSchemaOf(action);
      if (data) expect(() => ajv.compile(data)).not.toThrow();
    }
  });

  it('compiles every schema in ajv strict mode', () => {
    const ajv = createAjv();
    for (const schema of Object.values(REQUEST_SCHEMAS)) expect(() => ajv.compile(schema)).not.toThrow();
  });

  it('describes every field: description, a type, and the message text of a failure', () => {
    for (const [action, schema] of Object.entries(REQUEST_SCHEMAS)) {
      expect({ action, description: typeof schema.description }).toEqual({ action, description: 'string' });
      expect({ action, required: (schema.required as string[]).slice(0, 2) }).toEqual({ action, required: ['action', 'nonce'] });
      expect({ action, additional: schema.additionalProperties }).toEqual({ action, additional: true });
      for (const [path, leaf] of leaves(schema)) {
        const where = `${action} ${path}`;
        expect({ where, description: typeof leaf.description }).toEqual({ where, description: 'string' });
        expect({ where, expected: typeof leaf[EXPECTED] }).toEqual({ where, expected: 'string' });
        if (path !== 'action') expect({ where, typed: leaf.type !== undefined }).toEqual({ where, typed: true });
      }
    }
  });

  it('PROTOCOL v2 §5: joinGroup takes extra.invite_code (a string; 403 decided by the service), editGroup extra.reset_invite_code (1)', () => {
    const ok = (action: string, extra: Record<string, unknown>) => checkRequest(action, { action, nonce: 'n', extra }, 16);
    expect(ok('joinGroup', { group_id: '3', invite_code: 'Zx3_k9Qw-2LmP0aB' })).toBeUndefined();
    // absent, null or wrong: the groups service's 403; another JSON type: 400
    expect(ok('joinGroup', { group_id: '3' })).toBeUndefined();
    expect(ok('joinGroup', { group_id: '3', invite_code: null })).toBeUndefined();
    expect(ok('joinGroup', { group_id: '3', invite_code: 'short' })).toBeUndefined();
    expect(ok('joinGroup', { group_id: '3', invite_code: 1234567890123456 })?.msg).toBe('extra.invite_code must be a string (or null)');
    expect(ok('editGroup', { group_id: '3', reset_invite_code: 1 })).toBeUndefined();
    expect(ok('editGroup', { group_id: '3', reset_invite_code: 2 })?.msg).toBe('extra.reset_invite_code must be 1 (or null)');
  });

  it('names the field in every schema failure', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['leaveGroup', { extra: { group_id: 20 } }, 'extra.group_id must be a string of digits'],
      ['leaveGroup', {}, 'extra.group_id is required (a string of digits)'],
      ['chat', { app_user_ids: ['bob'], type: 1 }, 'app_user_ids must be a string: an app_user_id (1-64 characters of [A-Za-z0-9_.@-])'],
      ['chat', { app_user_ids: 'bob' }, 'type is required'],
      ['createGroup', { extra: { group_name: 'G', app_user_ids: ['ok', 7] } }, 'extra.app_user_ids[1] must be a string: an app_user_id (1-64 characters of [A-Za-z0-9_.@-])'],
      ['history', { app_user_ids: 'bob', before_seq: 1, after_seq: 2 }, 'before_seq and after_seq cannot be used together'],
      ['ack', { msg_id: 1, status: 2, app_user_ids: 'bob', group_id: '3' }, 'app_user_ids or group_id is required (exactly one of them)'],
      ['presence', { app_user_ids: [] }, 'app_user_ids must be an array of 1 to 200 app_user_id strings'],
    ];
    for (const [action, fields, msg] of cases) expect(checkRequest(action, { action, nonce: 'n', ...fields }, 16)?.msg).toBe(msg);
    expect(checkRequest('noSuchAction', { action: 'noSuchAction', nonce: 'n' }, 16)?.msg).toMatch(/no request schema/);
  });

  it('walks a value nested 200,000 deep without recursion', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(findGenericProblem({ deep }, 16)?.msg).toMatch(/^deep(\[0\])+ is nested deeper than 16 levels/);
    expect(findGenericProblem({ deep }, 300_000)).toBeUndefined();
    const wide = { list: Array.from({ length: 100_000 }, (_, i) => ({ i, s: 'ok' })) };
    expect(findGenericProblem(wide, 16)).toBeUndefined();
  });

  it('finds NUL and unpaired surrogates in values and keys, and accepts paired ones', () => {
    expect(findGenericProblem({ s: '😀 字 \ud83d\ude00' }, 16)).toBeUndefined();
    expect(findGenericProblem({ s: 'a\ud83d' }, 16)?.path).toBe('s');
    expect(findGenericProblem({ s: '\ude00a' }, 16)?.path).toBe('s');
    expect(findGenericProblem({ a: [{ 'b c': ['\u0000'] }] }, 16)?.path).toBe('a[0]["b c"][0]');
    expect(findGenericProblem({ ['k\u0000']: 1 }, 16)?.msg).toBe('frame has a key containing a NUL character (U+0000) or an unpaired UTF-16 surrogate');
    expect(findGenericProblem({ ['k\u0000']: 1 }, 16, 'body')?.msg).toMatch(/^body has a key/);
  });
});
