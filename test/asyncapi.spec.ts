import { execFile } from 'child_process';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { FRAME_SCHEMAS, PUSH_FRAME_ACTIONS, REQUEST_SCHEMAS } from '../src/contract';
import { asyncApiJson, buildAsyncApi } from '../src/contract/asyncapi';
import { replyActionOf } from '../src/realtime/frames';

/**
 * The AsyncAPI document generated from src/contract: valid for the official parser (no error
 * diagnostics), complete (a send operation with its reply per request, a receive per push), and the
 * committed docs/asyncapi.json is exactly what the contract generates (`npm run asyncapi:write`).
 */

const root = join(__dirname, '..');
const run = promisify(execFile);

describe('AsyncAPI document (src/contract/asyncapi.ts)', () => {
  const doc = buildAsyncApi() as any;

  it('parses with @asyncapi/parser without errors (warnings are printed)', async () => {
    // the parser is loaded as Node loads it (CommonJS build); errors fail, warnings are shown
    const { Parser, DiagnosticSeverity } = await import('@asyncapi/parser');
    const { document, diagnostics } = await new Parser().parse(asyncApiJson());
    const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning);
    if (warnings.length > 0) console.warn(warnings.map((d) => `${d.code}: ${d.message} at ${JSON.stringify(d.path)}`).join('\n'));
    const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map((d) => `${d.code}: ${d.message} at ${JSON.stringify(d.path)}`);
    expect(errors).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    expect(document?.operations().length).toBe(Object.keys(REQUEST_SCHEMAS).length + PUSH_FRAME_ACTIONS.size);
  });

  it('the CI check (npm run asyncapi:check) passes on the committed file and fails on a broken one', async () => {
    const ok = await run(process.execPath, ['scripts/check-asyncapi.mjs', 'docs/asyncapi.json'], { cwd: root });
    expect(ok.stdout).toMatch(/asyncapi:check ok: .* 0 errors/);
    const dir = mkdtempSync(join(tmpdir(), 'asyncapi-'));
    try {
      const broken = buildAsyncApi() as any;
      broken.operations.sendChat.reply.messages = [{ $ref: '#/components/messages/noSuchMessage' }];
      writeFileSync(join(dir, 'broken.json'), JSON.stringify(broken));
      await expect(run(process.execPath, ['scripts/check-asyncapi.mjs', join(dir, 'broken.json')], { cwd: root })).rejects.toMatchObject({ code: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('docs/asyncapi.json is current (regenerate with npm run asyncapi:write)', () => {
    expect(readFileSync(join(root, 'docs', 'asyncapi.json'), 'utf8')).toBe(asyncApiJson());
  });

  it('has a send operation with its reply per request schema, and a receive operation per push', () => {
    const ops = doc.operations as Record<string, any>;
    for (const action of Object.keys(REQUEST_SCHEMAS)) {
      const op = ops[`send${action[0].toUpperCase()}${action.slice(1)}`];
      expect({ action, op: op?.action }).toEqual({ action, op: 'send' });
      expect(op.messages).toEqual([{ $ref: `#/channels/im/messages/${action}Request` }]);
      expect(op.reply.messages).toEqual([{ $ref: `#/channels/im/messages/${replyActionOf(action)}Frame` }]);
      expect(doc.components.schemas[`${action}Request`].properties.action.const).toBe(action);
    }
    for (const action of PUSH_FRAME_ACTIONS) {
      expect(ops[`receive${action[0].toUpperCase()}${action.slice(1)}`]).toMatchObject({ action: 'receive', messages: [{ $ref: `#/channels/im/messages/${action}Frame` }] });
    }
    // every frame schema is used: as a reply or as a push
    const used = new Set([...Object.keys(REQUEST_SCHEMAS).map(replyActionOf), ...PUSH_FRAME_ACTIONS]);
    expect([...used].sort()).toEqual(Object.keys(FRAME_SCHEMAS).sort());
    expect(Object.keys(ops)).toHaveLength(Object.keys(REQUEST_SCHEMAS).length + PUSH_FRAME_ACTIONS.size);
  });

  it('describes data as a JSON-encoded string with contentMediaType and contentSchema', () => {
    const data = doc.components.schemas.sendResultFrame.properties.data;
    expect(data).toMatchObject({ type: 'string', contentMediaType: 'application/json', contentSchema: { $ref: '#/components/schemas/MessageData' } });
    expect(doc.components.schemas.MessageData.properties.seq.type).toBe('integer');
    expect(doc.components.schemas.systemMessageFrame.properties.data.contentSchema.oneOf).toContainEqual({ $ref: '#/components/schemas/SystemMessage19Data' });
    expect(doc.components.schemas.syncFrame.properties.data.contentSchema).toEqual({ $ref: '#/components/schemas/SystemMessage19Data' });
    expect(doc.channels.im.address).toBe('/');
    expect(buildAsyncApi({ wsPath: '/im' }).channels).toMatchObject({ im: { address: '/im' } });
    expect(doc.info.description).toContain('PROTOCOL.md');
  });
});
