import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { AppConfig } from '../config/app-config';
import { Db, Queryable } from '../database/db';
import {
  PreparedSystemMessage,
  SystemMessageService,
  SystemMessageSpec,
  SystemMessageType,
} from '../system-messages/system-messages.service';
import { UserProfile, UsersService } from '../users/users.service';
import { actsAsOwner, isOwnerOrAdmin, memberByAppId, requireMember, requireOwner, requireOwnerOrAdmin, ROLE_ADMIN, roleOf } from './group-access';
import { conversationKey, WebhookOutbox } from '../webhooks/outbox';
import { EventActor, enqueueGroupEvents } from '../webhooks/group-events';
import { actorIdOf, groupSpec, invitedSpec, joinedExtra, nameOf, newInviteCode, noSuchGroup, parseGroupId, sameCode, unique } from './group-helpers';

/** Who performs an operation: a user over WebSocket (with the connection it came on) or the admin API. */
export type Actor = { kind: 'user'; userId: number; connectionId?: string } | { kind: 'admin' };
export const ADMIN: Actor = { kind: 'admin' };

export interface GroupMember {
  app_user_id: string;
  nickname: string;
  head: string;
  role: GroupRole;
  /** ms since the epoch until which the member may not post; 0 when not muted (a past mute reads 0). */
  muted_until: number;
}

export type GroupRole = 'owner' | 'admin' | 'member';
/** Longest mute (PROTOCOL §5: minutes 1–43200, 30 days). */
export const MAX_MUTE_MINUTES = 43_200;

/** The group fields as clients see them (the groupInfo data without member_list). */
export interface GroupFields {
  group_id: string;
  group_name: string;
  cover: string;
  notice: string;
  owner: string;
  banned_to_post: number;
  invite_mode: number;
  /** Only in what the owner (and the admin API) is shown; never in system messages. */
  invite_code?: string;
  member_count: number;
  created_at: number;
}

export interface GroupView extends GroupFields {
  member_list: GroupMember[];
}

export interface GroupChanges {
  group_name?: string;
  cover?: string;
  notice?: string;
  banned_to_post?: number;
  invite_mode?: number;
  /** New owner's app_user_id. */
  app_user_id?: string;
  /** 1: draw a new invite code (the old one stops working). Never echoed in 12. */
  reset_invite_code?: number;
}

export interface NewGroup {
  group_name: string;
  cover?: string;
  notice?: string;
}

interface GroupRow {
  id: number;
  group_name: string;
  cover: string;
  notice: string;
  owner_id: number;
  banned_to_post: number;
  invite_mode: number;
  invite_code: string;
  created_at: number;
  dissolved_at: number | null;
  last_seq: number;
}

export interface MemberRow extends UserProfile {
  joined_at: number;
  role: number;
  muted_until: number;
}

/** A group as loaded inside a transaction, with its members at that moment. */
export interface LoadedGroup {
  row: GroupRow;
  members: MemberRow[];
  memberIds: Set<number>;
}

const CHANGE_FIELDS = ['group_name', 'cover', 'notice', 'banned_to_post', 'invite_mode', 'app_user_id', 'reset_invite_code'] as const;
/** What admins may change besides the owner (PROTOCOL §5 editGroup). */
const ADMIN_EDIT_FIELDS: readonly string[] = ['group_name', 'cover', 'notice', 'banned_to_post'];
/** Changes that members see (in 12's extra); reset_invite_code is not one of them. */
const VISIBLE_CHANGE_FIELDS = CHANGE_FIELDS.filter((name) => name !== 'reset_invite_code');

/**
 * Group rules for every transport (WebSocket actions and admin REST alike). Each operation runs in
 * one transaction that locks the group's conversation row (serializing it against other group
 * operations and against message sends to the group), stores its system messages in that same
 * transaction, and pushes them after COMMIT.
 */
