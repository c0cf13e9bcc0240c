import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { MAX_SEARCH_LIMIT } from '../contract/search';
import { Db } from '../database/db';
import { groupIdOf, recipientOf } from '../messaging/message-rules';
import { HistoryMessage, historyItem } from '../messaging/history.service';
import { ReplyBody } from '../realtime/frames';
import { UsersService } from '../users/users.service';
import { CandidateRow, findCandidates } from './search-queries';
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

type Row = CandidateRow;

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
      const rows = await findCandidates(this.db, { tsquery: parsed.tsquery, userId: query.userId, conversationId }, before, batch);
      for (const row of rows) {
        if (found.length < want && containsPhrases(searchableText(row.type, row.content, row.extra), parsed.phrases)) found.push(row);
      }
      if (found.length >= want || rows.length < batch) break;
      before = rows[rows.length - 1].msg_id;
      batch = Math.min(batch * 4, MAX_BATCH);
    }
    return { messages: found.slice(0, query.limit).map((row) => historyItem(row, row.conversation_id)), has_more: found.length > query.limit };
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
}
