/**
 * A stored chat message with its sender's profile and its conversation's target, as the 831 reply
 * (MessagingService) and the `message.created` webhook (src/webhooks) rebuild the pushed `data` from it.
 */
export interface StoredMessageRow {
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

/** SELECT of StoredMessageRow; the caller appends its WHERE over `m` (messages). */
export const SELECT_STORED_MESSAGE = `
  SELECT m.id, m.seq, m.type, m.content, m.extra, m.created_at, c.kind, c.id AS conversation_id,
         s.app_user_id, s.nickname, s.head, r.app_user_id AS to_app_user_id
  FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
  JOIN users s ON s.id = m.sender_id
  LEFT JOIN users r ON c.kind = 1 AND r.id = CASE WHEN c.user_low = m.sender_id THEN c.user_high ELSE c.user_low END`;
