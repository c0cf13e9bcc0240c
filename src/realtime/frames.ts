import { ImCode } from '../common/im-error';

/** What a handler returns: the reply's fields beyond action and nonce, which the adapter fills in. */
export interface ReplyBody {
  code?: number;
  msg?: string;
  /** An object (encoded to the JSON string clients expect) or an already encoded string. */
  data?: unknown;
  time?: number;
  user_id?: number;
  msg_id?: number;
  group_id?: string;
  result?: string;
  /** The whole reply frame, already encoded (encodeReplyAndPush): the adapter writes it as it is. */
  encoded?: string;
}

/** The one server→client envelope (PROTOCOL §3), in a stable key order. */
export interface Frame {
  code: number;
  msg: string;
  action: string;
  result?: string;
  data?: string;
  nonce?: string;
  time?: number;
  user_id?: number;
  msg_id?: number;
  group_id?: string;
}

const REPLY_ACTIONS: Record<string, string> = { chat: 'sendResult', groupChat: 'sendResult', ack: 'ackResult', ping: 'pong', typing: 'typingResult' };

/** A request's reply action: sendResult/ackResult/pong where the name is also used for pushes. */
export function replyActionOf(action: string): string {
  return REPLY_ACTIONS[action] ?? action;
}

export function encodeData(data: unknown): string | undefined {
  if (data === undefined) return undefined;
  return typeof data === 'string' ? data : JSON.stringify(data);
}

const msgOf = (code: number, body: ReplyBody) => body.msg ?? (code === ImCode.Ok ? 'OK' : 'error');

export function buildFrame(action: string, nonce: string | undefined, body: ReplyBody = {}): Frame {
  const code = body.code ?? ImCode.Ok;
  const frame: Frame = { code, msg: msgOf(code, body), action } as Frame;
  if (body.result !== undefined) frame.result = body.result;
  const data = encodeData(body.data);
  if (data !== undefined) frame.data = data;
  if (nonce !== undefined) frame.nonce = nonce;
  // failures carry code, msg, action, nonce (PROTOCOL §4 step 5, §3): no time
  if (body.time !== undefined || code === ImCode.Ok || code === ImCode.Duplicate) frame.time = body.time ?? Date.now();
  if (body.user_id !== undefined) frame.user_id = body.user_id;
  if (body.msg_id !== undefined) frame.msg_id = body.msg_id;
  if (body.group_id !== undefined) frame.group_id = body.group_id;
  return frame;
}

/** The reply to a request, as the JSON text written to the socket. */
export function encodeReply(requestAction: string, nonce: string | undefined, body: ReplyBody = {}): string {
  return JSON.stringify(buildFrame(replyActionOf(requestAction), nonce, body));
}

/** A push (a frame not answering a request), as JSON text: serialize once, write to every socket. */
export function encodePush(action: string, body: ReplyBody & { nonce?: string }): string {
  return JSON.stringify(buildFrame(action, body.nonce, body));
}

/**
 * A sent message's reply and its push: the same fields, the push under the request's own action (chat
 * or groupChat) and the reply under sendResult, so the frame is encoded once and the reply differs only
 * in the action at its start. Escaping `data` (the message's JSON as a string) is most of the work:
 * encoding both separately cost 7.7 µs per message, this 1.9 µs.
 */
export function encodeReplyAndPush(action: string, nonce: string, body: ReplyBody): { reply: string; push: string } {
  const push = encodePush(action, { ...body, nonce });
  const code = body.code ?? ImCode.Ok;
  const head = (frameAction: string) => `{"code":${code},"msg":${JSON.stringify(msgOf(code, body))},"action":${JSON.stringify(frameAction)}`;
  const pushHead = head(action);
  const reply = push.startsWith(pushHead) ? head(replyActionOf(action)) + push.slice(pushHead.length) : encodeReply(action, nonce, body);
  return { reply, push };
}

/** An `error` frame for a request that could not be routed (PROTOCOL §3). */
export function encodeError(code: number, msg: string, nonce?: string): string {
  return JSON.stringify(buildFrame('error', nonce, { code, msg }));
}
