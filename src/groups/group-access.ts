import { ImError } from '../common/im-error';
import type { Actor, GroupRole, LoadedGroup, MemberRow } from './groups.service';

/** Who may do what in a group (PROTOCOL §5): roles, and the 403/400 checks the operations share. */

/** conversation_members.role: 0 member, 1 admin (the owner is groups.owner_id). */
export const ROLE_ADMIN = 1;

export function roleOf(userId: number, group: LoadedGroup): GroupRole | undefined {
  if (userId === group.row.owner_id) return 'owner';
  const member = group.members.find((m) => m.user_id === userId);
  if (!member) return undefined;
  return member.role === ROLE_ADMIN ? 'admin' : 'member';
}

export function isOwnerOrAdmin(userId: number, group: LoadedGroup): boolean {
  const role = roleOf(userId, group);
  return role === 'owner' || role === 'admin';
}

/** The admin API acts with the owner's powers. */
export function actsAsOwner(actor: Actor, group: LoadedGroup): boolean {
  return actor.kind === 'admin' || actor.userId === group.row.owner_id;
}

export function requireOwnerOrAdmin(actor: Actor, group: LoadedGroup): void {
  if (actor.kind === 'admin') return;
  requireMember(actor.userId, group);
  if (!isOwnerOrAdmin(actor.userId, group)) throw ImError.forbidden('only the group owner and admins may do this');
}

export function memberByAppId(group: LoadedGroup, appUserId: string, field: string): MemberRow {
  const member = group.members.find((m) => m.app_user_id === appUserId);
  if (!member) throw ImError.badRequest(`${field}: ${appUserId} is not a member of this group`);
  return member;
}

export function requireMember(userId: number, group: LoadedGroup): void {
  if (!group.memberIds.has(userId)) throw ImError.forbidden('you are not a member of this group');
}

export function requireOwner(actor: Actor, group: LoadedGroup, msg = 'only the group owner may do this'): void {
  if (actor.kind === 'admin') return;
  requireMember(actor.userId, group);
  if (group.row.owner_id !== actor.userId) throw ImError.forbidden(msg);
}
