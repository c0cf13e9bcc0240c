import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { Db } from '../database/db';
import { Delivery } from '../realtime/delivery';
import { encodePush, ReplyBody } from '../realtime/frames';
import { UsersService } from '../users/users.service';
import { codePoints, conversationTarget } from './message-rules';
import { Sender } from './messaging.service';
import { participationOf } from './participation';

/** PROTOCOL §4 Reactions: distinct emoji per message, code points per emoji, reactors listed per emoji in history. */
export const MAX_DISTINCT_EMOJI = 20;
export const MAX_EMOJI_CODE_POINTS = 8;
export const REACTORS_LISTED = 10;

/** Whitespace or a control character anywhere: not an emoji. */
const NOT_EMOJI = /[\s\p{Cc}]/u;

/** One emoji's state on a message, as history lists it. */
export interface ReactionSummary {
  emoji: string;
  count: number;
  /** The first reactors, earliest first (at most REACTORS_LISTED). */
  app_user_ids: string[];
  /** The reader reacted with this emoji. */
  me: boolean;
}

/** `data` of the `react` reply and of the `reaction` push. */
export interface ReactionData {
  msg_id: number;
  seq: number;
  emoji: string;
  op: 'add' | 'remove';
  app_user_id: string;
  count: number;
}

/**
 * Per message and emoji of a history page, in ONE statement: the count and whether the reader is among
 * the reactors (grouped, an index-only scan of message_reactions_order), then per group its first
 * REACTORS_LISTED reactors (earliest first, user id breaking ties: 10 index entries each) with one
 * primary-key lookup of users each (a scalar subquery: a join let the planner hash all users per emoji),
 * so users are read for at most 10 reactors per emoji however many there are. Emoji of a message come in the
 * order they were first used.
 */
export const PAGE_REACTIONS_SQL = `
  WITH g AS (
    SELECT msg_id, emoji, count(*)::int AS count, bool_or(user_id = $2) AS me, min(created_at) AS first_at
      FROM message_reactions WHERE msg_id = ANY($1::bigint[])
     GROUP BY msg_id, emoji
  )
  SELECT g.msg_id, g.emoji, g.count, g.me,
         ARRAY(SELECT (SELECT u.app_user_id FROM users u WHERE u.id = f.user_id)
                 FROM (SELECT r.user_id, r.created_at FROM message_reactions r
                        WHERE r.msg_id = g.msg_id AND r.emoji = g.emoji
                        ORDER BY r.created_at, r.user_id LIMIT ${REACTORS_LISTED}) f
                ORDER BY f.created_at, f.user_id) AS app_user_ids
    FROM g
   ORDER BY g.msg_id, g.first_at, g.emoji`;

