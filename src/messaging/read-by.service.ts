import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { Db } from '../database/db';

/** A member in a readBy list. */
export interface Reader {
  app_user_id: string;
  nickname: string;
  head: string;
}

export interface ReadByData {
  read_count: number;
  unread_count: number;
  read: Reader[];
  unread: Reader[];
}

interface ReadByRow {
  found: boolean;
  dissolved: boolean;
  owner_id: number;
  my_role: number | null;
  sender_id: number | null;
  read_count: number | null;
  unread_count: number | null;
  read: Reader[] | null;
  unread: Reader[] | null;
}

/**
 * One statement answers readBy whatever the group size: the group, the caller's membership, the
 * message, both counts and both lists (cut at `limit`; owner first, then by join time, as member lists). A member has read
 * message `seq` when their read position (conversation_members.read_seq) is ≥ seq. Members who joined
 * after the message (joined_seq ≥ seq) are in neither list: it was never theirs to read (their history
 * starts after it), though their read position starts past it (docs/groups.md).
 */
export const READ_BY = `
  WITH g AS (SELECT id, owner_id, dissolved_at FROM groups WHERE id = $1),
  msg AS (SELECT seq, sender_id FROM messages WHERE id = $2 AND conversation_id = $1),
  others AS (
    SELECT cm.user_id, cm.joined_at, cm.read_seq >= msg.seq AS has_read, cm.user_id = g.owner_id AS is_owner
    FROM conversation_members cm JOIN msg ON true JOIN g ON true
    WHERE cm.conversation_id = $1 AND cm.user_id <> msg.sender_id AND cm.joined_seq < msg.seq
  )
  SELECT g.id IS NOT NULL AS found, g.dissolved_at IS NOT NULL AS dissolved, g.owner_id,
         (SELECT role FROM conversation_members WHERE conversation_id = $1 AND user_id = $3) AS my_role,
         (SELECT sender_id FROM msg) AS sender_id,
         (SELECT count(*) FILTER (WHERE has_read) FROM others)::int AS read_count,
         (SELECT count(*) FILTER (WHERE NOT has_read) FROM others)::int AS unread_count,
         (SELECT COALESCE(json_agg(json_build_object('app_user_id', u.app_user_id, 'nickname', u.nickname, 'head', u.head) ORDER BY o.is_owner DESC, o.joined_at, o.user_id), '[]')
            FROM (SELECT * FROM others WHERE has_read ORDER BY is_owner DESC, joined_at, user_id LIMIT $4) o JOIN users u ON u.id = o.user_id) AS read,
         (SELECT COALESCE(json_agg(json_build_object('app_user_id', u.app_user_id, 'nickname', u.nickname, 'head', u.head) ORDER BY o.is_owner DESC, o.joined_at, o.user_id), '[]')
            FROM (SELECT * FROM others WHERE NOT has_read ORDER BY is_owner DESC, joined_at, user_id LIMIT $4) o JOIN users u ON u.id = o.user_id) AS unread
  FROM (SELECT 1) one LEFT JOIN g ON true`;

/**
 * read_count of one history page: for each of the reader's own messages on it, the members (not the
 * sender) whose read position reached it. One grouped statement per page: the members' read
 * positions are grouped first (few distinct values), then summed per message.
 */
export const READ_COUNTS = `
  WITH r AS (
    SELECT read_seq, joined_seq, count(*)::int AS n FROM conversation_members
    WHERE conversation_id = $1 AND user_id <> $2 GROUP BY read_seq, joined_seq
  )
  SELECT s.seq, COALESCE(sum(r.n), 0)::int AS read_count
  FROM unnest($3::int[]) AS s(seq) LEFT JOIN r ON r.read_seq >= s.seq AND r.joined_seq < s.seq
  GROUP BY s.seq`;

/** Who has read a group message (PROTOCOL §5 readBy, §4 History read_count). */
@Injectable()
export class ReadByService {
  constructor(private readonly db: Db) {}

  /** readBy: the message's sender, the group's owner and admins (403 otherwise); members only. */
  async readBy(userId: number, groupId: number, msgId: number, limit: number): Promise<ReadByData> {
    const [row] = await this.db.query<ReadByRow>(READ_BY, [groupId, msgId, userId, limit]);
    if (!row.found || row.dissolved) throw ImError.notFound(`no such group: ${groupId}`);
    if (row.my_role === null) throw ImError.forbidden('you are not a member of this group');
    if (row.sender_id === null) throw ImError.notFound(`no such message: ${msgId}`);
    const allowed = row.sender_id === userId || row.owner_id === userId || row.my_role === 1;
    if (!allowed) throw ImError.forbidden("only the message's sender, the group owner and admins may see who read it");
    return { read_count: row.read_count ?? 0, unread_count: row.unread_count ?? 0, read: row.read ?? [], unread: row.unread ?? [] };
  }

  /** Sets `read_count` on the messages of `readerId` in a group history page (one statement; none when the page has none). */
  async fillReadCounts(groupId: number, readerId: number, messages: Array<{ seq: number; user_id: number; read_count?: number }>): Promise<void> {
    const own = messages.filter((message) => message.user_id === readerId);
    if (own.length === 0) return;
    const rows = await this.db.query<{ seq: number; read_count: number }>(READ_COUNTS, [groupId, readerId, own.map((message) => message.seq)]);
    const counts = new Map(rows.map((row) => [row.seq, row.read_count]));
    for (const message of own) message.read_count = counts.get(message.seq) ?? 0;
  }
}
