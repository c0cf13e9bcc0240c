import { Queryable } from '../database/db';
import { SELECT_STORED_MESSAGE, StoredMessageRow } from '../messaging/stored-message';

const MESSAGES = `${SELECT_STORED_MESSAGE}
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
  for (const row of await q.query<StoredMessageRow>(MESSAGES, [msgIds])) {
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
