import type { Queryable } from '../database/db';

/** What the search statements run on: Db, or a bare connection in bench/search-bench.ts. */
export interface SearchDb extends Queryable {
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
}
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

/**
 * How many matches the first, index-driven step reads at most. Below it, the step saw every match
 * and the newest are exact; at it, the term is common among the readable messages and the
 * recency-driven step is cheap.
 */
export const SELECTIVE_CAP = 5000;

/**
 * A query the planner expects to match more than this share of all messages skips the index step:
 * reading conversations newest-first finds a page of its matches within a few hundred rows each,
 * while the index would hand over every match in the table.
 */
export const COMMON_SHARE = 0.05;

/**
 * What the reader may read (PROTOCOL §4 History rules): a membership row (a user who left or was
 * removed has none), after joining and after their clearHistory, not recalled, text or file, not in a
 * dissolved group. `m` = messages; parameters $1 tsquery, $2 before; `userParam` / `convParam` as given.
 */
function readable(userParam: string | undefined, convParam: string | undefined): { join: string; where: string } {
  const join = userParam
    ? `JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = ${userParam}
         AND m.seq > cm.joined_seq AND m.seq > cm.cleared_seq`
    : '';
  const where = `m.search_tokens @@ $1::tsquery AND m.id < $2 AND m.recalled_at IS NULL AND m.type IN (1, 8)
       AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = m.conversation_id AND g.dissolved_at IS NOT NULL)
       ${convParam ? `AND m.conversation_id = ${convParam}` : ''}`;
  return { join, where };
}

function scopeValues(scope: SearchScope, values: unknown[]): { user?: string; conv?: string } {
  const out: { user?: string; conv?: string } = {};
  if (scope.userId !== undefined) out.user = `$${values.push(scope.userId)}`;
  if (scope.conversationId !== undefined) out.conv = `$${values.push(scope.conversationId)}`;
  return out;
}

/** Step 1: up to SELECTIVE_CAP readable matches, in no order (the GIN index finds them). */
export function selectiveStatement(scope: SearchScope, before: number): { text: string; values: unknown[] } {
  const values: unknown[] = [scope.tsquery, before];
  const { user, conv } = scopeValues(scope, values);
  const { join, where } = readable(user, conv);
  return { text: `SELECT m.id FROM messages m ${join} WHERE ${where} LIMIT ${SELECTIVE_CAP}`, values };
}

/**
 * Step 2, for terms common among the readable messages: the newest `limit` matches, each conversation
 * read backwards from its newest message (index (conversation_id, seq); within a conversation seq and
 * msg_id grow together), so the cost follows the reader's own messages, never the whole table.
 */
export function recentStatement(scope: SearchScope, before: number, limit: number): { text: string; values: unknown[] } {
  const values: unknown[] = [scope.tsquery, before, limit];
  const { user, conv } = scopeValues(scope, values);
  if (!user) {
    const { where } = readable(undefined, conv);
    return { text: `SELECT m.id FROM messages m WHERE ${where} ORDER BY m.id DESC LIMIT $3`, values };
  }
  const text = `SELECT x.id FROM conversation_members cm
    CROSS JOIN LATERAL (
      SELECT m.id FROM messages m
      WHERE m.conversation_id = cm.conversation_id AND m.seq > cm.joined_seq AND m.seq > cm.cleared_seq
        AND m.search_tokens @@ $1::tsquery AND m.id < $2 AND m.recalled_at IS NULL AND m.type IN (1, 8)
      ORDER BY m.seq DESC LIMIT $3) x
    WHERE cm.user_id = ${user} ${conv ? `AND cm.conversation_id = ${conv}` : ''}
      AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = cm.conversation_id AND g.dissolved_at IS NOT NULL)
    ORDER BY x.id DESC LIMIT $3`;
  return { text, values };
}

const ROWS_SQL = `
  SELECT m.id AS msg_id, m.seq, m.created_at AS time, m.sender_id AS user_id, m.type, m.content, m.extra,
         s.app_user_id, s.nickname, s.head, c.kind, c.id AS conversation_id, r.app_user_id AS to_app_user_id
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN users s ON s.id = m.sender_id
  LEFT JOIN users r ON c.kind = 1 AND r.id = CASE WHEN c.user_low = m.sender_id THEN c.user_high ELSE c.user_low END
  WHERE m.id = ANY($1::bigint[])
  ORDER BY m.id DESC`;

/**
 * Up to `limit` messages with msg_id < `before` that the scope may read and whose lexemes match,
 * newest first (exact): step 1, and step 2 only when step 1 reached its cap; then the rows themselves.
 */
export async function findCandidates(db: SearchDb, scope: SearchScope, before: number, limit: number, common = false): Promise<CandidateRow[]> {
  let ids: number[] = [];
  if (!common) {
    const selective = selectiveStatement(scope, before);
    ids = (await db.query<{ id: number }>(selective.text, selective.values)).map((row) => Number(row.id));
  }
  if (common || ids.length >= SELECTIVE_CAP) {
    const recent = recentStatement(scope, before, limit);
    // GIN serves only bitmap scans: without them each conversation is read backwards by its
    // (conversation_id, seq) index and stops at `limit` matches (a bitmap would read all of it)
    const rows = await db.transaction(async (tx) => {
      await tx.query(`SET LOCAL enable_bitmapscan = off`);
      await tx.query(`SET LOCAL jit = off`);
      return tx.query<{ id: number }>(recent.text, recent.values);
    });
    ids = rows.map((row) => Number(row.id));
  } else {
    ids = ids.sort((a, b) => b - a).slice(0, limit);
  }
  if (ids.length === 0) return [];
  return db.query<CandidateRow>(ROWS_SQL, [ids]);
}

/**
 * Whether the planner expects `tsquery` to match more than COMMON_SHARE of all messages (its
 * statistics of the lexemes; an estimate, no rows are read). Decides only the plan, never the answer.
 */
export async function isCommon(db: Queryable, tsquery: string): Promise<boolean> {
  const [plan] = await db.query<{ 'QUERY PLAN': Array<{ Plan: { 'Plan Rows': number } }> }>(
    `EXPLAIN (FORMAT JSON) SELECT 1 FROM messages m WHERE m.search_tokens @@ $1::tsquery`,
    [tsquery],
  );
  const [table] = await db.query<{ rows: number }>(`SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'messages'::regclass`);
  const estimated = plan['QUERY PLAN'][0].Plan['Plan Rows'];
  return table.rows > 0 && estimated > COMMON_SHARE * table.rows;
}
