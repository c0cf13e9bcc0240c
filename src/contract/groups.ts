import {
  appUserId,
  appUserIdList,
  EXPECTED,
  extraObject,
  flag,
  groupId,
  httpUrlOrEmpty,
  integer,
  nullable,
  request,
  Schema,
  text,
} from './common';

/**
 * Group requests (PROTOCOL §5). Parameters live in `extra`; a top-level `group_id` is accepted as a
 * fallback (`extra.group_id` wins when both are given). Business rules (who may, members that must
 * exist, the group size) are the groups service's.
 */

/** Group ids the group actions accept (longer: 400). */
export const GROUP_ID_DIGITS = 18;
/** Upper bound of one list of app_user_ids in a request (the group size limit is checked too). */
export const MAX_IDS_PER_REQUEST = 10_000;

const gid = () => groupId('the group', GROUP_ID_DIGITS);

/** The group is named by extra.group_id or, as a fallback, the top-level group_id. */
const namesAGroup = (): Schema => ({
  anyOf: [{ required: ['group_id'] }, { required: ['extra'], properties: { extra: { type: 'object', required: ['group_id'] } } }],
  [EXPECTED]: 'extra.group_id is required (a string of digits)',
});

/** A request whose `extra` holds the group and `fields`. */
function groupRequest(action: string, summary: string, fields: Record<string, Schema>, required: string[], extraRequired: boolean): Schema {
  const extra = extraObject(`the parameters of ${action}`, { group_id: gid(), ...fields }, required);
  return request(
    action,
    summary,
    { group_id: groupId('fallback for extra.group_id (used when extra.group_id is absent)', GROUP_ID_DIGITS), extra: extraRequired ? extra : nullable(extra) },
    extraRequired ? ['extra'] : [],
    { allOf: [namesAGroup()] },
  );
}

export const createGroup = request(
  'createGroup',
  'Create a group; the caller becomes its owner. Reply data = the group with member_list.',
  {
    extra: extraObject(
      'the new group',
      {
        group_name: text('name of the group', 1, 64),
        cover: nullable(httpUrlOrEmpty('http/https URL of the cover image, or ""')),
        notice: nullable(text('notice', 0, 300)),
        app_user_ids: appUserIdList('members to add besides the caller', { maxItems: MAX_IDS_PER_REQUEST }),
      },
      ['group_name', 'app_user_ids'],
    ),
  },
  ['extra'],
);

export const editGroup = groupRequest(
  'editGroup',
  'Change any of the fields (null = not given; at least one must be given). Owner; admins for group_name, cover, notice, banned_to_post.',
  {
    group_name: nullable(text('new name', 1, 64)),
    cover: nullable(httpUrlOrEmpty('new cover: http/https URL or ""')),
    notice: nullable(text('new notice', 0, 300)),
    banned_to_post: nullable(flag('1: only the owner and admins may post')),
    invite_mode: nullable(flag('1: only the owner and admins may invite')),
    reset_invite_code: nullable({
      type: 'integer',
      const: 1,
      description: '1: draw a new invite code (the old one stops working); owner only',
      [EXPECTED]: 'must be 1',
    }),
    app_user_id: nullable(appUserId('new owner; must already be a member')),
  },
  [],
  true,
);

export const inviteToGroup = groupRequest(
  'inviteToGroup',
  'Add members. Any member when invite_mode is 0; only the owner and admins when 1.',
  { app_user_ids: appUserIdList('the users to add', { minItems: 1, maxItems: MAX_IDS_PER_REQUEST }) },
  ['app_user_ids'],
  true,
);

export const joinGroup = groupRequest(
  'joinGroup',
  'Join a group with its current invite code. Without a code (absent or null) or with a wrong one: 403 (PROTOCOL §5), decided by the groups service, so the schema only fixes its type.',
  {
    invite_code: nullable({
      type: 'string',
      description: "the group's current invite code: 16 URL-safe characters [A-Za-z0-9_-] (a string of any other form is a wrong code: 403)",
      examples: ['Zx3_k9Qw-2LmP0aB'],
      [EXPECTED]: 'must be a string',
    }),
  },
  [],
  false,
);

