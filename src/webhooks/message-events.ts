import { Queryable } from '../database/db';

interface Row {
  id: number;
  seq: number;
  type: number;
  content: string;
  extra: Record<string, unknown>;
  created_at: number;
  kind: number;
  conversation_id: number;
  app_user_id: string;
  nickname: string;
  head: string;
  to_app_user_id: string | null;
}

const MESSAGES = `
  SELECT m.id, m.seq, m.type, m.content, m.extra, m.created_at, c.kind, c.id AS conversation_id,
         s.app_user_id, s.nickname, s.head, r.app_user_id AS to_app_user_id
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN users s ON s.id = m.sender_id
  LEFT JOIN users r ON c.kind = 1 AND r.id = CASE WHEN c.user_low = m.sender_id THEN c.user_high ELSE c.user_low END
  WHERE m.id = ANY($1::bigint[])`;

/**
 * The bodies of `message.created` events by msg_id, read from the messages themselves (the outbox
 * row only references the message): `{event, time, data}` with `data` = the message as pushed to
 * recipients (PROTOCOL §4 step 6) plus `msg_id` and `time`. The message as it is now: a message
 * recalled before its event went out has the recalled content ("" and {}), a `message.recalled` follows.
 */
export async function messageCreatedBodies(q: Queryable, msgIds: number[]): Promise<Map<number, string>> {
  const bodies = new Map<number, string>();
  if (msgIds.length === 0) return bodies;
  for (const row of await q.query<Row>(MESSAGES, [msgIds])) {
    const target = row.kind === 2 ? { group_id: String(row.conversation_id) } : { to_app_user_id: row.to_app_user_id ?? '' };
    const data = {
      msg_id: row.id,
      seq: row.seq,
      time: row.created_at,
      type: row.type,
      content: row.content,
      extra: row.extra,
      app_user_id: row.app_user_id,
      nickname: row.nickname,
      head: row.head,
      ...target,
    };
    bodies.set(row.id, JSON.stringify({ event: 'message.created', time: row.created_at, data }));
  }
  return bodies;
}
