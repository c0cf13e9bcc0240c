import type { Queryable } from '../database/db';

import type { HistoryMessage } from '../messaging/history.service';

/** Who searches where: `userId` undefined = the admin (every message); `conversationId` narrows. */
export interface SearchScope {
  tsquery: string;
  userId?: number;
  conversationId?: number;
}

export interface CandidateRow extends HistoryMessage {
  kind: number;
  conversation_id: number;
}

/** The first window of msg ids searched (newest first); each next one is WINDOW_GROWTH times wider. */
export const FIRST_WINDOW = 20_000;
export const WINDOW_GROWTH = 8;

/**
 * The newest `limit` readable matches with `lo` <= msg_id < `hi`: what the reader may read
 * (PROTOCOL §4 History rules): a membership row (a user who left or was removed has none), after joining
 * and after their clearHistory, not recalled, text or file, not in a dissolved group. Without a reader
 * (the admin): every such message.
 */
export function windowStatement(scope: SearchScope, lo: number, hi: number, limit: number): { text: string; values: unknown[] } {
  const values: unknown[] = [scope.tsquery, lo, hi, limit];
  let member = '';
  if (scope.userId !== undefined) {
    member = `JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $${values.push(scope.userId)}
              AND m.seq > cm.joined_seq AND m.seq > cm.cleared_seq`;
  }
  const narrow = scope.conversationId === undefined ? '' : `AND m.conversation_id = $${values.push(scope.conversationId)}`;
  const text = `SELECT m.id FROM messages m ${member}
    WHERE m.search_tokens @@ $1::tsquery AND m.id >= $2 AND m.id < $3 AND m.recalled_at IS NULL AND m.type IN (1, 8) ${narrow}
      AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = m.conversation_id AND g.dissolved_at IS NOT NULL)
    ORDER BY ${scope.conversationId === undefined ? 'm.id' : 'm.seq'} DESC LIMIT $4`;
  return { text, values };
}

const ROWS_SQL = `
  SELECT m.id AS msg_id, m.seq, m.created_at AS time, m.sender_id AS user_id, m.type, m.content, m.extra, m.edited_at,
         s.app_user_id, s.nickname, s.head, c.kind, c.id AS conversation_id, r.app_user_id AS to_app_user_id
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN users s ON s.id = m.sender_id
  LEFT JOIN users r ON c.kind = 1 AND r.id = CASE WHEN c.user_low = m.sender_id THEN c.user_high ELSE c.user_low END
  WHERE m.id = ANY($1::bigint[])
  ORDER BY m.id DESC`;

/**
 * Up to `limit` messages with msg_id < `before` that the scope may read and whose lexemes match,
 * newest first (exact). The msg id range is searched in windows, newest first, each WINDOW_GROWTH times
 * wider than the last, until the page is full: a window is small enough for PostgreSQL to read it in
 * id order or to intersect the GIN index with it, so a common word costs a few thousand rows of the
 * newest window and a rare one a few index lookups — never every match in the table, and never every
 * newer message of other conversations (what one newest-first query over the whole table did).
 */
export async function findCandidates(db: Queryable, scope: SearchScope, before: number, limit: number): Promise<CandidateRow[]> {
  const [{ top }] = await db.query<{ top: number | null }>(`SELECT max(id) AS top FROM messages`);
  let hi = Math.min(before, Number(top ?? 0) + 1);
  // one conversation: its (conversation_id, seq) index gives the order (seq and msg id grow together), one range
  let width = scope.conversationId === undefined ? FIRST_WINDOW : Number.MAX_SAFE_INTEGER;
  const ids: number[] = [];
  while (hi > 1 && ids.length < limit) {
    const lo = Math.max(1, hi - width);
    const statement = windowStatement(scope, lo, hi, limit - ids.length);
    ids.push(...(await db.query<{ id: number }>(statement.text, statement.values)).map((row) => Number(row.id)));
    hi = lo;
    width *= WINDOW_GROWTH;
  }
  if (ids.length === 0) return [];
  return db.query<CandidateRow>(ROWS_SQL, [ids]);
}
