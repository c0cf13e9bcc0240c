import { Injectable } from '@nestjs/common';
import { ImCode, ImError } from '../common/im-error';
import { Db, Queryable } from '../database/db';
import { lastMessagePreview, RECALLED_PREVIEW, TEXT_PREVIEW_CHARS } from '../sync/preview';
import { APP_USER_ID } from './message-rules';

/** Most members one message may mention (PROTOCOL §4 "Replies and mentions"). */
export const MAX_MENTIONS = 50;

/** The quote object the server puts in place of `extra.reply_to` (PROTOCOL §4). */
export interface Quote {
  msg_id: number;
  seq: number;
  app_user_id: string;
  nickname: string;
  type: number;
  preview: string;
}

/** What a message's `extra` asks for, after its shape was checked (no database yet). */
export interface RefRequest {
  replyTo?: number;
  mentions?: string[];
  mentionAll: boolean;
}

/** What is stored with the message: who it mentions (user ids), and whether it mentions everyone. */
export interface Mentions {
  mentionIds: number[] | null;
  mentionAll: boolean;
}

/** The reader's view of a conversation: the first seq they may read is `fromSeq + 1`. */
export interface ReaderView {
  conversationId: number;
  /** max(joined_seq, cleared_seq): quotes must come after it. */
  fromSeq: number;
  /** Groups: the reader may mention everyone (owner or admin). */
  mayMentionAll: boolean;
  isGroup: boolean;
}

/**
 * Shape of `extra.reply_to`, `extra.mentions` and `extra.mention_all` (step 2 of a send: 400 naming
 * the field). `lenientQuote`: an edit may give back the quote object it received (its msg_id is used).
 */
export function refRequestOf(extra: Record<string, unknown>, isGroup: boolean, lenientQuote = false): RefRequest {
  const request: RefRequest = { mentionAll: false };
  let replyTo = extra.reply_to;
  if (lenientQuote && replyTo !== null && typeof replyTo === 'object' && !Array.isArray(replyTo)) replyTo = (replyTo as Record<string, unknown>).msg_id;
  if (replyTo !== undefined && replyTo !== null) {
    if (!Number.isSafeInteger(replyTo) || (replyTo as number) < 1) throw ImError.badRequest('extra.reply_to must be the msg_id (a positive integer) of the message replied to');
    request.replyTo = replyTo as number;
  }
  const mentions = extra.mentions;
  const mentionAll = extra.mention_all;
  if (!isGroup && ((mentions !== undefined && mentions !== null) || mentionAll === true)) {
    throw ImError.badRequest('extra.mentions and extra.mention_all are for group messages only');
  }
  if (mentions !== undefined && mentions !== null) {
    if (!Array.isArray(mentions)) throw ImError.badRequest('extra.mentions must be an array of app_user_ids');
    if (mentions.length > MAX_MENTIONS) throw ImError.badRequest(`extra.mentions must name at most ${MAX_MENTIONS} members`);
    mentions.forEach((id, i) => {
      if (typeof id !== 'string' || !APP_USER_ID.test(id)) throw ImError.badRequest(`extra.mentions[${i}] must be an app_user_id`);
    });
    if (mentions.length > 0) request.mentions = [...new Set(mentions as string[])];
  }
  if (mentionAll !== undefined && mentionAll !== null) {
    if (typeof mentionAll !== 'boolean') throw ImError.badRequest('extra.mention_all must be true or false');
    request.mentionAll = mentionAll;
  }
  return request;
}

export function hasRefs(request: RefRequest): boolean {
  return request.replyTo !== undefined || request.mentions !== undefined || request.mentionAll;
}

/**
 * Resolves replies and mentions against the database (step 3 of a send, and an edit): the quote
 * replaces `extra.reply_to` in place; the mentioned members' ids are returned for storage.
 */
@Injectable()
export class MessageRefs {
  constructor(private readonly db: Db) {}

  /**
   * The sender's view of a one-to-one conversation for a send with refs; the refusals of step 3 that
   * come before the refs (no such user 404, blacklisted 811) are thrown here in the PROTOCOL's order.
   */
  async directView(senderId: number, recipientAppUserId: string): Promise<ReaderView> {
    const [row] = await this.db.query<{ recipient_id: number; blocked: boolean; conversation_id: number | null; cleared_seq: number | null }>(
      `SELECT u.id AS recipient_id,
              EXISTS (SELECT 1 FROM blacklist b WHERE b.user_id = u.id AND b.blocked_user_id = $1) AS blocked,
              c.id AS conversation_id, cm.cleared_seq
         FROM users u
         LEFT JOIN conversations c ON c.kind = 1 AND c.user_low = LEAST($1::int, u.id) AND c.user_high = GREATEST($1::int, u.id)
         LEFT JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $1
        WHERE u.app_user_id = $2`,
      [senderId, recipientAppUserId],
    );
    if (!row) throw ImError.notFound(`no such user: ${recipientAppUserId}`);
    if (row.blocked) throw new ImError(ImCode.Blacklisted, 'the recipient has blacklisted you');
    // no conversation yet: nothing to quote (conversation 0 holds no message)
    return { conversationId: row.conversation_id ?? 0, fromSeq: row.cleared_seq ?? 0, mayMentionAll: false, isGroup: false };
  }

