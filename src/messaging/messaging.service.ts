import { Injectable, Logger } from '@nestjs/common';
import { ImCode, ImError } from '../common/im-error';
import { AppConfig } from '../config/app-config';
import { SendDedupe } from '../contract';
import { Db, Queryable } from '../database/db';
import { WriteBatcher } from '../database/write-batcher';
import { MetricsService } from '../metrics/metrics.service';
import { Delivery } from '../realtime/delivery';
import { encodePush, ReplyBody } from '../realtime/frames';
import { UsersService } from '../users/users.service';
import { groupIdOf, MessageLimits, recipientOf, validateMessage, ValidatedMessage } from './message-rules';
import { ReadByService } from './read-by.service';

/** Who sends: the user and the connection the request came on (its push is skipped: it gets the reply). */
export interface Sender {
  userId: number;
  appUserId: string;
  connectionId?: string;
}

/** One message as `history` lists it (PROTOCOL §4 History). */
export interface HistoryMessage {
  msg_id: number;
  seq: number;
  time: number;
  user_id: number;
  type: number;
  content: string;
  extra: Record<string, unknown>;
  app_user_id: string;
  nickname: string;
  head: string;
  to_app_user_id?: string;
  group_id?: string;
  /** issue 12: on the reader's own group messages, the members (not the sender) whose read position reached it. */
  read_count?: number;
}

export interface HistoryPage {
  messages: HistoryMessage[];
  has_more: boolean;
}

export interface HistoryQuery {
  /** The reader; undefined only for the admin reading a whole group. */
  userId?: number;
  peerAppUserId?: string;
  groupId?: number;
  beforeSeq?: number;
  afterSeq?: number;
  limit: number;
}

interface StoredRow {
  msg_id: number | null;
  seq: number | null;
  app_user_id: string;
  nickname: string;
  head: string;
}

interface DirectRow extends StoredRow {
  recipient_id: number | null;
  blocked: boolean | null;
}

interface GroupRow extends StoredRow {
  found: boolean;
  dissolved: boolean | null;
  member: boolean | null;
  banned_to_post: number | null;
  owner_id: number | null;
  /** issue 12 (roles and mutes): the sender's membership role (1 admin) and mute end (ms). */
  role: number | null;
  muted_until: number | null;
  member_ids: number[] | null;
}

interface OriginalRow {
  id: number;
  seq: number;
  type: number;
  content: string;
  extra: Record<string, unknown>;
  created_at: number;
  kind: number;
  conversation_id: number;
  app_user_id: string;
  nickname: string;
  head: string;
  to_app_user_id: string | null;
}

const UNIQUE_VIOLATION = '23505';
/** Bounds of the 831 data cache (MessagingService.recentData). */
const RECENT_MAX_ENTRIES = 10_000;
const RECENT_MAX_CHARS = 8_000_000;
/** Bound of MessagingService.unknownOutcome. */
const UNKNOWN_OUTCOME_MAX = 10_000;
const SENDER_NONCE_CONSTRAINT = 'messages_sender_nonce';

/** The message row, the seq/msg_id bump of its conversation and the sender's read position: one statement. */
const STORE_TAIL = `
  m AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at)
    SELECT c.last_msg_id, c.id, c.last_seq, $1, $4, $5, $6, $7::jsonb, $3 FROM c
    RETURNING id, seq, conversation_id
  ),
  rs AS (
    UPDATE conversation_members cm SET read_seq = GREATEST(cm.read_seq, m.seq) FROM m
    WHERE cm.conversation_id = m.conversation_id AND cm.user_id = $1
  )`;

const STORE_DIRECT = `
  WITH r AS (
    SELECT u.id, EXISTS (SELECT 1 FROM blacklist b WHERE b.user_id = u.id AND b.blocked_user_id = $1) AS blocked
    FROM users u WHERE u.app_user_id = $2
  ),
  c AS (
    UPDATE conversations SET last_seq = last_seq + 1, last_msg_id = nextval('msg_id_seq'), last_time = $3
    FROM r
    WHERE NOT r.blocked AND r.id <> $1 AND conversations.user_low = LEAST($1::int, r.id) AND conversations.user_high = GREATEST($1::int, r.id)
      AND conversations.kind = 1
    RETURNING conversations.id, conversations.last_seq, conversations.last_msg_id
  ),${STORE_TAIL}
  SELECT r.id AS recipient_id, r.blocked, m.id AS msg_id, m.seq, s.app_user_id, s.nickname, s.head
  FROM users s LEFT JOIN r ON true LEFT JOIN m ON true WHERE s.id = $1`;

