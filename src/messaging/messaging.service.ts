import { Injectable, Logger } from '@nestjs/common';
import { ImCode, ImError } from '../common/im-error';
import { AppConfig } from '../config/app-config';
import { SendDedupe } from '../contract';
import { Db } from '../database/db';
import { MetricsService } from '../metrics/metrics.service';
import { Delivery } from '../realtime/delivery';
import { encodePush, encodeReplyAndPush, ReplyBody } from '../realtime/frames';
import type { ImSocket } from '../realtime/im-ws-adapter';
import { UsersService } from '../users/users.service';
import { BeforeSendHook } from '../webhooks/before-send';
import { SendTarget } from '../webhooks/send-access';
import { groupRefusal, hasRefs, MessageRefs, Mentions, refRequestOf } from './message-refs';
import { SELECT_STORED_MESSAGE, StoredMessageRow } from './stored-message';
import { DirectRow, SendStore, StoreItem } from './send-store';
import { localThumbUrl } from '../media/media-types';
import { groupIdOf, MessageLimits, recipientOf, validateMessage, ValidatedMessage } from './message-rules';

/** Who sends: the user and the connection the request came on (its push is skipped: it gets the reply). */
export interface Sender {
  userId: number;
  appUserId: string;
  connectionId?: string;
}

/** The Sender of a request that came on `socket` (an authenticated one). */
export function senderOf(socket: ImSocket): Sender {
  const connection = socket.connection!;
  return { userId: connection.userId, appUserId: connection.user.appUserId, connectionId: connection.id };
}

interface RecentEntry {
  key: string;
  msgId: number;
  time: number;
  data: string;
}

/** Bounds of the 831 data cache (MessagingService.recentData). */
const RECENT_MAX_ENTRIES = 10_000;
const RECENT_MAX_CHARS = 8_000_000;
/** Bound of MessagingService.unknownOutcome. */
const UNKNOWN_OUTCOME_MAX = 10_000;

const ORIGINAL = `${SELECT_STORED_MESSAGE}
  WHERE m.sender_id = $1 AND m.nonce = $2`;

