import { replyActionOf } from '../realtime/frames';
import { Schema } from './common';
import { ACK_DATA, FRAME_SCHEMAS, GROUP_DATA, HISTORY_DATA, MESSAGE_DATA, PRESENCE_DATA, PUSH_FRAME_ACTIONS, SYSTEM_MESSAGE_DATA } from './frames';
import { REQUEST_SCHEMAS } from './index';

/**
 * The AsyncAPI 3.0.0 document of the WebSocket protocol, generated from the contract: REQUEST_SCHEMAS
 * (what the server validates every request with) and FRAME_SCHEMAS (what it sends). Served at
 * GET /asyncapi.json, written to docs/asyncapi.json by `npm run asyncapi:write`, checked with
 * @asyncapi/parser by `npm run asyncapi:check` and the jest suite.
 *
 * Written from the client's point of view: a `send` operation per request (with its reply as an
 * AsyncAPI 3 `reply`), a `receive` operation per push.
 */

/** info.version: PROTOCOL.md version 2, the parts the server implements today. */
export const ASYNCAPI_INFO_VERSION = '2.0.0-partial';
export const CHANNEL = 'im';

export interface AsyncApiOptions {
  /** The WebSocket path (WS_PATH). */
  wsPath?: string;
  /** host[:port] of the server entry. */
  host?: string;
}

const DESCRIPTION = `The WebSocket protocol of the IM server, generated from the JSON Schemas in src/contract
(the same schemas the server validates every request with). The contract in prose is
[docs/PROTOCOL.md](PROTOCOL.md) in the server's repository (this document is committed next to it as
\`docs/asyncapi.json\` and served at \`GET /asyncapi.json\`); where the two differ, PROTOCOL.md decides
and this document is a bug.

Every frame is one JSON object in one text frame. Server→client frames share one envelope
(\`code\`, \`msg\`, \`action\`, \`data\`, \`nonce\`, \`time\`, \`user_id\`, \`msg_id\`, \`group_id\`, \`result\`);
\`data\` is a JSON-encoded string, described by \`contentMediaType: application/json\` + \`contentSchema\`
(the decoded object). Each request gets exactly one reply carrying its nonce; the reply action is the
request's except chat/groupChat → sendResult, ack → ackResult, ping → pong.

Written from the client's point of view: \`send\` operations are requests (each with its \`reply\`),
\`receive\` operations are pushes.

Only what the server does today. PROTOCOL v2 features not built yet — recall, edit, reactions,
typing, setGroupRole, muteMember, readBy, conversations, setConversation, clearHistory, search, media
uploads, webhooks — are left out until their issues land (each such change updates the schemas in
src/contract, this document, and the client SDK in the same change).`;

/** `$id` is the ajv cache key of a schema; in the document the component name identifies it. */
function stripIds(schema: Schema): Schema {
  const { $id: _id, ...rest } = schema;
  return rest;
}

/** Decoded `data` schemas shared by several frames: components/schemas entries, referenced by $ref. */
function sharedDataSchemas(): Map<Schema, string> {
  const shared = new Map<Schema, string>([
    [MESSAGE_DATA, 'MessageData'],
    [ACK_DATA, 'AckData'],
    [HISTORY_DATA, 'HistoryData'],
    [GROUP_DATA, 'GroupData'],
    [PRESENCE_DATA, 'PresenceData'],
  ]);
  for (const [type, schema] of Object.entries(SYSTEM_MESSAGE_DATA)) shared.set(schema, `SystemMessage${type}Data`);
  return shared;
}

/** A copy of `value` where every shared schema (but the root itself) is replaced by its $ref. */
function withRefs(value: unknown, shared: Map<Schema, string>, root = true): unknown {
  if (Array.isArray(value)) return value.map((item) => withRefs(item, shared, false));
  if (value === null || typeof value !== 'object') return value;
  const name = shared.get(value as Schema);
  if (name !== undefined && !root) return { $ref: `#/components/schemas/${name}` };
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, withRefs(child, shared, false)]));
}

const upper = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);
const requestMessage = (action: string) => `${action}Request`;
const frameMessage = (action: string) => `${action}Frame`;
const channelMessage = (name: string) => ({ $ref: `#/channels/${CHANNEL}/messages/${name}` });