/*
 * issue 12 (roles and mutes): the sender's membership row is joined once (instead of EXISTS) to read its
 * role and muted_until; a muted sender (muted_until > $3, the send time: a mute ends by time) never
 * stores, and admins (role 1) post while banned_to_post like the owner. No extra round trip.
 */
const STORE_GROUP = `
  WITH g AS (
    SELECT g.owner_id, g.banned_to_post, g.dissolved_at IS NOT NULL AS dissolved,
           cm.user_id IS NOT NULL AS member, cm.role, cm.muted_until
    FROM groups g LEFT JOIN conversation_members cm ON cm.conversation_id = g.id AND cm.user_id = $1
    WHERE g.id = $2
  ),
  c AS (
    UPDATE conversations SET last_seq = last_seq + 1, last_msg_id = nextval('msg_id_seq'), last_time = $3
    FROM g
    WHERE conversations.id = $2 AND NOT g.dissolved AND g.member AND g.muted_until <= $3
      AND (g.banned_to_post = 0 OR g.owner_id = $1 OR g.role = 1)
    RETURNING conversations.id, conversations.last_seq, conversations.last_msg_id
  ),${STORE_TAIL}
  SELECT g.owner_id IS NOT NULL AS found, g.dissolved, g.member, g.banned_to_post, g.owner_id, g.role, g.muted_until,
         m.id AS msg_id, m.seq, s.app_user_id, s.nickname, s.head,
         CASE WHEN m.id IS NOT NULL THEN ARRAY(SELECT user_id FROM conversation_members WHERE conversation_id = $2 AND user_id <> $1) END AS member_ids
  FROM users s LEFT JOIN g ON true LEFT JOIN m ON true WHERE s.id = $1`;

const ORIGINAL = `
  SELECT m.id, m.seq, m.type, m.content, m.extra, m.created_at, c.kind, c.id AS conversation_id,
         s.app_user_id, s.nickname, s.head, r.app_user_id AS to_app_user_id
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN users s ON s.id = m.sender_id
  LEFT JOIN users r ON c.kind = 1 AND r.id = CASE WHEN c.user_low = m.sender_id THEN c.user_high ELSE c.user_low END
  WHERE m.sender_id = $1 AND m.nonce = $2`;

