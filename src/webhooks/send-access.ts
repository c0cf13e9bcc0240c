import { ImCode, ImError } from '../common/im-error';
import { Queryable } from '../database/db';

export type SendTarget = { to_app_user_id: string } | { group_id: number };

interface AccessRow {
  duplicate: boolean;
  app_user_id: string;
  nickname: string;
  head: string;
  recipient_id?: number | null;
  blocked?: boolean | null;
  found?: boolean;
  dissolved?: boolean | null;
  member?: boolean | null;
  banned_to_post?: number | null;
  owner_id?: number | null;
  role?: number | null;
  muted_until?: number | null;
}

export interface Access {
  /** The (sender, nonce) is already stored: the send answers 831, nobody is asked. */
  duplicate: boolean;
  sender: { app_user_id: string; nickname: string; head: string };
  refusal?: ImError;
}

const DUPLICATE = `(SELECT 1 FROM messages d WHERE d.sender_id = $1 AND d.nonce = $2 LIMIT 1) IS NOT NULL AS duplicate, s.app_user_id, s.nickname, s.head`;

/**
 * The access checks of send step 3 (PROTOCOL §4), run on their own before the before-send webhook is
 * asked: the store statements (src/messaging/send-store.ts) check the same inside the write, which
 * stays the authority (a change racing the webhook call is caught there); this read only makes
 * sure the app is never asked about a message that would be refused anyway, and that the refusal
 * keeps its own code (404/811/403 before 812). Only runs when BEFORE_SEND_WEBHOOK_URL is set.
 */
export async function accessRefusal(q: Queryable, senderId: number, nonce: string, target: SendTarget): Promise<Access> {
  if ('to_app_user_id' in target) {
    const [row] = await q.query<AccessRow>(
      `SELECT ${DUPLICATE}, u.id AS recipient_id,
              EXISTS (SELECT 1 FROM blacklist b WHERE b.user_id = u.id AND b.blocked_user_id = $1) AS blocked
       FROM users s LEFT JOIN users u ON u.app_user_id = $3 WHERE s.id = $1`,
      [senderId, nonce, target.to_app_user_id],
    );
    let refusal: ImError | undefined;
    if (row.recipient_id === null) refusal = ImError.notFound(`no such user: ${target.to_app_user_id}`);
    else if (row.blocked) refusal = new ImError(ImCode.Blacklisted, 'the recipient has blacklisted you');
    return { duplicate: row.duplicate, sender: senderOf(row), refusal };
  }
  const now = Date.now();
  const [row] = await q.query<AccessRow>(
    `SELECT ${DUPLICATE}, g.id IS NOT NULL AS found, g.dissolved_at IS NOT NULL AS dissolved, cm.user_id IS NOT NULL AS member,
            g.banned_to_post, g.owner_id, cm.role, cm.muted_until
     FROM users s LEFT JOIN groups g ON g.id = $3 LEFT JOIN conversation_members cm ON cm.conversation_id = g.id AND cm.user_id = $1
     WHERE s.id = $1`,
    [senderId, nonce, target.group_id],
  );
  let refusal: ImError | undefined;
  if (!row.found || row.dissolved) refusal = ImError.notFound(`no such group: ${target.group_id}`);
  else if (!row.member) refusal = ImError.forbidden('you are not a member of this group');
  else if (row.muted_until !== null && row.muted_until !== undefined && row.muted_until > now) refusal = ImError.forbidden(`you are muted in this group until ${row.muted_until}`);
  else if (row.banned_to_post === 1 && row.owner_id !== senderId && row.role !== 1) refusal = ImError.forbidden('the group is muted (banned_to_post): only the owner and admins may post');
  return { duplicate: row.duplicate, sender: senderOf(row), refusal };
}

function senderOf(row: AccessRow): Access['sender'] {
  return { app_user_id: row.app_user_id, nickname: row.nickname, head: row.head };
}
