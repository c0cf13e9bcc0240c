import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import { ImError } from '../common/im-error';
import { SystemMessageSpec, SystemMessageType } from '../system-messages/system-messages.service';
import { UserProfile } from '../users/users.service';
import { GROUP_ID_PATTERN } from './groups.dto';
import type { Actor, GroupView } from './groups.service';

/** Pure helpers of GroupsService: invite codes, ids, and the shapes of the group system messages. */

/** A new invite code: 12 random bytes (96 bits) as 16 base64url characters. */
export function newInviteCode(): string {
  return randomBytes(12).toString('base64url');
}

/** Compares a presented invite code with the group's in constant time (hashes first: any length, no early exit). */
export function sameCode(given: string, actual: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(actual));
}

export function actorIdOf(actor: Actor): number {
  return actor.kind === 'user' ? actor.userId : 0;
}

export function unique(values: string[]): string[] {
  return [...new Set(values)];
}

export function noSuchGroup(groupId: string): ImError {
  return ImError.notFound(`no such group: ${groupId}`);
}

/** A group_id from a path or request: digits (bigint range), else 404 as no such group. */
export function parseGroupId(groupId: string): string {
  if (!GROUP_ID_PATTERN.test(groupId)) throw noSuchGroup(groupId);
  return BigInt(groupId).toString(); // exact (Number() would round ids above 2^53)
}

export function nameOf(user: UserProfile): { app_user_id: string; nickname: string } {
  return { app_user_id: user.app_user_id, nickname: user.nickname };
}

export function groupSpec(type: SystemMessageType, groupId: string, extra: Record<string, unknown>, recipients: number[]): SystemMessageSpec {
  // actorUserId is set when the message is stored (actorIdOf).
  return { type, subType: 'group', groupId, extra, actorUserId: 0, recipients };
}

export function joinedExtra(groupId: string, inviter: UserProfile, joiners: UserProfile[]): Record<string, unknown> {
  const memberList = joiners.map((user) => ({ app_user_id: user.app_user_id, nickname: user.nickname, head: user.head }));
  return { group_id: groupId, inviter: nameOf(inviter), member_list: memberList, joiner: memberList[0] };
}

export function invitedSpec(view: GroupView, inviter: UserProfile, invitees: number[]): SystemMessageSpec {
  // never the invite code, even if a view that carries it is passed
  const { member_list, invite_code: _code, ...groupInfo } = view;
  return {
    type: SystemMessageType.InvitedIntoGroup,
    subType: 'personal',
    groupId: view.group_id,
    extra: { group_id: view.group_id, inviter: nameOf(inviter), member_list, group_info: groupInfo },
    actorUserId: 0,
    recipients: invitees,
  };
}