@Injectable()
export class MessagingService implements SendDedupe {
  private readonly logger = new Logger('MessagingService');
  private readonly limits: MessageLimits;
  /** Sends in flight by `sender:nonce`: a repeat waits for the first and then finds it stored (831). */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /**
   * The exact `data` string of recent sendResults by `sender:nonce`, so an 831 repeats it byte for byte
   * (rebuilt from jsonb, `extra`'s key order could differ). Bounded; a miss rebuilds from the database.
   */
  private readonly recentData = new Map<string, { msgId: number; time: number; data: string }>();
  private recentChars = 0;
  /**
   * `sender:nonce` of sends answered code 0 after their store statement was sent: the database may
   * have committed it anyway (the reply was lost with the connection). Such a message was never
   * pushed; when a retry here finds it stored (831), the recipients get its push then. Bounded.
   */
  private readonly unknownOutcome = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly batcher: WriteBatcher,
    private readonly users: UsersService,
    private readonly delivery: Delivery,
    private readonly metrics: MetricsService,
    config: AppConfig,
    private readonly readBy: ReadByService,
  ) {
    this.limits = {
      maxTextChars: config.MAX_TEXT_CHARS,
      maxExtraBytes: config.MAX_EXTRA_BYTES,
      thumbUrlTemplate: config.THUMB_URL_TEMPLATE,
      mediaBaseUrl: config.mediaBaseUrl,
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
      await this.fillCard(message);
    } catch (error) {
      return this.duplicateOr(sender.userId, nonce, error);
    }
    if (to === sender.appUserId) return this.duplicateOr(sender.userId, nonce, ImError.badRequest('app_user_ids: cannot send a message to yourself'));

    const now = Date.now();
    const params = [sender.userId, to, now, nonce, message.type, message.content, JSON.stringify(message.extra)];
    // lock-order key of the conversation (the pair, whoever sends)
    const pair = sender.appUserId < to ? `d:${sender.appUserId}\u0000${to}` : `d:${to}\u0000${sender.appUserId}`;
    let row = await this.store<DirectRow>(STORE_DIRECT, params, pair);
    if (row === 'duplicate') return this.duplicateOr(sender.userId, nonce);
    if (row.msg_id === null && row.recipient_id !== null && row.recipient_id !== sender.userId && !row.blocked) {
      // First message between these two: create the conversation and its members with the message.
      const recipientId = row.recipient_id;
      row = await this.store<DirectRow>(STORE_DIRECT, params, pair, async (tx) => {
        const [low, high] = sender.userId < recipientId ? [sender.userId, recipientId] : [recipientId, sender.userId];
        await tx.query(
          `WITH c AS (
             INSERT INTO conversations (kind, user_low, user_high, last_seq) VALUES (1, $1, $2, 0)
             ON CONFLICT (user_low, user_high) DO NOTHING RETURNING id
           )
           INSERT INTO conversation_members (conversation_id, user_id, read_seq, joined_seq, joined_at)
           SELECT c.id, u, 0, 0, $3 FROM c, unnest(ARRAY[$1::int, $2::int]) AS u`,
          [low, high, now],
        );
      });
      if (row === 'duplicate') return this.duplicateOr(sender.userId, nonce);
    }
    if (row.msg_id === null || row.seq === null) {
      if (row.recipient_id === null) return this.duplicateOr(sender.userId, nonce, ImError.notFound(`no such user: ${to}`));
      if (row.blocked) return this.duplicateOr(sender.userId, nonce, new ImError(ImCode.Blacklisted, 'the recipient has blacklisted you'));
      throw new Error('message not stored');
    }
    this.metrics.messagesStored.inc({ kind: 'chat' });
    const data = messageData(message, row, { to_app_user_id: to }, row.seq);
    const body: ReplyBody = { data, time: now, user_id: sender.userId, msg_id: row.msg_id };
    this.remember(sender.userId, nonce, row.msg_id, now, data);
    this.delivery.push([row.recipient_id!, sender.userId], encodePush('chat', { ...body, nonce }), { exceptConnectionId: sender.connectionId });
    return body;
  }

  private async storeGroup(sender: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    const nonce = request.nonce as string;
    let groupId: number;
    let message: ValidatedMessage;
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
      if (missing) throw missing;
      await this.fillCard(message);
    } catch (error) {
      return this.duplicateOr(sender.userId, nonce, error);
    }
    const now = Date.now();
    const row = await this.store<GroupRow>(STORE_GROUP, [sender.userId, groupId, now, nonce, message.type, message.content, JSON.stringify(message.extra)], `g:${groupId}`);
    if (row === 'duplicate') return this.duplicateOr(sender.userId, nonce);
    if (row.msg_id === null || row.seq === null) {
      let error: ImError;
      if (!row.found || row.dissolved) error = ImError.notFound(`no such group: ${groupId}`);
      else if (!row.member) error = ImError.forbidden('you are not a member of this group');
      else if (row.muted_until !== null && row.muted_until > now) error = ImError.forbidden(`you are muted in this group until ${row.muted_until}`);
      else if (row.banned_to_post === 1 && row.owner_id !== sender.userId && row.role !== 1) {
        error = ImError.forbidden('the group is muted (banned_to_post): only the owner and admins may post');
      }
      else throw new Error('group message not stored');
      return this.duplicateOr(sender.userId, nonce, error);
    }
    this.metrics.messagesStored.inc({ kind: 'group' });
    const group = String(groupId);
    const data = messageData(message, row, { group_id: group }, row.seq);
    const body: ReplyBody = { data, time: now, user_id: sender.userId, msg_id: row.msg_id, group_id: group };
    this.remember(sender.userId, nonce, row.msg_id, now, data);
    const recipients = row.member_ids ?? [];
    recipients.push(sender.userId);
    this.delivery.push(recipients, encodePush('groupChat', { ...body, nonce }), { exceptConnectionId: sender.connectionId });
    return body;
  }

  /**
   * Runs the store statement (optionally after `before`, in one transaction) and returns its row,
   * or 'duplicate' when the unique (sender, nonce) index refused the message. Without `before` it goes
   * through the WriteBatcher: concurrent sends share one COMMIT; `order` names the conversation it locks.
   */
  private async store<T>(sql: string, params: unknown[], order: string, before?: (tx: Queryable) => Promise<void>): Promise<T | 'duplicate'> {
    try {
      if (!before) return (await this.batcher.run<T>(sql, params, order))[0];
      return await this.db.transaction(async (tx) => {
        await before(tx);
        return (await tx.query<T>(sql, params))[0];
      });
    } catch (error) {
      if (error?.code === UNIQUE_VIOLATION && error?.constraint === SENDER_NONCE_CONSTRAINT) return 'duplicate';
      // Code 0 follows, but the statement may have committed (the connection died before its reply):
      // a retry with this nonce answers 831 with it (dedupe first), and pushes it (pushIfNeverPushed).
      this.noteUnknownOutcome(`${params[0] as number}:${params[3] as string}`);
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
    const [original] = await this.db.query<OriginalRow>(ORIGINAL, [senderId, nonce]);
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
    if (previous) this.recentChars -= previous.data.length;
    this.recentData.delete(key);
    this.recentData.set(key, { msgId, time, data });
    this.recentChars += data.length;
    for (const [oldKey, old] of this.recentData) {
      if (this.recentData.size <= RECENT_MAX_ENTRIES && this.recentChars <= RECENT_MAX_CHARS) break;
      this.recentData.delete(oldKey);
      this.recentChars -= old.data.length;
    }
  }

  /** Type 6: the card's person must exist; their nickname and head are filled in. */
  private async fillCard(message: ValidatedMessage): Promise<void> {
    if (message.type !== 6) return;
    const person = await this.users.profile(message.extra.app_user_id as string);
    message.extra.nickname = person.nickname;
    message.extra.head = person.head;
  }

  // ---------------------------------------------------------------- read receipts

  /** `ack`: status 1 (delivered) or 2 (read, moves the read position forward); pushes `ack` to the sender. */
  async ack(reader: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    const msgId = request.msg_id;
    if (!Number.isSafeInteger(msgId) || (msgId as number) < 1) throw ImError.badRequest('msg_id must be a positive integer');
    const status = request.status;
    if (status !== 1 && status !== 2) throw ImError.badRequest('status must be 1 (delivered) or 2 (read)');
    const { peer, groupId } = this.target(request);

    let conversationId: number;
    if (groupId !== undefined) {
      const [group] = await this.db.query<{ dissolved: boolean; member: boolean }>(
        `SELECT g.dissolved_at IS NOT NULL AS dissolved,
                EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = g.id AND user_id = $2) AS member
         FROM groups g WHERE g.id = $1`,
        [groupId, reader.userId],
      );
      if (!group || group.dissolved) throw ImError.notFound(`no such group: ${groupId}`);
      if (!group.member) throw ImError.forbidden('you are not a member of this group');
      conversationId = groupId;
    } else {
      const other = await this.users.profile(peer!);
      if (other.user_id === reader.userId) throw ImError.badRequest('app_user_ids must name the other participant');
      const [conversation] = await this.db.query<{ id: number }>(
        `SELECT id FROM conversations WHERE kind = 1 AND user_low = $1 AND user_high = $2`,
        [Math.min(other.user_id, reader.userId), Math.max(other.user_id, reader.userId)],
      );
      if (!conversation) throw ImError.notFound(`no such message: ${msgId}`);
      conversationId = conversation.id;
    }

    const [message] = await this.db.query<{ seq: number; sender_id: number; type: number }>(
      `SELECT seq, sender_id, type FROM messages WHERE id = $1 AND conversation_id = $2`,
      [msgId, conversationId],
    );
    if (!message) throw ImError.notFound(`no such message: ${msgId}`);
    if (message.sender_id === reader.userId) throw ImError.badRequest('msg_id: you cannot acknowledge your own message');
    if (status === 2) {
      await this.db.query(`UPDATE conversation_members SET read_seq = GREATEST(read_seq, $3) WHERE conversation_id = $1 AND user_id = $2`, [
        conversationId,
        reader.userId,
        message.seq,
      ]);
    }

    const group = groupId === undefined ? undefined : String(groupId);
    const data: Record<string, unknown> = { msg_id: msgId, status, app_user_id: reader.appUserId, type: message.type };
    if (group !== undefined) data.group_id = group;
    const body: ReplyBody = { data, user_id: reader.userId, msg_id: msgId as number, group_id: group };
    this.delivery.push([message.sender_id, reader.userId], encodePush('ack', { ...body, time: Date.now() }), { exceptConnectionId: reader.connectionId });
    return body;
  }

  // ---------------------------------------------------------------- history

  /** `history` over WebSocket: the reader's conversation with `app_user_ids` or in `group_id`. */
  async historyRequest(reader: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    const { peer, groupId } = this.target(request);
    const beforeSeq = optionalSeq(request.before_seq, 'before_seq');
    const afterSeq = optionalSeq(request.after_seq, 'after_seq');
    if (beforeSeq !== undefined && afterSeq !== undefined) throw ImError.badRequest('before_seq and after_seq cannot be used together');
    const limit = historyLimit(request.limit);
    const page = await this.history({ userId: reader.userId, peerAppUserId: peer, groupId, beforeSeq, afterSeq, limit });
    return { data: page, group_id: groupId === undefined ? undefined : String(groupId) };
  }

  /** History of a one-to-one conversation or a group, one page (PROTOCOL §4 History). */
  async history(query: HistoryQuery): Promise<HistoryPage> {
    let conversationId: number | undefined;
    let fromSeq = 0;
    if (query.groupId !== undefined) {
      const [group] = await this.db.query<{ dissolved: boolean; joined_seq: number | null }>(
        `SELECT g.dissolved_at IS NOT NULL AS dissolved,
                (SELECT joined_seq FROM conversation_members WHERE conversation_id = g.id AND user_id = $2) AS joined_seq
         FROM groups g WHERE g.id = $1`,
        [query.groupId, query.userId ?? 0],
      );
      if (!group || group.dissolved) throw ImError.notFound(`no such group: ${query.groupId}`);
      if (query.userId !== undefined) {
        if (group.joined_seq === null) throw ImError.forbidden('you are not a member of this group');
        fromSeq = group.joined_seq;
      }
      conversationId = query.groupId;
    } else {
      if (query.userId === undefined || query.peerAppUserId === undefined) throw ImError.badRequest('app_user_ids is required');
      const other = await this.users.profile(query.peerAppUserId);
      if (other.user_id === query.userId) throw ImError.badRequest('app_user_ids must name the other participant');
      const [conversation] = await this.db.query<{ id: number }>(
        `SELECT id FROM conversations WHERE kind = 1 AND user_low = $1 AND user_high = $2`,
        [Math.min(other.user_id, query.userId), Math.max(other.user_id, query.userId)],
      );
      if (!conversation) return { messages: [], has_more: false };
      conversationId = conversation.id;
    }

    const params: unknown[] = [conversationId, fromSeq, query.limit + 1];
    let where = 'm.conversation_id = $1 AND m.seq > $2';
    let order = 'DESC';
    if (query.beforeSeq !== undefined) {
      params.push(query.beforeSeq);
      where += ' AND m.seq < $4';
    } else if (query.afterSeq !== undefined) {
      params.push(query.afterSeq);
      where += ' AND m.seq > $4';
      order = 'ASC';
    }
    const rows = await this.db.query<HistoryMessage & { kind: number }>(
      `SELECT m.id AS msg_id, m.seq, m.created_at AS time, m.sender_id AS user_id, m.type, m.content, m.extra,
              s.app_user_id, s.nickname, s.head, c.kind, r.app_user_id AS to_app_user_id
       FROM messages m
       JOIN conversations c ON c.id = m.conversation_id
       JOIN users s ON s.id = m.sender_id
       LEFT JOIN users r ON c.kind = 1 AND r.id = CASE WHEN c.user_low = m.sender_id THEN c.user_high ELSE c.user_low END
       WHERE ${where}
       ORDER BY m.seq ${order}
       LIMIT $3`,
      params,
    );
    const hasMore = rows.length > query.limit;
    const messages = rows.slice(0, query.limit).map((row) => {
      const item: HistoryMessage = {
        msg_id: row.msg_id,
        seq: row.seq,
        time: row.time,
        user_id: row.user_id,
        type: row.type,
        content: row.content,
        extra: row.extra,
        app_user_id: row.app_user_id,
        nickname: row.nickname,
        head: row.head,
      };
      if (row.kind === 2) item.group_id = String(conversationId);
      else item.to_app_user_id = row.to_app_user_id ?? '';
      return item;
    });
    // issue 12: read_count on the reader's own group messages (one grouped statement per page)
    if (query.groupId !== undefined && query.userId !== undefined) await this.readBy.fillReadCounts(query.groupId, query.userId, messages);
    return { messages, has_more: hasMore };
  }

  /** Exactly one of `app_user_ids` (one-to-one) and `group_id`. */
  private target(request: Record<string, unknown>): { peer?: string; groupId?: number } {
    const hasPeer = request.app_user_ids !== undefined && request.app_user_ids !== null;
    const hasGroup = request.group_id !== undefined && request.group_id !== null;
    if (hasPeer === hasGroup) throw ImError.badRequest('app_user_ids or group_id is required (exactly one of them)');
    return hasGroup ? { groupId: groupIdOf(request) } : { peer: recipientOf(request) };
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

export function optionalSeq(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw ImError.badRequest(`${field} must be a non-negative integer`);
  return value as number;
}

export function historyLimit(value: unknown): number {
  if (value === undefined || value === null) return 20;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 100) throw ImError.badRequest('limit must be an integer from 1 to 100');
  return value as number;
}
