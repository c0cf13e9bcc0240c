import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { MAX_SEARCH_LIMIT } from '../contract/search';
import { Db } from '../database/db';
import { groupIdOf, recipientOf } from '../messaging/message-rules';
import type { HistoryMessage } from '../messaging/history.service';
import { ReplyBody } from '../realtime/frames';
import { UsersService } from '../users/users.service';
import { containsPhrases, parseQuery, searchableText } from './tokenizer';

export interface SearchQuery {
  /** 1–100 characters (checked by the request schema / the admin DTO). */
  query: string;
  /** The name of the query field in 400 messages: `query` (WebSocket) or `q` (admin route). */
  queryField: string;
  /** The reader; undefined = the admin searching everything. */
  userId?: number;
  /** Narrow to the one-to-one conversation of the reader with this user. */
  peerAppUserId?: string;
  groupId?: number;
  beforeMsgId?: number;
  limit: number;
}

export interface SearchPage {
  messages: HistoryMessage[];
  has_more: boolean;
}

interface Row extends HistoryMessage {
  kind: number;
  conversation_id: number;
}

/** Candidates read per statement at most when the phrase check drops some (see `search`). */
const MAX_BATCH = 1000;

/**
 * Search over the messages a user may read (PROTOCOL §12, docs/search.md). The GIN index on
 * `messages.search_tokens` finds the candidates; rows whose CJK phrases are not contiguous in the text
 * are dropped here, and more candidates are read until the page is full or none are left, so pages
 * have no gaps and paging by msg_id repeats nothing.
 */
@Injectable()
export class SearchService {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
  ) {}

  /** `search` over WebSocket (the request passed its schema). */
  async searchRequest(userId: number, request: Record<string, unknown>): Promise<ReplyBody> {
    const peer = request.app_user_ids === undefined || request.app_user_ids === null ? undefined : recipientOf(request);
    const groupId = request.group_id === undefined || request.group_id === null ? undefined : groupIdOf(request);
    const page = await this.search({
      query: request.query as string,
      queryField: 'query',
      userId,
      peerAppUserId: peer,
      groupId,
      beforeMsgId: (request.before_msg_id ?? undefined) as number | undefined,
      limit: (request.limit ?? 20) as number,
    });
    return { data: page, group_id: groupId === undefined ? undefined : String(groupId) };
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    const parsed = parseQuery(query.query);
    if (!parsed) throw ImError.badRequest(`${query.queryField} must contain a letter, a digit or a CJK character`);
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_SEARCH_LIMIT) {
      throw ImError.badRequest(`limit must be an integer from 1 to ${MAX_SEARCH_LIMIT}`);
    }
    const conversationId = await this.narrowedConversation(query);
    if (conversationId === null) return { messages: [], has_more: false };

    const want = query.limit + 1;
    const found: Row[] = [];
    let before = query.beforeMsgId ?? Number.MAX_SAFE_INTEGER;
    let batch = parsed.phrases.length > 0 ? Math.min(want * 2, MAX_BATCH) : want;
    for (;;) {
      const rows = await this.candidates(parsed.tsquery, query.userId, conversationId, before, batch);
      for (const row of rows) {
        if (found.length < want && containsPhrases(searchableText(row.type, row.content, row.extra), parsed.phrases)) found.push(row);
      }
      if (found.length >= want || rows.length < batch) break;
      before = rows[rows.length - 1].msg_id;
      batch = Math.min(batch * 4, MAX_BATCH);
    }
    return { messages: found.slice(0, query.limit).map(toItem), has_more: found.length > query.limit };
  }

  /**
   * The one conversation the search is narrowed to (undefined: not narrowed; null: a one-to-one
   * conversation that does not exist yet). Same answers as `history`: 404 for an unknown user or a
   * missing or dissolved group, 403 for a group the reader is not a member of.
   */
  private async narrowedConversation(query: SearchQuery): Promise<number | null | undefined> {
    if (query.groupId !== undefined) {
      const [group] = await this.db.query<{ dissolved: boolean; member: boolean }>(
        `SELECT g.dissolved_at IS NOT NULL AS dissolved,
                EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = g.id AND user_id = $2) AS member
         FROM groups g WHERE g.id = $1`,
        [query.groupId, query.userId ?? 0],
      );
      if (!group || group.dissolved) throw ImError.notFound(`no such group: ${query.groupId}`);
      if (query.userId !== undefined && !group.member) throw ImError.forbidden('you are not a member of this group');
      return query.groupId;
    }
    if (query.peerAppUserId === undefined) return undefined;
    if (query.userId === undefined) throw ImError.badRequest('app_user_ids needs a reader');
    const other = await this.users.profile(query.peerAppUserId);
    if (other.user_id === query.userId) throw ImError.badRequest('app_user_ids must name the other participant');
    const [conversation] = await this.db.query<{ id: number }>(`SELECT id FROM conversations WHERE kind = 1 AND user_low = $1 AND user_high = $2`, [
      Math.min(other.user_id, query.userId),
      Math.max(other.user_id, query.userId),
    ]);
    return conversation ? conversation.id : null;
  }

  private candidates(tsquery: string, userId: number | undefined, conversationId: number | undefined, before: number, limit: number): Promise<Row[]> {
    const { text, values } = candidateQuery(tsquery, userId, conversationId, before, limit);
    return this.db.query<Row>(text, values);
  }
}

/**
 * Up to `limit` messages with msg_id < `before`, newest first, whose lexemes match and that the
 * reader may read: a member (a user who left or was removed has no row), after joining
 * (seq > joined_seq) and after their clearHistory (seq > cleared_seq), not recalled, not in a
 * dissolved group. Without a reader (the admin): every such message. Exported for bench/search-bench.ts.
 */
export function candidateQuery(
  tsquery: string,
  userId: number | undefined,
  conversationId: number | undefined,
  before: number,
  limit: number,
): { text: string; values: unknown[] } {
  const values: unknown[] = [tsquery, before, limit];
  let member = '';
  if (userId !== undefined) {
    values.push(userId);
    member = `JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $${values.length}
              AND m.seq > cm.joined_seq AND m.seq > cm.cleared_seq`;
  }
  let narrow = '';
  if (conversationId !== undefined) {
    values.push(conversationId);
    narrow = `AND m.conversation_id = $${values.length}`;
  }
  const text = `SELECT m.id AS msg_id, m.seq, m.created_at AS time, m.sender_id AS user_id, m.type, m.content, m.extra,
              s.app_user_id, s.nickname, s.head, c.kind, c.id AS conversation_id, r.app_user_id AS to_app_user_id
       FROM messages m
       ${member}
       JOIN conversations c ON c.id = m.conversation_id
       JOIN users s ON s.id = m.sender_id
       LEFT JOIN users r ON c.kind = 1 AND r.id = CASE WHEN c.user_low = m.sender_id THEN c.user_high ELSE c.user_low END
       WHERE m.search_tokens @@ $1::tsquery AND m.id < $2 AND m.recalled_at IS NULL AND m.type IN (1, 8) ${narrow}
         AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = m.conversation_id AND g.dissolved_at IS NOT NULL)
       ORDER BY m.id DESC
       LIMIT $3`;
  return { text, values };
}

function toItem(row: Row): HistoryMessage {
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
  if (row.kind === 2) item.group_id = String(row.conversation_id);
  else item.to_app_user_id = row.to_app_user_id ?? '';
  return item;
}