@Injectable()
export class MessagingService implements SendDedupe {
  private readonly logger = new Logger('MessagingService');
  private readonly limits: MessageLimits;
  /** Sends in flight by `sender:nonce`: a repeat waits for the first and then finds it stored (831). */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** One-to-one conversations being created by a first message, by `low:high` user ids (see firstDirect). */
  private readonly creatingConversation = new Map<string, Promise<void>>();
  /**
   * The exact `data` string of recent sendResults by `sender:nonce`, so an 831 repeats it byte for byte
   * (rebuilt from jsonb, `extra`'s key order could differ). Bounded; a miss rebuilds from the database.
   */
  private readonly recentData = new Map<string, RecentEntry>();
  /**
   * recentData's entries oldest first, read from `recentHead` on: eviction takes the head in O(1).
   * (Deleting a Map's oldest keys leaves holes that every walk from its start steps over again.)
   */
  private recentOrder: RecentEntry[] = [];
  private recentHead = 0;
  private recentChars = 0;
  /**
   * `sender:nonce` of sends answered code 0 after their store statement was sent: the database may
   * have committed it anyway (the reply was lost with the connection). Such a message was never
   * pushed; when a retry here finds it stored (831), the recipients get its push then. Bounded.
   */
  private readonly unknownOutcome = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly sends: SendStore,
    private readonly users: UsersService,
    private readonly delivery: Delivery,
    private readonly metrics: MetricsService,
    private readonly refs: MessageRefs,
    config: AppConfig,
    private readonly beforeSend: BeforeSendHook,
  ) {
    this.limits = {
      maxTextChars: config.MAX_TEXT_CHARS,
      maxExtraBytes: config.MAX_EXTRA_BYTES,
      thumbUrlTemplate: config.THUMB_URL_TEMPLATE,
      // read when used: with PORT=0 the default base is only known once the server listens
      get mediaBaseUrl() {
        return config.mediaBaseUrl;
      },
      localThumbUrl: (url) => (config.S3_BUCKET ? undefined : localThumbUrl(config.mediaBaseUrl, url)),
    };
  }

  /** `chat`: one-to-one message. Returns the sendResult body (200 or 831); throws ImError otherwise. */
  sendDirect(sender: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.oneAtATime(sender.userId, request.nonce as string, async () => this.pushIfNeverPushed(sender, request, await this.storeDirect(sender, request)));
  }

  /** `groupChat`: a message to every member of a group. */
  sendGroup(sender: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.oneAtATime(sender.userId, request.nonce as string, async () => this.pushIfNeverPushed(sender, request, await this.storeGroup(sender, request)));
  }

  /**
   * A retry that found its message stored (831) after this process answered the first try code 0
   * with the outcome unknown: that message was stored but never pushed, so it is pushed now, once.
   */
  private async pushIfNeverPushed(sender: Sender, request: Record<string, unknown>, body: ReplyBody): Promise<ReplyBody> {
    const key = `${sender.userId}:${request.nonce as string}`;
    if (body.code !== ImCode.Duplicate || !this.unknownOutcome.delete(key) || body.msg_id === undefined) return body;
    try {
      const [row] = await this.db.query<{ user_ids: number[] }>(
        `SELECT CASE WHEN c.kind = 2 THEN ARRAY(SELECT user_id FROM conversation_members WHERE conversation_id = c.id)
                     ELSE ARRAY[c.user_low, c.user_high] END AS user_ids
         FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = $1`,
        [body.msg_id],
      );
      const recipients = new Set([...(row?.user_ids ?? []), sender.userId]);
      const push = { data: body.data, time: body.time, user_id: body.user_id, msg_id: body.msg_id, group_id: body.group_id, nonce: request.nonce as string };
      this.delivery.push([...recipients], encodePush(body.group_id === undefined ? 'chat' : 'groupChat', push), { exceptConnectionId: sender.connectionId });
    } catch (error) {
      // the 831 still goes out; recipients find the message through sync and history
      this.logger.warn(`could not push message ${body.msg_id} found stored on retry: ${(error as Error).message}`);
    }
    return body;
  }

  /**
   * Runs sends of one (sender, nonce) one after the other in this process, so a retry racing its
   * original gets 831 without provoking a unique violation. The unique index stays the authority
   * (other nodes, and the error path in `store`).
   */
  private async oneAtATime<T>(senderId: number, nonce: string, work: () => Promise<T>): Promise<T> {
    const key = `${senderId}:${nonce}`;
    const previous = this.inFlight.get(key);
    const run = previous ? previous.then(work) : work();
    const settled = run.catch(() => undefined);
    this.inFlight.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.inFlight.get(key) === settled) this.inFlight.delete(key);
    }
  }

  private async storeDirect(sender: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    const nonce = request.nonce as string;
    let to: string;
    let message: ValidatedMessage;
    try {
      to = recipientOf(request);
      message = validateMessage(request, this.limits);
      const refs = refRequestOf(message.extra, false);
      if (message.type === 6) await this.fillCard(message); // no promise for the other types
      if (hasRefs(refs) && to !== sender.appUserId) await this.refs.resolve(await this.refs.directView(sender.userId, to), refs, message.extra);
    } catch (error) {
      return this.duplicateOr(sender.userId, nonce, error);
    }
    if (to === sender.appUserId) return this.duplicateOr(sender.userId, nonce, ImError.badRequest('app_user_ids: cannot send a message to yourself'));
    if (this.beforeSend.enabled) {
      const reviewed = await this.reviewed(sender, nonce, { to_app_user_id: to }, message, async (extra) => {
        const refs = refRequestOf(extra, false, true);
        if (hasRefs(refs)) await this.refs.resolve(await this.refs.directView(sender.userId, to), refs, extra);
        return undefined;
      });
      if (reviewed.reply) return reviewed.reply;
      message = reviewed.message!;
    }

    const now = Date.now();
    const item: StoreItem<string> = { senderId: sender.userId, target: to, time: now, nonce, type: message.type, content: message.content, extra: JSON.stringify(message.extra) };
    let row = await this.stored(item, () => this.sends.storeDirect(item));
    if (row.duplicate) return this.duplicateOr(sender.userId, nonce);
    if (row.msg_id === null && row.recipient_id !== null && row.recipient_id !== sender.userId && !row.blocked) {
      // First message between these two: create the conversation and its members with the message.
      row = await this.firstDirect(item, row.recipient_id);
      if (row.duplicate) return this.duplicateOr(sender.userId, nonce);
    }
    if (row.msg_id === null || row.seq === null) {
      if (row.recipient_id === null) return this.duplicateOr(sender.userId, nonce, ImError.notFound(`no such user: ${to}`));
      if (row.blocked) return this.duplicateOr(sender.userId, nonce, new ImError(ImCode.Blacklisted, 'the recipient has blacklisted you'));
      throw new Error('message not stored');
    }
    this.metrics.messagesStored.chat.inc();
    const data = messageData(message, row, { to_app_user_id: to }, row.seq);
    const body: ReplyBody = { data, time: now, user_id: sender.userId, msg_id: row.msg_id };
    this.remember(sender.userId, nonce, row.msg_id, now, data);
    const { reply, push } = encodeReplyAndPush('chat', nonce, body);
    this.delivery.push([row.recipient_id!, sender.userId], push, { exceptConnectionId: sender.connectionId });
    body.encoded = reply;
    return body;
  }

  private async storeGroup(sender: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    const nonce = request.nonce as string;
    let groupId: number;
    let message: ValidatedMessage;
    let mentions: Mentions | undefined;
    try {
      // A well-formed group_id too large to exist is a 404, which comes after every 400 (§4 step 2 then 3).
      let missing: ImError | undefined;
      try {
        groupId = groupIdOf(request);
      } catch (error) {
        if (!(error instanceof ImError) || error.code !== ImCode.NotFound) throw error;
        missing = error;
        groupId = 0;
      }
      message = validateMessage(request, this.limits);
      const refs = refRequestOf(message.extra, true);
      if (missing) throw missing;
      if (message.type === 6) await this.fillCard(message); // no promise for the other types
      if (hasRefs(refs)) mentions = await this.refs.resolve(await this.refs.groupView(sender.userId, groupId, Date.now()), refs, message.extra);
    } catch (error) {
      return this.duplicateOr(sender.userId, nonce, error);
    }
    if (this.beforeSend.enabled) {
      const reviewed = await this.reviewed(sender, nonce, { group_id: groupId }, message, async (extra) => {
        const refs = refRequestOf(extra, true, true);
        return hasRefs(refs) ? this.refs.resolve(await this.refs.groupView(sender.userId, groupId, Date.now()), refs, extra) : undefined;
      });
      if (reviewed.reply) return reviewed.reply;
      if (reviewed.message !== message) mentions = reviewed.mentions;
      message = reviewed.message!;
    }
    const now = Date.now();
    const item: StoreItem<number> = {
      senderId: sender.userId,
      target: groupId,
      time: now,
      nonce,
      type: message.type,
      content: message.content,
      extra: JSON.stringify(message.extra),
      mentionIds: mentions?.mentionIds,
      mentionAll: mentions?.mentionAll,
    };
    const row = await this.stored(item, () => this.sends.storeGroup(item));
    if (row.duplicate) return this.duplicateOr(sender.userId, nonce);
    if (row.msg_id === null || row.seq === null) {
      const error = groupRefusal(row.found ? row : undefined, sender.userId, groupId, now);
      if (!error) throw new Error('group message not stored');
      return this.duplicateOr(sender.userId, nonce, error);
    }
    this.metrics.messagesStored.group.inc();
    const group = String(groupId);
    const data = messageData(message, row, { group_id: group }, row.seq);
    const body: ReplyBody = { data, time: now, user_id: sender.userId, msg_id: row.msg_id, group_id: group };
    this.remember(sender.userId, nonce, row.msg_id, now, data);
    const recipients = row.member_ids ?? [];
    const { reply, push } = encodeReplyAndPush('groupChat', nonce, body);
    this.delivery.push(recipients.includes(sender.userId) ? recipients : [...recipients, sender.userId], push, { exceptConnectionId: sender.connectionId });
    body.encoded = reply;
    return body;
  }

  /**
   * Runs a store (SendStore) and returns its row. When it throws, code 0 follows, but the statement
   * may have committed (the connection died before its reply): a retry with this nonce answers 831
   * with it (dedupe first), and pushes it then (pushIfNeverPushed).
   */
  /**
   * The first messages between two users: one send creates the conversation in a transaction; the
   * sends racing it wait for that and then store the usual way (the batched statement). Each racing
   * send running its own transaction would hold a pool connection while it waits on the first one's
   * locks: a burst of first messages then starved the pool (code 0 after the connect timeout).
   */
  private async firstDirect(item: StoreItem<string>, recipientId: number): Promise<DirectRow> {
    const pair = `${Math.min(item.senderId, recipientId)}:${Math.max(item.senderId, recipientId)}`;
    const creating = this.creatingConversation.get(pair);
    if (creating) {
      await creating;
      const row = await this.stored(item, () => this.sends.storeDirect(item));
      // stored, refused, or a duplicate; a conversation still missing means the creator failed: create it here
      if (row.duplicate || row.msg_id !== null || row.recipient_id === null || row.blocked) return row;
    }
    const run = this.stored(item, () => this.sends.storeFirstDirect(item, recipientId));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.creatingConversation.set(pair, settled);
    try {
      return await run;
    } finally {
      if (this.creatingConversation.get(pair) === settled) this.creatingConversation.delete(pair);
    }
  }

  private async stored<R>(item: StoreItem<unknown>, store: () => Promise<R>): Promise<R> {
    try {
      return await store();
    } catch (error) {
      this.noteUnknownOutcome(`${item.senderId}:${item.nonce}`);
      throw error;
    }
  }

  private noteUnknownOutcome(key: string): void {
    this.unknownOutcome.delete(key);
    this.unknownOutcome.add(key);
    if (this.unknownOutcome.size > UNKNOWN_OUTCOME_MAX) this.unknownOutcome.delete(this.unknownOutcome.values().next().value!);
  }

  /**
   * The 831 reply for an already stored (sender, nonce), else undefined. Used by the WebSocket adapter
   * when a chat/groupChat fails its request schema: dedupe comes first (PROTOCOL §4 step 1). Waits for a
   * send of the same (sender, nonce) still in flight in this process, and pushes a message whose first
   * try ended with an unknown outcome, as a valid retry would.
   */
  duplicateOf(sender: Sender, nonce: string): Promise<ReplyBody | undefined> {
    return this.oneAtATime(sender.userId, nonce, async () => {
      const duplicate = await this.findDuplicate(sender.userId, nonce);
      return duplicate && this.pushIfNeverPushed(sender, { nonce }, duplicate);
    });
  }

  /** Dedupe comes first: an already stored (sender, nonce) answers 831 with the original; else `error`. */
  private async duplicateOr(senderId: number, nonce: string, error?: unknown): Promise<ReplyBody> {
    const duplicate = await this.findDuplicate(senderId, nonce);
    if (!duplicate) {
      if (error) throw error;
      throw new Error(`duplicate nonce ${nonce} but no original found`);
    }
    return duplicate;
  }

  private async findDuplicate(senderId: number, nonce: string): Promise<ReplyBody | undefined> {
    const [original] = await this.db.query<StoredMessageRow>(ORIGINAL, [senderId, nonce]);
    if (!original) return undefined;
    const target = original.kind === 2 ? { group_id: String(original.conversation_id) } : { to_app_user_id: original.to_app_user_id ?? '' };
    const recent = this.recentData.get(`${senderId}:${nonce}`);
    const data =
      recent && recent.msgId === original.id && recent.time === original.created_at ? recent.data : messageData(original, original, target, original.seq);
    return {
      code: ImCode.Duplicate,
      msg: 'duplicate nonce: this message was already sent',
      data,
      time: original.created_at,
      user_id: senderId,
      msg_id: original.id,
      group_id: target.group_id,
    };
  }

  /** Keeps the sendResult `data` of a stored message for a later 831 (oldest dropped first). */
  private remember(senderId: number, nonce: string, msgId: number, time: number, data: string): void {
    const key = `${senderId}:${nonce}`;
    this.unknownOutcome.delete(key); // stored and pushed by this try
    const previous = this.recentData.get(key);
    if (previous) this.recentChars -= previous.data.length; // its slot in recentOrder is skipped when reached
    const entry: RecentEntry = { key, msgId, time, data };
    this.recentData.set(key, entry);
    this.recentOrder.push(entry);
    this.recentChars += data.length;
    while (this.recentData.size > RECENT_MAX_ENTRIES || this.recentChars > RECENT_MAX_CHARS) {
      const old = this.recentOrder[this.recentHead++];
      if (this.recentData.get(old.key) !== old) continue; // replaced by a later entry of the same key
      this.recentData.delete(old.key);
      this.recentChars -= old.data.length;
    }
    if (this.recentHead > 1024 && this.recentHead * 2 > this.recentOrder.length) {
      this.recentOrder = this.recentOrder.slice(this.recentHead);
      this.recentHead = 0;
    }
  }

  /**
   * Send step 3's before-send webhook (only when configured): the message to store, or the reply
   * (831 for a stored nonce, else the refusal: 404/811/403, 812, 400 for an invalid replacement).
   */
  /**
   * The before-send webhook's verdict. A replacement is checked like a send: its card is filled, and
   * its `reply_to` / mentions are resolved again by `resolveRefs` (a quote object the hook handed back
   * is re-read from its msg_id), so what is stored and counted is what the replacement says.
   */
  private async reviewed(
    sender: Sender,
    nonce: string,
    target: SendTarget,
    message: ValidatedMessage,
    resolveRefs: (extra: Record<string, unknown>) => Promise<Mentions | undefined>,
  ): Promise<{ message?: ValidatedMessage; mentions?: Mentions; reply?: ReplyBody }> {
    try {
      const result = await this.beforeSend.review(sender.userId, nonce, target, message, this.limits);
      if (result === message) return { message };
      await this.fillCard(result);
      return { message: result, mentions: await resolveRefs(result.extra) };
    } catch (error) {
      return { reply: await this.duplicateOr(sender.userId, nonce, error) };
    }
  }

  /** Type 6: the card's person must exist; their nickname and head are filled in. */
  private async fillCard(message: ValidatedMessage): Promise<void> {
    if (message.type !== 6) return;
    const person = await this.users.profile(message.extra.app_user_id as string);
    message.extra.nickname = person.nickname;
    message.extra.head = person.head;
  }

}

/** `data` of a message push, sendResult and 831 (PROTOCOL §4 step 6), serialized once. */
function messageData(
  message: { type: number; content: string; extra: Record<string, unknown> },
  sender: { app_user_id: string; nickname: string; head: string },
  target: { to_app_user_id: string } | { group_id: string },
  seq: number,
): string {
  return JSON.stringify({
    type: message.type,
    content: message.content,
    extra: message.extra,
    app_user_id: sender.app_user_id,
    nickname: sender.nickname,
    head: sender.head,
    ...target,
    seq,
  });
}
