import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import type { ReplyBody } from '../realtime/frames';
import { EXPECTED, Schema } from './common';
import { findGenericProblem, nonceProblem } from './generic';
import * as groups from './groups';
import * as lifecycle from './lifecycle';
import * as interactions from './interactions';
import * as messaging from './messaging';
import * as presence from './presence';
import * as realtime from './realtime';
import * as search from './search';
import * as sync from './sync';

export { EXPECTED } from './common';
export * from './generic';
export { FRAME_SCHEMAS, PUSH_FRAME_ACTIONS, REPLY_FRAME_ACTIONS, SYSTEM_MESSAGE_DATA, dataSchemaOf } from './frames';

/**
 * The request contract of the WebSocket protocol: one JSON Schema per client→server action
 * (PROTOCOL §3–§7), the single place requests are validated. The adapter runs `checkRequest` on every
 * frame before its handler; handlers receive only requests that passed. The server→client side is
 * FRAME_SCHEMAS (./frames.ts); the AsyncAPI document (./asyncapi.ts, GET /asyncapi.json,
 * docs/asyncapi.json) is generated from both (docs/ARCHITECTURE.md, "The contract").
 */
export const REQUEST_SCHEMAS: Readonly<Record<string, Schema>> = Object.freeze({
  chat: messaging.chat,
  groupChat: messaging.groupChat,
  ack: messaging.ack,
  history: messaging.history,
  block: messaging.block,
  unblock: messaging.unblock,
  createGroup: groups.createGroup,
  editGroup: groups.editGroup,
  inviteToGroup: groups.inviteToGroup,
  joinGroup: groups.joinGroup,
  removeFromGroup: groups.removeFromGroup,
  setGroupRole: groups.setGroupRole,
  muteMember: groups.muteMember,
  readBy: groups.readBy,
  leaveGroup: groups.leaveGroup,
  dissolveGroup: groups.dissolveGroup,
  groupInfo: groups.groupInfo,
  presence: presence.presence,
  sync: sync.sync,
  conversations: sync.conversations,
  setConversation: sync.setConversation,
  recall: lifecycle.recall,
  edit: lifecycle.edit,
  editHistory: lifecycle.editHistory,
  react: interactions.react,
  typing: interactions.typing,
  clearHistory: interactions.clearHistory,
  ping: realtime.ping,
  auth: realtime.auth,
  search: search.search,
});

/** Actions the adapter answers itself, without a @SubscribeMessage handler. */
export const ADAPTER_ACTIONS: ReadonlySet<string> = new Set(['auth']);

/** Sends whose failures are answered 831 when the (sender, nonce) is already stored (PROTOCOL §4 step 1). */
export const DEDUPED_ACTIONS: ReadonlySet<string> = new Set(['chat', 'groupChat']);

/** ajv, strict: a typo in a schema fails at startup. `x-expected` is an annotation (message text). */
export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: false, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
  ajv.addKeyword({ keyword: EXPECTED, schemaType: 'string' });
  return ajv;
}

const ajv = createAjv();
/** Compiled once, at module load. */
const VALIDATORS: ReadonlyMap<string, ValidateFunction> = new Map(Object.entries(REQUEST_SCHEMAS).map(([action, schema]) => [action, ajv.compile(schema)]));

/** Why a request is refused (always code 400). `stage` tells the caller whether the nonce can be trusted. */
export interface RequestProblem {
  stage: 'nonce' | 'generic' | 'schema';
  msg: string;
}

/**
 * PROTOCOL §3 "Rules for every request", in order: the nonce; strings and nesting anywhere in the frame
 * (iteratively, before anything else recurses into it); then the action's schema. Undefined = valid.
 * An action without a schema is refused: a handler can never be reached unvalidated.
 */
export function checkRequest(action: string, frame: Record<string, unknown>, maxDepth: number): RequestProblem | undefined {
  const nonce = nonceProblem(frame.nonce);
  if (nonce) return { stage: 'nonce', msg: nonce };
  const generic = findGenericProblem(frame, maxDepth);
  if (generic) return { stage: 'generic', msg: generic.msg };
  const validate = VALIDATORS.get(action);
  if (!validate) return { stage: 'schema', msg: `action ${action} has no request schema` };
  if (validate(frame)) return undefined;
  return { stage: 'schema', msg: messageOf(validate.errors ?? []) };
}

/** Whether an action has a schema (every routed action must). */
export function hasRequestSchema(action: string): boolean {
  return VALIDATORS.has(action);
}

/** `/extra/app_user_ids/1` → `extra.app_user_ids[1]`. */
export function dottedPath(instancePath: string): string {
  if (!instancePath) return '';
  let path = '';
  for (const raw of instancePath.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(key)) path += `[${key}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) path += path ? `.${key}` : key;
    else path += `[${JSON.stringify(key)}]`;
  }
  return path;
}

/**
 * The 400 `msg` of the first failure: "<field path> <x-expected of its schema>". A failed anyOf/oneOf
 * (reported after its branches' errors) speaks for itself; `required` names the missing field.
 */
export function messageOf(errors: ErrorObject[]): string {
  if (errors.length === 0) return 'invalid request';
  const last = errors[errors.length - 1];
  const error = last.keyword === 'anyOf' || last.keyword === 'oneOf' || last.keyword === 'not' ? last : errors[0];
  const path = dottedPath(error.instancePath);
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return `${path ? `${path}.` : ''}${missing} is required`;
  }
  const expected = (error.parentSchema as Schema | undefined)?.[EXPECTED] as string | undefined;
  const what = expected ?? error.message ?? 'is invalid';
  return path ? `${path} ${what}` : what;
}

/** The 831 lookup the adapter consults when a deduped send fails validation (provided by messaging). */
export abstract class SendDedupe {
  /** The 831 reply body when (sender, nonce) is already stored, else undefined. */
  abstract duplicateOf(sender: { userId: number; appUserId: string; connectionId?: string }, nonce: string): Promise<ReplyBody | undefined>;
}