export function buildAsyncApi(options: AsyncApiOptions = {}): Record<string, unknown> {
  const wsPath = options.wsPath ?? '/';
  const schemas: Record<string, Schema> = {};
  const messages: Record<string, unknown> = {};
  const channelMessages: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const shared = sharedDataSchemas();

  for (const [action, schema] of Object.entries(REQUEST_SCHEMAS)) {
    const name = requestMessage(action);
    schemas[name] = stripIds(schema);
    messages[name] = {
      name,
      title: `${action} request`,
      summary: schema.description,
      contentType: 'application/json',
      payload: { $ref: `#/components/schemas/${name}` },
    };
  }
  for (const [schema, name] of shared) schemas[name] = withRefs(schema, shared) as Schema;
  for (const [action, schema] of Object.entries(FRAME_SCHEMAS)) {
    const name = frameMessage(action);
    schemas[name] = withRefs(stripIds(schema), shared) as Schema;
    messages[name] = {
      name,
      title: `${action} frame`,
      summary: schema.description,
      contentType: 'application/json',
      payload: { $ref: `#/components/schemas/${name}` },
    };
  }
  for (const name of Object.keys(messages)) channelMessages[name] = { $ref: `#/components/messages/${name}` };

  for (const [action, schema] of Object.entries(REQUEST_SCHEMAS)) {
    const reply = replyActionOf(action);
    if (!FRAME_SCHEMAS[reply]) throw new Error(`request ${action}: no frame schema for its reply ${reply}`);
    operations[`send${upper(action)}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${CHANNEL}` },
      title: action,
      summary: schema.description,
      description:
        action === 'auth'
          ? 'In-band authentication: the first frame of a socket opened without a token, within 10 s (PROTOCOL §2). Any other request before it is answered 401.'
          : `Reply action \`${reply}\`, carrying the request's nonce; a failure carries code, msg, action and nonce, and no data.`,
      messages: [channelMessage(requestMessage(action))],
      reply: { channel: { $ref: `#/channels/${CHANNEL}` }, messages: [channelMessage(frameMessage(reply))] },
    };
  }
  for (const action of PUSH_FRAME_ACTIONS) {
    operations[`receive${upper(action)}`] = {
      action: 'receive',
      channel: { $ref: `#/channels/${CHANNEL}` },
      title: `${action} push`,
      summary: FRAME_SCHEMAS[action].description,
      messages: [channelMessage(frameMessage(action))],
    };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'IM server WebSocket protocol',
      version: ASYNCAPI_INFO_VERSION,
      description: DESCRIPTION,
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      default: {
        host: options.host ?? 'localhost:3000',
        protocol: 'ws',
        description:
          'The server (REST and WebSocket share the port). Authenticate on the upgrade with the token query parameter or an Authorization bearer header (bad token: HTTP 401, no socket), or upgrade with neither and send the in-band `auth` request first (see the sendAuth operation).',
        security: [{ $ref: '#/components/securitySchemes/queryToken' }, { $ref: '#/components/securitySchemes/bearerToken' }],
      },
    },
    channels: {
      [CHANNEL]: {
        address: wsPath,
        title: 'WebSocket endpoint',
        description: `The one WebSocket endpoint (path WS_PATH, default "/"). Frames above MAX_FRAME_BYTES (64 KiB) close the connection with 1009; the server pings every 30 s. Close codes: 4401 token expired / user disabled / auth failed, 4409 too many connections of this user, 1013 slow reader, 1012 server restart. Right after authentication the server pushes the sync frame (systemMessage type 19), then the system messages not yet received.`,
        servers: [{ $ref: '#/servers/default' }],
        messages: channelMessages,
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: { token: { type: 'string', description: 'a client token (POST /admin/users/{app_user_id}/tokens); optional: without it, send `auth` first' } },
            },
            headers: {
              type: 'object',
              properties: {
                Authorization: { type: 'string', pattern: '^Bearer .+$', description: 'Bearer <client token>, instead of the token query parameter' },
                Origin: { type: 'string', description: 'checked against ALLOWED_ORIGINS when set (403 otherwise)' },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations,
    components: {
      schemas,
      messages,
      securitySchemes: {
        queryToken: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: 'Client token in the upgrade URL (/?token=…). Alternatives: the bearer header, or in-band `auth` (the first frame of a socket opened without a token; for browsers).',
        },
        bearerToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'Client token in the Authorization header of the upgrade. Alternatives: the token query parameter, or in-band `auth`.',
        },
      },
    },
  };
}

/** The committed docs/asyncapi.json: the document with the default options, 2-space JSON, final newline. */
export function asyncApiJson(options: AsyncApiOptions = {}): string {
  return `${JSON.stringify(buildAsyncApi(options), null, 2)}\n`;
}
