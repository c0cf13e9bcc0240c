import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { Db } from '../database/db';
import { SystemMessageService, SystemMessageType } from '../system-messages/system-messages.service';
import { UsersService } from '../users/users.service';
import { TEXT_PREVIEW_CHARS } from './preview';
import { COUNTED_LATERAL, syncItem, UnreadRow } from './sync.service';
import { ConversationItem, ConversationPage } from './sync.types';

/** The columns of one conversation-list item (as UNREAD_SQL's), over member row m. */
const ITEM_COLUMNS = `
  c.kind, c.id, c.last_seq - m.read_seq - k.recalled AS count, k.mentions AS mention_count, c.last_msg_id, c.last_time, msg.type,
  CASE WHEN msg.type = 1 THEN left(msg.content, ${TEXT_PREVIEW_CHARS}) END AS preview,
  CASE WHEN msg.type = 8 THEN msg.extra->>'file_name' END AS file_name,
  msg.recalled_at IS NOT NULL AS recalled,
  u.app_user_id, u.nickname, u.head, g.group_name, g.cover, m.muted, m.pinned`;
const ITEM_JOINS = `
  FROM conversation_members m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN messages msg ON msg.id = c.last_msg_id
  LEFT JOIN users u ON c.kind = 1 AND u.id = CASE WHEN c.user_low = m.user_id THEN c.user_high ELSE c.user_low END
  LEFT JOIN groups g ON c.kind = 2 AND g.id = c.id
  ${COUNTED_LATERAL}`;
const LISTED = `((c.kind = 1 AND u.id IS NOT NULL) OR (c.kind = 2 AND g.id IS NOT NULL AND g.dissolved_at IS NULL))`;

/**
 * One page of the conversation list in ONE statement, whatever the number of conversations: on the first
 * page (no before_time) every pinned conversation, then up to limit+1 unpinned ones older than
 * before_time (the +1 tells has_more). Conversations with no message have no last_msg_id (the JOIN on
 * messages drops them); groups the user left have no member row; dissolved groups are left out.
 */
export const CONVERSATIONS_SQL = `
  (SELECT ${ITEM_COLUMNS} ${ITEM_JOINS}
    WHERE m.user_id = $1 AND m.pinned AND $2::bigint IS NULL AND ${LISTED}
    ORDER BY c.last_time DESC, c.last_msg_id DESC)
  UNION ALL
  (SELECT ${ITEM_COLUMNS} ${ITEM_JOINS}
    WHERE m.user_id = $1 AND NOT m.pinned AND ($2::bigint IS NULL OR c.last_time < $2) AND ${LISTED}
    ORDER BY c.last_time DESC, c.last_msg_id DESC
    LIMIT $3)`;

export interface ConversationSettings {
  muted?: boolean;
  pinned?: boolean;
}

/** The full conversation list and per-user conversation settings (PROTOCOL §6). */
@Injectable()
export class ConversationsService {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly systemMessages: SystemMessageService,
  ) {}

  /** `conversations`: pinned first (first page only), then newest first; `beforeTime` pages the unpinned part. */
  async list(userId: number, limit: number, beforeTime?: number): Promise<ConversationPage> {
    const rows = await this.db.query<UnreadRow>(CONVERSATIONS_SQL, [userId, beforeTime ?? null, limit + 1]);
    const pinned = rows.filter((row) => row.pinned);
    const unpinned = rows.filter((row) => !row.pinned);
    const hasMore = unpinned.length > limit;
    const conversations: ConversationItem[] = [...pinned, ...unpinned.slice(0, limit)].map((row) => {
      const item = syncItem(row);
      return 'app_user_id' in item ? { ...item, kind: 'direct' as const } : { ...item, kind: 'group' as const };
    });
    return { conversations, has_more: hasMore };
  }

  /** The admin view: `app_user_id`'s list (404 when unknown). */
  async listOf(appUserId: string, limit: number, beforeTime?: number): Promise<ConversationPage> {
    const user = await this.users.get(appUserId);
    return this.list(user.user_id, limit, beforeTime);
  }

  /**
   * `setConversation`: either flag may be left out (at least one is needed). A one-to-one conversation
   * with no message yet is created (settings can come before the first message); a group needs
   * membership (403) and must be live (404). Type 24 goes to the user's other connections only.
   */
  async set(
    user: { userId: number; connectionId?: string },
    target: { peer?: string; groupId?: number },
    settings: ConversationSettings,
  ): Promise<{ muted: boolean; pinned: boolean; group_id?: string; to_app_user_id?: string }> {
    if (settings.muted === undefined && settings.pinned === undefined) throw ImError.badRequest('muted or pinned is required (at least one of them)');
    let conversationId: number;
    if (target.groupId !== undefined) {
      const [group] = await this.db.query<{ dissolved: boolean; member: boolean }>(
        `SELECT g.dissolved_at IS NOT NULL AS dissolved,
                EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = g.id AND user_id = $2) AS member
         FROM groups g WHERE g.id = $1`,
        [target.groupId, user.userId],
      );
      if (!group || group.dissolved) throw ImError.notFound(`no such group: ${target.groupId}`);
      if (!group.member) throw ImError.forbidden('you are not a member of this group');
      conversationId = target.groupId;
    } else {
      const other = await this.users.profile(target.peer!);
      if (other.user_id === user.userId) throw ImError.badRequest('app_user_ids must name the other participant');
      const [low, high] = user.userId < other.user_id ? [user.userId, other.user_id] : [other.user_id, user.userId];
      conversationId = await this.db.transaction(async (tx) => {
        const [found] = await tx.query<{ id: number }>(`SELECT id FROM conversations WHERE kind = 1 AND user_low = $1 AND user_high = $2`, [low, high]);
        if (found) return found.id;
        await tx.query(
          `WITH c AS (
             INSERT INTO conversations (kind, user_low, user_high, last_seq) VALUES (1, $1, $2, 0)
             ON CONFLICT (user_low, user_high) DO NOTHING RETURNING id
           )
           INSERT INTO conversation_members (conversation_id, user_id, read_seq, joined_seq, joined_at)
           SELECT c.id, u, 0, 0, $3 FROM c, unnest(ARRAY[$1::int, $2::int]) AS u`,
          [low, high, Date.now()],
        );
        const [made] = await tx.query<{ id: number }>(`SELECT id FROM conversations WHERE kind = 1 AND user_low = $1 AND user_high = $2`, [low, high]);
        return made.id;
      });
    }
    const [row] = await this.db.query<{ muted: boolean; pinned: boolean }>(
      `UPDATE conversation_members SET muted = COALESCE($3, muted), pinned = COALESCE($4, pinned)
        WHERE conversation_id = $1 AND user_id = $2 RETURNING muted, pinned`,
      [conversationId, user.userId, settings.muted ?? null, settings.pinned ?? null],
    );
    if (!row) throw ImError.forbidden('you are not a member of this group'); // left in the meantime
    const data =
      target.groupId !== undefined
        ? { muted: row.muted, pinned: row.pinned, group_id: String(target.groupId) }
        : { muted: row.muted, pinned: row.pinned, to_app_user_id: target.peer! };
    await this.systemMessages.emit({
      type: SystemMessageType.ConversationSettings,
      subType: 'personal',
      groupId: data.group_id,
      extra: data,
      actorUserId: user.userId,
      recipients: [],
      pushOnly: [{ userId: user.userId, exceptConnectionId: user.connectionId }],
      store: false,
    });
    return data;
  }
}
