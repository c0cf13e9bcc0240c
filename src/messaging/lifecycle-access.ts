import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { Db, Queryable } from '../database/db';
import { UsersService } from '../users/users.service';
import { conversationTarget } from './message-rules';
import { participationOf } from './participation';

/** A stored message with what recall, edit and editHistory need to decide. */
export interface LockedMessage {
  id: number;
  seq: number;
  sender_id: number;
  type: number;
  content: string;
  extra: Record<string, unknown>;
  created_at: number;
  recalled_at: number | null;
  edited_at: number | null;
  conversation_id: number;
  kind: number;
  owner_id: number | null;
  dissolved: boolean | null;
  /** One-to-one: the participant who did not send it. */
  to_app_user_id: string | null;
}

/** A user's membership of the conversation a request names. */
export interface MessageScope {
  conversationId: number;
  groupId?: number;
  role: number;
  /** max(joined_seq, cleared_seq): the user reads messages after it. */
  fromSeq: number;
}

const MESSAGE = `
  SELECT m.id, m.seq, m.sender_id, m.type, m.content, m.extra, m.created_at, m.recalled_at, m.edited_at, m.conversation_id,
         c.kind, g.owner_id, g.dissolved_at IS NOT NULL AS dissolved, r.app_user_id AS to_app_user_id
    FROM messages m
    JOIN conversations c ON c.id = m.conversation_id
    LEFT JOIN groups g ON c.kind = 2 AND g.id = c.id
    LEFT JOIN users r ON c.kind = 1 AND r.id = CASE WHEN c.user_low = m.sender_id THEN c.user_high ELSE c.user_low END
   WHERE m.id = $1`;

/** Who may touch which message: the checks recall, edit and editHistory share (PROTOCOL §4). */
@Injectable()
export class LifecycleAccess {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
  ) {}

  /** The request's `msg_id` (a positive integer; 400 otherwise). */
  msgIdOf(request: Record<string, unknown>): number {
    const msgId = request.msg_id;
    if (!Number.isSafeInteger(msgId) || (msgId as number) < 1) throw ImError.badRequest('msg_id must be a positive integer');
    return msgId as number;
  }

  /**
   * The conversation named by `app_user_ids` / `group_id` and the user's part in it (participationOf:
   * group gone 404, not a member 403, unknown peer 404); a one-to-one pair without a conversation cannot
   * hold the message: 404.
   */
  async scope(userId: number, request: Record<string, unknown>, msgId: number, q: Queryable = this.db): Promise<MessageScope> {
    const place = await participationOf(q, this.users, userId, conversationTarget(request));
    if (place.conversationId === undefined) throw ImError.notFound(`no such message: ${msgId}`);
    return { conversationId: place.conversationId, groupId: place.groupId, role: place.role, fromSeq: place.hiddenUpTo };
  }

  /** The message, locked for the rest of the transaction (`lock`), or undefined. */
  async message(q: Queryable, msgId: number, lock: boolean): Promise<LockedMessage | undefined> {
    const [row] = await q.query<LockedMessage>(lock ? `${MESSAGE} FOR UPDATE OF m` : MESSAGE, [msgId]);
    return row;
  }

  /** The message of this conversation (404 when it is not one of it). */
  async messageIn(q: Queryable, participation: MessageScope, msgId: number, lock: boolean): Promise<LockedMessage> {
    const message = await this.message(q, msgId, lock);
    if (!message || message.conversation_id !== participation.conversationId) throw ImError.notFound(`no such message in this conversation: ${msgId}`);
    return message;
  }

  /** Every participant of a conversation now (one-to-one conversations have both members' rows too). */
  async participants(q: Queryable, conversationId: number): Promise<number[]> {
    const rows = await q.query<{ user_id: number }>(`SELECT user_id FROM conversation_members WHERE conversation_id = $1`, [conversationId]);
    return rows.map((row) => row.user_id);
  }
}

/** `group_id` or `to_app_user_id` of a message, as system messages 20 and 21 carry it. */
export function messageTarget(message: LockedMessage): { group_id: string } | { to_app_user_id: string } {
  return message.kind === 2 ? { group_id: String(message.conversation_id) } : { to_app_user_id: message.to_app_user_id ?? '' };
}

/** Whether a sender's window (seconds; 0 = no limit) has passed since the message was stored. */
export function windowPassed(createdAt: number, windowSeconds: number, now: number): boolean {
  return windowSeconds > 0 && now - createdAt > windowSeconds * 1000;
}
