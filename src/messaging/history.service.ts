import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { Db } from '../database/db';
import { ReplyBody } from '../realtime/frames';
import { UsersService } from '../users/users.service';
import { maskRecalledQuotes } from './message-refs';
import { conversationTarget } from './message-rules';
import { Sender } from './messaging.service';
import { ReactionsService, ReactionSummary } from './reactions.service';
import { ReadByService } from './read-by.service';

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
  /** issue 13: the latest edit's time; present only on edited messages. */
  edited_at?: number;
  /** issue 13: true on a recalled message (content "", extra {}). */
  recalled?: boolean;
  /** issue 12: on the reader's own group messages, the members (not the sender) whose read position reached it. */
  read_count?: number;
  /** issue 13: per emoji, the count, the first reactors and whether the reader is one; absent when none. */
  reactions?: ReactionSummary[];
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

/** Reading a conversation page by page (PROTOCOL §4 History). */
@Injectable()
export class HistoryService {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly readBy: ReadByService,
    private readonly reactions: ReactionsService,
  ) {}

  /** `history` over WebSocket: the reader's conversation with `app_user_ids` or in `group_id`. */
  async historyRequest(reader: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    const { peer, groupId } = conversationTarget(request);
    const beforeSeq = optionalSeq(request.before_seq, 'before_seq');
    const afterSeq = optionalSeq(request.after_seq, 'after_seq');
    if (beforeSeq !== undefined && afterSeq !== undefined) throw ImError.badRequest('before_seq and after_seq cannot be used together');
    const limit = historyLimit(request.limit);
    const page = await this.history({ userId: reader.userId, peerAppUserId: peer, groupId, beforeSeq, afterSeq, limit });
    return { data: page, group_id: groupId === undefined ? undefined : String(groupId) };
  }

  /** History of a one-to-one conversation or a group, one page (PROTOCOL §4 History). */
  async history(query: HistoryQuery): Promise<HistoryPage> {
    let conversationId: number;
    let fromSeq = 0;
    if (query.groupId !== undefined) {
      const [group] = await this.db.query<{ dissolved: boolean; joined_seq: number | null; cleared_seq: number | null }>(
        `SELECT g.dissolved_at IS NOT NULL AS dissolved, m.joined_seq, m.cleared_seq
         FROM groups g LEFT JOIN conversation_members m ON m.conversation_id = g.id AND m.user_id = $2
         WHERE g.id = $1`,
        [query.groupId, query.userId ?? 0],
      );
      if (!group || group.dissolved) throw ImError.notFound(`no such group: ${query.groupId}`);
      if (query.userId !== undefined) {
        if (group.joined_seq === null) throw ImError.forbidden('you are not a member of this group');
        // from joining, and after the reader's clearHistory position
        fromSeq = Math.max(group.joined_seq, group.cleared_seq ?? 0);
      }
      conversationId = query.groupId;
    } else {
      if (query.userId === undefined || query.peerAppUserId === undefined) throw ImError.badRequest('app_user_ids is required');
      const other = await this.users.profile(query.peerAppUserId);
      if (other.user_id === query.userId) throw ImError.badRequest('app_user_ids must name the other participant');
      const [conversation] = await this.db.query<{ id: number; cleared_seq: number | null }>(
        `SELECT c.id, m.cleared_seq FROM conversations c
           LEFT JOIN conversation_members m ON m.conversation_id = c.id AND m.user_id = $3
          WHERE c.kind = 1 AND c.user_low = $1 AND c.user_high = $2`,
        [Math.min(other.user_id, query.userId), Math.max(other.user_id, query.userId), query.userId],
      );
      if (!conversation) return { messages: [], has_more: false };
      conversationId = conversation.id;
      fromSeq = conversation.cleared_seq ?? 0;
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
    const rows = await this.db.query<HistoryRow>(
      `SELECT m.id AS msg_id, m.seq, m.created_at AS time, m.sender_id AS user_id, m.type, m.content, m.extra,
              m.edited_at, m.recalled_at IS NOT NULL AS recalled,
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
    const messages = rows.slice(0, query.limit).map((row) => historyItem(row, conversationId));
    await maskRecalledQuotes(this.db, messages);
    // issue 12: read_count on the reader's own group messages (one grouped statement per page)
    if (query.groupId !== undefined && query.userId !== undefined) await this.readBy.fillReadCounts(query.groupId, query.userId, messages);
    // issue 13: reactions of the page (one grouped statement per page)
    await this.reactions.fillReactions(query.userId, messages);
    return { messages, has_more: hasMore };
  }
}

/** A row of the statements that list messages (history, search): an item's columns plus the conversation's kind. */
export type HistoryRow = Omit<HistoryMessage, 'to_app_user_id' | 'group_id' | 'edited_at' | 'recalled'> & {
  kind: number;
  to_app_user_id?: string | null;
  edited_at?: number | null;
  recalled?: boolean;
};

/** The history item (PROTOCOL §4 History) of a row of conversation `conversationId`. */
export function historyItem(row: HistoryRow, conversationId: number): HistoryMessage {
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
  if (row.edited_at !== null && row.edited_at !== undefined) item.edited_at = row.edited_at;
  if (row.recalled) item.recalled = true;
  return item;
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