  /**
   * The sender's view of a group for a send with refs (or an edit); the refusals of step 3 that come
   * before the refs are thrown here with the store's words (`groupRefusal`).
   */
  async groupView(senderId: number, groupId: number, now: number, q: Queryable = this.db): Promise<ReaderView> {
    const [row] = await q.query<GroupSenderRow>(
      `SELECT g.owner_id, g.banned_to_post, g.dissolved_at IS NOT NULL AS dissolved, cm.user_id IS NOT NULL AS member,
              cm.role, cm.muted_until, cm.joined_seq, cm.cleared_seq
         FROM groups g LEFT JOIN conversation_members cm ON cm.conversation_id = g.id AND cm.user_id = $1
        WHERE g.id = $2`,
      [senderId, groupId],
    );
    const refusal = groupRefusal(row, senderId, groupId, now);
    if (refusal) throw refusal;
    const privileged = row.owner_id === senderId || row.role === 1;
    return { conversationId: groupId, fromSeq: Math.max(row.joined_seq ?? 0, row.cleared_seq ?? 0), mayMentionAll: privileged, isGroup: true };
  }

  /** Replaces `extra.reply_to` by its quote and checks the mentions; returns what to store. */
  async resolve(view: ReaderView, request: RefRequest, extra: Record<string, unknown>, q: Queryable = this.db): Promise<Mentions> {
    if (request.replyTo !== undefined) extra.reply_to = await this.quote(view, request.replyTo, q);
    if (request.mentionAll && !view.mayMentionAll) throw ImError.forbidden('extra.mention_all: only the owner and admins may mention everyone');
    let mentionIds: number[] | null = null;
    if (request.mentions) {
      const rows = await q.query<{ app_user_id: string; user_id: number | null }>(
        `SELECT a.app_user_id, cm.user_id
           FROM unnest($1::text[]) WITH ORDINALITY AS a(app_user_id, ord)
           LEFT JOIN users u ON u.app_user_id = a.app_user_id
           LEFT JOIN conversation_members cm ON cm.conversation_id = $2 AND cm.user_id = u.id
          ORDER BY a.ord`,
        [request.mentions, view.conversationId],
      );
      const missing = rows.find((row) => row.user_id === null);
      if (missing) throw ImError.badRequest(`extra.mentions: ${missing.app_user_id} is not a member of this group`);
      mentionIds = rows.map((row) => row.user_id!);
    }
    return { mentionIds, mentionAll: request.mentionAll };
  }

  /** The quote of a message the reader can read (same conversation, after their join and clear positions); else 404. */
  private async quote(view: ReaderView, msgId: number, q: Queryable): Promise<Quote> {
    const [row] = await q.query<{ seq: number; type: number; preview: string | null; file_name: string | null; recalled: boolean; app_user_id: string; nickname: string }>(
      `SELECT m.seq, m.type, left(m.content, ${TEXT_PREVIEW_CHARS}) AS preview, m.extra->>'file_name' AS file_name,
              m.recalled_at IS NOT NULL AS recalled, s.app_user_id, s.nickname
         FROM messages m JOIN users s ON s.id = m.sender_id
        WHERE m.id = $1 AND m.conversation_id = $2 AND m.seq > $3`,
      [msgId, view.conversationId, view.fromSeq],
    );
    if (!row) throw ImError.notFound(`extra.reply_to: no such message in this conversation: ${msgId}`);
    return {
      msg_id: msgId,
      seq: row.seq,
      app_user_id: row.app_user_id,
      nickname: row.nickname,
      type: row.type,
      preview: row.recalled ? RECALLED_PREVIEW : lastMessagePreview(row.type, row.preview, row.file_name),
    };
  }
}

/** The msg_id a stored quote points at, if `extra` holds one. */
export function quotedMsgId(extra: Record<string, unknown>): number | undefined {
  const quote = extra.reply_to;
  if (quote === null || typeof quote !== 'object' || Array.isArray(quote)) return undefined;
  const id = (quote as Record<string, unknown>).msg_id;
  return Number.isSafeInteger(id) ? (id as number) : undefined;
}

/** The sender's standing in a group (a row of the send statements or of `groupView`). */
export interface GroupSenderRow {
  owner_id: number | null;
  banned_to_post: number | null;
  dissolved: boolean | null;
  member: boolean | null;
  role: number | null;
  muted_until: number | null;
  joined_seq?: number | null;
  cleared_seq?: number | null;
}

/** Why a member may not post to a group now (PROTOCOL §4 step 3), or undefined when they may. */
export function groupRefusal(row: GroupSenderRow | undefined, senderId: number, groupId: number, now: number): ImError | undefined {
  if (!row || row.owner_id === null || row.dissolved) return ImError.notFound(`no such group: ${groupId}`);
  if (!row.member) return ImError.forbidden('you are not a member of this group');
  if (row.muted_until !== null && row.muted_until > now) return ImError.forbidden(`you are muted in this group until ${row.muted_until}`);
  if (row.banned_to_post === 1 && row.owner_id !== senderId && row.role !== 1) {
    return ImError.forbidden('the group is muted (banned_to_post): only the owner and admins may post');
  }
  return undefined;
}

/** History: quotes of messages recalled since read `[recalled]` (PROTOCOL §4 Recall); one query per page. */
export async function maskRecalledQuotes(q: Queryable, messages: Array<{ extra: Record<string, unknown> }>): Promise<void> {
  const quoted = new Map<number, Array<{ extra: Record<string, unknown> }>>();
  for (const message of messages) {
    const id = quotedMsgId(message.extra);
    if (id === undefined) continue;
    const list = quoted.get(id);
    if (list) list.push(message);
    else quoted.set(id, [message]);
  }
  if (quoted.size === 0) return;
  const recalled = await q.query<{ id: number }>(`SELECT id FROM messages WHERE id = ANY($1::bigint[]) AND recalled_at IS NOT NULL`, [[...quoted.keys()]]);
  for (const { id } of recalled) {
    for (const message of quoted.get(Number(id)) ?? []) {
      message.extra = { ...message.extra, reply_to: { ...(message.extra.reply_to as Record<string, unknown>), preview: RECALLED_PREVIEW } };
    }
  }
}