export const removeFromGroup = groupRequest(
  'removeFromGroup',
  'Remove members (not the owner; admins may not remove admins). Owner and admins.',
  { app_user_ids: appUserIdList('the members to remove', { minItems: 1, maxItems: MAX_IDS_PER_REQUEST }) },
  ['app_user_ids'],
  true,
);

export const setGroupRole = groupRequest(
  'setGroupRole',
  'Make a member an admin or a plain member again (owner only; at most 20 admins). 18 to every member. Reply data = the group.',
  {
    app_user_id: appUserId('the member whose role changes (not the owner)'),
    role: { type: 'string', enum: ['admin', 'member'], description: 'the new role', [EXPECTED]: 'must be "admin" or "member"' },
  },
  ['app_user_id', 'role'],
  true,
);

export const muteMember = groupRequest(
  'muteMember',
  'Mute a member for `minutes` (0 lifts the mute). Owner and admins; never the owner; admins may not mute admins. 22 to every member. Reply data = the group.',
  {
    app_user_id: appUserId('the member to mute (not the owner)'),
    minutes: integer('minutes from now (0 = lift the mute; at most 43200 = 30 days)', 0, 43_200),
  },
  ['app_user_id', 'minutes'],
  true,
);

export const readBy = groupRequest(
  'readBy',
  "Who of the group's members (not the sender) has read a message: counts and lists cut at limit. The message's sender, the owner and admins.",
  {
    msg_id: integer('the group message', 1, Number.MAX_SAFE_INTEGER, 'must be a positive integer'),
    limit: nullable({ ...integer('length of each list (default 100)', 1, 500), default: 100 }),
  },
  ['msg_id'],
  true,
);

export const leaveGroup = groupRequest('leaveGroup', 'Leave a group (any member but the owner).', {}, [], false);

export const dissolveGroup = groupRequest('dissolveGroup', 'Dissolve a group (owner only); 404 from then on.', {}, [], false);

export const groupInfo = groupRequest('groupInfo', "The group's fields and member_list (members only).", {}, [], false);

// ---- the TypeScript shape of a request that passed its schema (what the gateway receives) ----

interface GroupRequestBase<Extra> {
  action: string;
  nonce: string;
  /** fallback for extra.group_id */
  group_id?: string;
  extra?: Extra | null;
}

export type GroupOnlyRequest = GroupRequestBase<{ group_id?: string }>;
/** invite_code may also be null (= not given: 403). */
export type JoinGroupRequest = GroupRequestBase<{ group_id?: string; invite_code?: string }>;
export type MembersRequest = GroupRequestBase<{ group_id?: string; app_user_ids: string[] }> & { extra: { group_id?: string; app_user_ids: string[] } };
/** The schema also lets each field be null (= not given); the groups service treats null as absent. */
export interface EditGroupExtra {
  group_id?: string;
  group_name?: string;
  cover?: string;
  notice?: string;
  banned_to_post?: number;
  invite_mode?: number;
  reset_invite_code?: 1;
  app_user_id?: string;
}
export type EditGroupRequest = GroupRequestBase<EditGroupExtra> & { extra: EditGroupExtra };
export interface CreateGroupRequest {
  action: string;
  nonce: string;
  /** cover and notice may also be null (= not given) */
  extra: { group_name: string; cover?: string; notice?: string; app_user_ids: string[] };
}
export type SetGroupRoleRequest = GroupRequestBase<{ group_id?: string; app_user_id: string; role: 'admin' | 'member' }> & {
  extra: { group_id?: string; app_user_id: string; role: 'admin' | 'member' };
};
export type MuteMemberRequest = GroupRequestBase<{ group_id?: string; app_user_id: string; minutes: number }> & {
  extra: { group_id?: string; app_user_id: string; minutes: number };
};
export type ReadByRequest = GroupRequestBase<{ group_id?: string; msg_id: number; limit?: number | null }> & {
  extra: { group_id?: string; msg_id: number; limit?: number | null };
};