/** Reactions (PROTOCOL §4): add/remove, the `reaction` push, and the state history carries. */
@Injectable()
export class ReactionsService {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly delivery: Delivery,
  ) {}

  /** `react`: idempotent per (user, message, emoji); pushes `reaction` when something changed. */
  async react(reactor: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    const msgId = request.msg_id;
    if (!Number.isSafeInteger(msgId) || (msgId as number) < 1) throw ImError.badRequest('msg_id must be a positive integer');
    const emoji = emojiOf(request.emoji);
    const op = request.op;
    if (op !== 'add' && op !== 'remove') throw ImError.badRequest('op must be "add" or "remove"');
    const target = conversationTarget(request);

    const outcome = await this.db.transaction(async (tx) => {
      const place = await participationOf(tx, this.users, reactor.userId, target);
      if (place.conversationId === undefined) throw ImError.notFound(`no such message: ${msgId}`);
      // a muted member may not post, and a reaction is seen by every member like a post
      if (place.mutedUntil > Date.now()) throw ImError.forbidden('you are muted in this group');
      // The message row lock serializes every reaction change of this message (and a racing recall):
      // the distinct-emoji limit is checked and the row written with no one else in between.
      const [message] = await tx.query<{ seq: number; recalled: boolean }>(
        `SELECT seq, recalled_at IS NOT NULL AS recalled FROM messages WHERE id = $1 AND conversation_id = $2 FOR NO KEY UPDATE`,
        [msgId, place.conversationId],
      );
      if (!message || message.recalled || message.seq <= place.hiddenUpTo) throw ImError.notFound(`no such message: ${msgId}`);
      let changed: boolean;
      if (op === 'add') {
        const [state] = await tx.query<{ distinct_emoji: number; present: boolean }>(
          `SELECT count(DISTINCT emoji)::int AS distinct_emoji, COALESCE(bool_or(emoji = $2), false) AS present
             FROM message_reactions WHERE msg_id = $1`,
          [msgId, emoji],
        );
        if (!state.present && state.distinct_emoji >= MAX_DISTINCT_EMOJI) {
          throw ImError.badRequest(`emoji: a message has at most ${MAX_DISTINCT_EMOJI} distinct emoji`);
        }
        const inserted = await tx.query(
          `INSERT INTO message_reactions (msg_id, user_id, emoji, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1`,
          [msgId, reactor.userId, emoji, Date.now()],
        );
        changed = inserted.length > 0;
      } else {
        const deleted = await tx.query(`DELETE FROM message_reactions WHERE msg_id = $1 AND user_id = $2 AND emoji = $3 RETURNING 1`, [
          msgId,
          reactor.userId,
          emoji,
        ]);
        changed = deleted.length > 0;
      }
      const [{ count }] = await tx.query<{ count: number }>(`SELECT count(*)::int AS count FROM message_reactions WHERE msg_id = $1 AND emoji = $2`, [
        msgId,
        emoji,
      ]);
      // who gets the push: participants who can read the message (joined before it, not cleared past it)
      const audience = changed
        ? await tx.query<{ user_id: number }>(
            `SELECT user_id FROM conversation_members WHERE conversation_id = $1 AND joined_seq < $2 AND cleared_seq < $2`,
            [place.conversationId, message.seq],
          )
        : [];
      return { seq: message.seq, count, changed, groupId: place.groupId, audience: audience.map((row) => row.user_id) };
    });

    const data: ReactionData = { msg_id: msgId as number, seq: outcome.seq, emoji, op, app_user_id: reactor.appUserId, count: outcome.count };
    const group = outcome.groupId === undefined ? undefined : String(outcome.groupId);
    const body: ReplyBody = { data, user_id: reactor.userId, msg_id: msgId as number, group_id: group };
    if (outcome.changed) {
      const recipients = new Set([...outcome.audience, reactor.userId]);
      this.delivery.push(recipients, encodePush('reaction', { ...body, time: Date.now() }), { exceptConnectionId: reactor.connectionId });
    }
    return body;
  }

  /** Sets `reactions` on the messages of a history page that have any (one statement per page). */
  async fillReactions(readerId: number | undefined, messages: Array<{ msg_id: number; reactions?: ReactionSummary[] }>): Promise<void> {
    if (messages.length === 0) return;
    const rows = await this.db.query<ReactionSummary & { msg_id: string | number }>(PAGE_REACTIONS_SQL, [messages.map((m) => m.msg_id), readerId ?? 0]);
    const byMessage = new Map<number, ReactionSummary[]>();
    for (const row of rows) {
      const id = Number(row.msg_id);
      let list = byMessage.get(id);
      if (!list) byMessage.set(id, (list = []));
      list.push({ emoji: row.emoji, count: row.count, app_user_ids: row.app_user_ids ?? [], me: row.me });
    }
    for (const message of messages) {
      const list = byMessage.get(message.msg_id);
      if (list) message.reactions = list;
    }
  }
}

/** An emoji: 1–8 code points, no whitespace, no control character (400 naming the field otherwise). */
export function emojiOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw ImError.badRequest('emoji must be a non-empty string');
  const length = codePoints(value);
  if (length > MAX_EMOJI_CODE_POINTS) throw ImError.badRequest(`emoji must be at most ${MAX_EMOJI_CODE_POINTS} code points`);
  if (NOT_EMOJI.test(value)) throw ImError.badRequest('emoji must not contain whitespace or control characters');
  return value;
}
