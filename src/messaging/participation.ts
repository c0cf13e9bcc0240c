import { ImError } from '../common/im-error';
import { Queryable } from '../database/db';
import { UsersService } from '../users/users.service';

/** A user's place in one conversation, as reactions, typing, clearHistory and the message lifecycle need it. */
export interface Participation {
  /** Undefined: a one-to-one conversation that has no message (nor row) yet. */
  conversationId?: number;
  groupId?: number;
  /** The other participant of a one-to-one conversation. */
  peer?: { userId: number; appUserId: string };
  /** Messages with seq ≤ this are not readable by the user (before joining, or cleared). */
  hiddenUpTo: number;
  /** Groups: until when (ms) the owner or an admin muted the user; 0 when not muted. */
  mutedUntil: number;
  /** Groups: the user's membership role (1 admin, 0 member; the owner is groups.owner_id); 0 one-to-one. */
  role: number;
}

/**
 * Resolves `app_user_ids` | `group_id` for `userId` (reactions, typing, clearHistory, recall, edit,
 * editHistory) with the PROTOCOL §4 refusals: unknown user or
 * gone group 404, not a member 403, oneself 400. One statement for a group, two for a peer.
 */
export async function participationOf(
  q: Queryable,
  users: UsersService,
  userId: number,
  target: { peer?: string; groupId?: number },
): Promise<Participation> {
  if (target.groupId !== undefined) {
    const [group] = await q.query<{ dissolved: boolean; joined_seq: number | null; cleared_seq: number | null; muted_until: number | null; role: number | null }>(
      `SELECT g.dissolved_at IS NOT NULL AS dissolved, m.joined_seq, m.cleared_seq, m.muted_until, m.role
         FROM groups g LEFT JOIN conversation_members m ON m.conversation_id = g.id AND m.user_id = $2
        WHERE g.id = $1`,
      [target.groupId, userId],
    );
    if (!group || group.dissolved) throw ImError.notFound(`no such group: ${target.groupId}`);
    if (group.joined_seq === null) throw ImError.forbidden('you are not a member of this group');
    return {
      conversationId: target.groupId,
      groupId: target.groupId,
      hiddenUpTo: Math.max(group.joined_seq, group.cleared_seq ?? 0),
      mutedUntil: group.muted_until ?? 0,
      role: group.role ?? 0,
    };
  }
  const other = await users.profile(target.peer!);
  if (other.user_id === userId) throw ImError.badRequest('app_user_ids must name the other participant');
  const [conversation] = await q.query<{ id: number; cleared_seq: number | null }>(
    `SELECT c.id, m.cleared_seq FROM conversations c
       LEFT JOIN conversation_members m ON m.conversation_id = c.id AND m.user_id = $3
      WHERE c.kind = 1 AND c.user_low = $1 AND c.user_high = $2`,
    [Math.min(other.user_id, userId), Math.max(other.user_id, userId), userId],
  );
  return {
    conversationId: conversation?.id,
    peer: { userId: other.user_id, appUserId: other.app_user_id },
    hiddenUpTo: conversation?.cleared_seq ?? 0,
    mutedUntil: 0,
    role: 0,
  };
}