@Injectable()
export class GroupsService {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly systemMessages: SystemMessageService,
    private readonly config: AppConfig,
    private readonly outbox: WebhookOutbox,
  ) {}

  // ---- operations --------------------------------------------------------------------------

  /** createGroup / POST /admin/groups: `ownerId` owns it; 17 goes to each added member, naming the owner as inviter. */
  async create(actor: Actor, ownerId: number, fields: NewGroup, memberAppIds: string[], field = 'extra.app_user_ids'): Promise<GroupView> {
    const owner = await this.userById(ownerId);
    const invitees = (await this.users.profilesByAppIds(unique(memberAppIds))).filter((user) => user.user_id !== ownerId);
    if (invitees.length + 1 > this.config.MAX_GROUP_MEMBERS) {
      throw ImError.badRequest(`${field}: a group holds at most ${this.config.MAX_GROUP_MEMBERS} members`);
    }
    const { view, messages } = await this.db.transaction(async (tx) => {
      const now = Date.now();
      const [{ id }] = await tx.query<{ id: number }>(`INSERT INTO conversations (kind, last_seq) VALUES (2, 0) RETURNING id`);
      await tx.query(
        `INSERT INTO groups (id, group_name, cover, notice, owner_id, banned_to_post, invite_mode, invite_code, created_at)
         VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $7)`,
        [id, fields.group_name, fields.cover ?? '', fields.notice ?? '', ownerId, newInviteCode(), now],
      );
      await this.addMembers(tx, id, 0, [owner.user_id, ...invitees.map((user) => user.user_id)], now);
      const group = await this.load(tx, String(id));
      const view = this.view(group);
      const messages: PreparedSystemMessage[] = [];
      if (invitees.length > 0) {
        const spec = invitedSpec(view, owner, invitees.map((user) => user.user_id));
        messages.push(await this.systemMessages.prepare(tx, { ...spec, actorUserId: actorIdOf(actor) }));
      }
      if (this.outbox.eventsEnabled) {
        const { invite_code: _code, ...info } = view;
        await this.outbox.enqueue(tx, 'group.created', conversationKey(id), { ...info, by: await this.eventActor(actor, tx) }, now);
      }
      // the reply goes to the owner (or the admin API) and shows the code; the 17s above do not
      return { view: this.view(group, true), messages };
    });
    this.systemMessages.publish(messages);
    if (this.outbox.eventsEnabled) this.outbox.kick();
    return view;
  }

  /**
   * editGroup / PATCH: owner only; 12 to every member with the changed fields. `reset_invite_code`
   * draws a new code; it is never in 12, and a reset with no other change sends no 12 at all.
   */
  async edit(actor: Actor, groupId: string, changes: GroupChanges): Promise<GroupView> {
    // null counts as absent (as the validators' IsOptional treats it): not changed, not in 12's extra
    const given = CHANGE_FIELDS.filter((name) => changes[name] !== undefined && changes[name] !== null);
    if (given.length === 0) throw ImError.badRequest(`extra must hold at least one of ${CHANGE_FIELDS.join(', ')}`);
    return this.inGroup(actor, groupId, async (tx, group, gid) => {
      const ownerOnly = given.filter((name) => !ADMIN_EDIT_FIELDS.includes(name));
      if (ownerOnly.length > 0) requireOwner(actor, group, `only the group owner may change ${ownerOnly.join(', ')}`);
      else requireOwnerOrAdmin(actor, group);
      let newOwnerId: number | undefined;
      if (given.includes('app_user_id')) {
        const newOwner = group.members.find((member) => member.app_user_id === changes.app_user_id);
        if (!newOwner) throw ImError.badRequest(`app_user_id: ${changes.app_user_id} is not a member of this group`);
        newOwnerId = newOwner.user_id;
      }
      await tx.query(
        `UPDATE groups SET group_name = COALESCE($2, group_name), cover = COALESCE($3, cover), notice = COALESCE($4, notice),
           banned_to_post = COALESCE($5, banned_to_post), invite_mode = COALESCE($6, invite_mode), owner_id = COALESCE($7, owner_id),
           invite_code = COALESCE($8, invite_code)
         WHERE id = $1`,
        [
          gid,
          changes.group_name ?? null,
          changes.cover ?? null,
          changes.notice ?? null,
          changes.banned_to_post ?? null,
          changes.invite_mode ?? null,
          newOwnerId ?? null,
          given.includes('reset_invite_code') ? newInviteCode() : null,
        ],
      );
      // the new owner's row loses any admin role (it would count against the admins' limit); the old owner becomes a member
      if (newOwnerId !== undefined) await tx.query(`UPDATE conversation_members SET role = 0 WHERE conversation_id = $1 AND user_id = $2`, [gid, newOwnerId]);
      const visible = VISIBLE_CHANGE_FIELDS.filter((name) => given.includes(name));
      if (visible.length === 0) return { spec: [] };
      const extra: Record<string, unknown> = { group_id: gid };
      for (const name of visible) extra[name] = changes[name];
      const spec = groupSpec(SystemMessageType.GroupEdited, gid, extra, [...group.memberIds]);
      return { spec: [spec] };
    });
  }

  /** inviteToGroup / POST …/members: 17 to each invitee, 16 to the members who were in before. */
  async invite(actor: Actor, groupId: string, appUserIds: string[], inviterAppId?: string): Promise<GroupView> {
    const wanted = unique(appUserIds);
    if (wanted.length === 0) throw ImError.badRequest('extra.app_user_ids must not be empty');
    return this.inGroup(actor, groupId, async (tx, group, gid, now) => {
      let inviter: UserProfile;
      if (actor.kind === 'user') {
        requireMember(actor.userId, group);
        if (group.row.invite_mode === 1 && !isOwnerOrAdmin(actor.userId, group)) {
          throw ImError.forbidden('only the owner and admins may invite while invite_mode is 1');
        }
        inviter = group.members.find((member) => member.user_id === actor.userId)!;
      } else if (inviterAppId !== undefined) {
        const named = group.members.find((member) => member.app_user_id === inviterAppId);
        if (!named) throw ImError.badRequest(`inviter: ${inviterAppId} is not a member of this group`);
        inviter = named;
      } else {
        inviter = group.members.find((member) => member.user_id === group.row.owner_id)!;
      }
      const invitees = await this.users.profilesByAppIds(wanted, tx);
      const already = invitees.filter((user) => group.memberIds.has(user.user_id));
      if (already.length > 0) {
        throw ImError.badRequest(`app_user_ids: already members: ${already.map((user) => user.app_user_id).join(', ')}`);
      }
      this.checkSize(group.members.length + invitees.length);
      await this.addMembers(tx, Number(gid), group.row.last_seq, invitees.map((user) => user.user_id), now);
      const after = await this.load(tx, gid);
      const joined = groupSpec(SystemMessageType.MembersJoined, gid, joinedExtra(gid, inviter, invitees), [...group.memberIds]);
      const invited = invitedSpec(this.view(after), inviter, invitees.map((user) => user.user_id));
      return { spec: [joined, invited], view: this.view(after, this.maySeeCode(actor, after)) };
    });
  }

  /**
   * joinGroup: with the group's current invite code (403 without one or with a wrong one), and only
   * while invite_mode is 0; 16 to every member, the joiner included.
   */
  async join(actor: Actor & { kind: 'user' }, groupId: string, inviteCode: string | undefined): Promise<GroupView> {
    return this.inGroup(actor, groupId, async (tx, group, gid, now) => {
      if (group.row.invite_mode === 1) throw ImError.forbidden('this group is invite-only (invite_mode 1)');
      if (typeof inviteCode !== 'string') throw ImError.forbidden('extra.invite_code is required to join this group');
      if (!sameCode(inviteCode, group.row.invite_code)) throw ImError.forbidden('extra.invite_code: wrong or outdated invite code');
      if (group.memberIds.has(actor.userId)) throw ImError.badRequest('group_id: you are already a member of this group');
      this.checkSize(group.members.length + 1);
      const joiner = await this.userById(actor.userId, tx);
      await this.addMembers(tx, Number(gid), group.row.last_seq, [actor.userId], now);
      const extra = joinedExtra(gid, joiner, [joiner]);
      return { spec: [groupSpec(SystemMessageType.MembersJoined, gid, extra, [...group.memberIds, actor.userId])] };
    });
  }

  /** removeFromGroup / DELETE …/members: owner and admins (admins not admins), never the owner; 14 to every member, the removed included. */
  async remove(actor: Actor, groupId: string, appUserIds: string[]): Promise<GroupView> {
    const wanted = unique(appUserIds);
    if (wanted.length === 0) throw ImError.badRequest('extra.app_user_ids must not be empty');
    return this.inGroup(actor, groupId, async (tx, group, gid) => {
      requireOwnerOrAdmin(actor, group);
      const removed = await this.users.profilesByAppIds(wanted, tx);
      if (removed.some((user) => user.user_id === group.row.owner_id)) {
        throw ImError.badRequest('app_user_ids: the owner cannot be removed (transfer ownership or dissolve the group)');
      }
      const strangers = removed.filter((user) => !group.memberIds.has(user.user_id));
      if (strangers.length > 0) {
        throw ImError.badRequest(`app_user_ids: not members: ${strangers.map((user) => user.app_user_id).join(', ')}`);
      }
      if (!actsAsOwner(actor, group)) {
        const admins = removed.filter((user) => roleOf(user.user_id, group) === 'admin');
        if (admins.length > 0) throw ImError.forbidden(`admins may not remove admins: ${admins.map((user) => user.app_user_id).join(', ')}`);
      }
      await tx.query(`DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = ANY($2::int[])`, [
        gid,
        removed.map((user) => user.user_id),
      ]);
      const admin = group.members.find((member) => member.user_id === (actor.kind === 'user' ? actor.userId : group.row.owner_id))!;
      const extra = {
        group_id: gid,
        removed_member_list: removed.map(nameOf),
        admin: nameOf(admin),
      };
      return { spec: [groupSpec(SystemMessageType.MembersRemoved, gid, extra, [...group.memberIds])] };
    });
  }

  /**
   * setGroupRole / PUT …/roles/{app_user_id}: owner only. The member becomes `admin` or `member`; at most
   * MAX_GROUP_ADMINS admins. 18 to every member (a role it already has is a 200 that sends nothing).
   */
  async setRole(actor: Actor, groupId: string, appUserId: string, role: 'admin' | 'member', prefix = 'extra.'): Promise<GroupView> {
    return this.inGroup(actor, groupId, async (tx, group, gid) => {
      requireOwner(actor, group);
      const target = memberByAppId(group, appUserId, `${prefix}app_user_id`);
      if (target.user_id === group.row.owner_id) throw ImError.badRequest(`${prefix}app_user_id: the owner has no other role (transfer ownership with editGroup)`);
      const current = roleOf(target.user_id, group);
      if (current === role) return { spec: [] };
      if (role === 'admin') {
        const admins = group.members.filter((member) => member.role === ROLE_ADMIN && member.user_id !== group.row.owner_id).length;
        if (admins >= this.config.MAX_GROUP_ADMINS) throw ImError.badRequest(`${prefix}role: a group has at most ${this.config.MAX_GROUP_ADMINS} admins`);
      }
      await tx.query(`UPDATE conversation_members SET role = $3 WHERE conversation_id = $1 AND user_id = $2`, [gid, target.user_id, role === 'admin' ? ROLE_ADMIN : 0]);
      const extra = { group_id: gid, member: nameOf(target), role };
      return { spec: [groupSpec(SystemMessageType.MemberRoleChanged, gid, extra, [...group.memberIds])] };
    });
  }

  /**
   * muteMember / PUT …/mutes/{app_user_id}: owner and admins; never the owner, and admins may not mute
   * admins. `minutes` 0 lifts the mute, 1–43200 mutes until now + minutes. 22 to every member.
   */
  async mute(actor: Actor, groupId: string, appUserId: string, minutes: number, prefix = 'extra.'): Promise<GroupView> {
    return this.inGroup(actor, groupId, async (tx, group, gid, now) => {
      requireOwnerOrAdmin(actor, group);
      const target = memberByAppId(group, appUserId, `${prefix}app_user_id`);
      if (target.user_id === group.row.owner_id) throw ImError.badRequest(`${prefix}app_user_id: the owner cannot be muted`);
      if (!actsAsOwner(actor, group) && roleOf(target.user_id, group) === 'admin') throw ImError.forbidden('admins may not mute admins');
      const mutedUntil = minutes === 0 ? 0 : now + minutes * 60_000;
      await tx.query(`UPDATE conversation_members SET muted_until = $3 WHERE conversation_id = $1 AND user_id = $2`, [gid, target.user_id, mutedUntil]);
      const extra = { group_id: gid, member: nameOf(target), muted_until: mutedUntil };
      return { spec: [groupSpec(SystemMessageType.MemberMuted, gid, extra, [...group.memberIds])] };
    });
  }

  /** leaveGroup: members but the owner; 15 to the remaining members and the leaver's other connections. */
  async leave(actor: Actor & { kind: 'user' }, groupId: string): Promise<void> {
    await this.inGroup(actor, groupId, async (tx, group, gid) => {
      requireMember(actor.userId, group);
      if (group.row.owner_id === actor.userId) {
        throw ImError.badRequest('group_id: the owner cannot leave; transfer ownership (editGroup app_user_id) or dissolve the group first');
      }
      await tx.query(`DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2`, [gid, actor.userId]);
      const leaver = group.members.find((member) => member.user_id === actor.userId)!;
      const remaining = [...group.memberIds].filter((id) => id !== actor.userId);
      const spec = groupSpec(SystemMessageType.MemberLeft, gid, { group_id: gid, member: nameOf(leaver) }, remaining);
      spec.pushOnly = [{ userId: actor.userId, exceptConnectionId: actor.connectionId }];
      return { spec: [spec], view: null };
    });
  }

  /** dissolveGroup / DELETE: owner only; 13 to every member; 404 for everything from then on. */
  async dissolve(actor: Actor, groupId: string): Promise<void> {
    await this.inGroup(actor, groupId, async (tx, group, gid, now) => {
      requireOwner(actor, group);
      await tx.query(`UPDATE groups SET dissolved_at = $2 WHERE id = $1`, [gid, now]);
      return { spec: [groupSpec(SystemMessageType.GroupDissolved, gid, { group_id: gid }, [...group.memberIds])], view: null };
    });
  }

  /** groupInfo / GET: members only (the admin API sees every group); the invite code only for the owner, admins and the admin API. */
  async info(actor: Actor, groupId: string): Promise<GroupView> {
    const group = await this.load(this.db, parseGroupId(groupId));
    if (actor.kind === 'user') requireMember(actor.userId, group);
    return this.view(group, this.maySeeCode(actor, group));
  }

  // ---- helpers -----------------------------------------------------------------------------

  /**
   * Runs `work` in a transaction on a live group (404 otherwise), with its conversation row locked;
   * stores the system messages it returns in the same transaction and pushes them after COMMIT.
   * Returns the group as it is after the change (unless `work` returns `view: null`).
   */
  private async inGroup(
    actor: Actor,
    groupId: string,
    work: (tx: Queryable, group: LoadedGroup, gid: string, now: number) => Promise<{ spec: SystemMessageSpec[]; view?: GroupView | null }>,
  ): Promise<GroupView> {
    const id = parseGroupId(groupId);
    const { view, messages } = await this.db.transaction(async (tx) => {
      const locked = await tx.query(`SELECT id FROM conversations WHERE id = $1 AND kind = 2 FOR UPDATE`, [id]);
      if (locked.length === 0) throw noSuchGroup(groupId);
      const group = await this.load(tx, id);
      const now = Date.now();
      const result = await work(tx, group, id, now);
      let view = result.view;
      if (view === undefined) {
        const after = await this.load(tx, id);
        view = this.view(after, this.maySeeCode(actor, after));
      }
      const messages: PreparedSystemMessage[] = [];
      for (const spec of result.spec) messages.push(await this.systemMessages.prepare(tx, { ...spec, actorUserId: actorIdOf(actor) }));
      if (this.outbox.eventsEnabled && result.spec.length > 0) await enqueueGroupEvents(this.outbox, tx, id, result.spec, await this.eventActor(actor, tx), now);
      return { view, messages };
    });
    this.systemMessages.publish(messages);
    if (this.outbox.eventsEnabled) this.outbox.kick();
    return view as GroupView;
  }

  /** The live group with its members (owner first, then by join time); 404 when missing or dissolved. */
  private async load(q: Queryable, groupId: string): Promise<LoadedGroup> {
    const [row] = await q.query<GroupRow>(
      `SELECT g.id, g.group_name, g.cover, g.notice, g.owner_id, g.banned_to_post, g.invite_mode, g.invite_code, g.created_at, g.dissolved_at, c.last_seq
         FROM groups g JOIN conversations c ON c.id = g.id WHERE g.id = $1`,
      [groupId],
    );
    if (!row || row.dissolved_at !== null) throw noSuchGroup(groupId);
    const members = await q.query<MemberRow>(
      `SELECT u.id AS user_id, u.app_user_id, u.nickname, u.head, m.joined_at, m.role, m.muted_until
         FROM conversation_members m JOIN users u ON u.id = m.user_id
        WHERE m.conversation_id = $1
        ORDER BY (m.user_id = $2) DESC, m.joined_at, m.user_id`,
      [groupId, row.owner_id],
    );
    return { row, members, memberIds: new Set(members.map((member) => member.user_id)) };
  }

  /** The group as clients see it; `withCode` only for the owner, admins and the admin API, never in system messages. */
  private view(group: LoadedGroup, withCode = false): GroupView {
    const { row, members } = group;
    const now = Date.now();
    const owner = members.find((member) => member.user_id === row.owner_id);
    return {
      group_id: String(row.id),
      group_name: row.group_name,
      cover: row.cover,
      notice: row.notice,
      owner: owner?.app_user_id ?? '',
      banned_to_post: row.banned_to_post,
      invite_mode: row.invite_mode,
      ...(withCode ? { invite_code: row.invite_code } : {}),
      member_count: members.length,
      created_at: row.created_at,
      member_list: members.map((member) => ({
        app_user_id: member.app_user_id,
        nickname: member.nickname,
        head: member.head,
        role: member.user_id === row.owner_id ? 'owner' : member.role === ROLE_ADMIN ? 'admin' : 'member',
        muted_until: Number(member.muted_until) > now ? Number(member.muted_until) : 0,
      })),
    };
  }

  /** New members start reading at the group's current last seq: nothing before their joining is unread or readable. */
  private async addMembers(tx: Queryable, groupId: number, lastSeq: number, userIds: number[], now: number): Promise<void> {
    await tx.query(
      `INSERT INTO conversation_members (conversation_id, user_id, read_seq, joined_seq, joined_at)
       SELECT $1, u, $2, $2, $3 FROM unnest($4::int[]) AS u`,
      [groupId, lastSeq, now, userIds],
    );
  }

  /** `by` of a webhook event: the acting user, null for the admin API. */
  private async eventActor(actor: Actor, tx: Queryable): Promise<EventActor> {
    if (actor.kind === 'admin') return null;
    const user = await this.userById(actor.userId, tx);
    return { app_user_id: user.app_user_id, nickname: user.nickname };
  }

  /** Who is shown the invite code: the owner, admins and the admin API. */
  private maySeeCode(actor: Actor, group: LoadedGroup): boolean {
    return actor.kind === 'admin' || isOwnerOrAdmin(actor.userId, group);
  }








  private checkSize(count: number): void {
    if (count > this.config.MAX_GROUP_MEMBERS) {
      throw ImError.badRequest(`app_user_ids: a group holds at most ${this.config.MAX_GROUP_MEMBERS} members`);
    }
  }

  private async userById(userId: number, q?: Queryable): Promise<UserProfile> {
    const user = await this.users.findById(userId, q);
    if (!user) throw ImError.notFound(`no such user: ${userId}`);
    return { user_id: user.user_id, app_user_id: user.app_user_id, nickname: user.nickname, head: user.head };
  }
}

export { newInviteCode } from './group-helpers';
