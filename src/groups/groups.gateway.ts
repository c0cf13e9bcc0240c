import { SubscribeMessage } from '@nestjs/websockets';
import { ImError } from '../common/im-error';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { ImSocket } from '../realtime/im-ws-adapter';
import { CreateGroupRequest, EditGroupRequest, GroupOnlyRequest, JoinGroupRequest, MembersRequest, MuteMemberRequest, SetGroupRoleRequest } from '../contract/groups';
import { Actor, GroupsService, GroupView } from './groups.service';

type UserActor = Actor & { kind: 'user' };

/**
 * The group actions of PROTOCOL §5; parameters in `extra`, a top-level group_id accepted as a fallback.
 * Requests arrive validated against their schema (src/contract/groups.ts) by the WebSocket adapter.
 */
@ImGateway()
export class GroupsGateway {
  constructor(private readonly groups: GroupsService) {}

  @SubscribeMessage('createGroup')
  async create(socket: ImSocket, body: CreateGroupRequest): Promise<ReplyBody> {
    const actor = actorOf(socket);
    const { group_name, cover, notice, app_user_ids } = body.extra;
    const group = await this.groups.create(actor, actor.userId, { group_name, cover, notice }, app_user_ids);
    return groupReply(group);
  }

  @SubscribeMessage('editGroup')
  async edit(socket: ImSocket, body: EditGroupRequest): Promise<ReplyBody> {
    const { group_name, cover, notice, banned_to_post, invite_mode, app_user_id, reset_invite_code } = body.extra;
    const changes = { group_name, cover, notice, banned_to_post, invite_mode, app_user_id, reset_invite_code };
    const group = await this.groups.edit(actorOf(socket), groupIdOf(body), changes);
    return groupReply(group);
  }

  @SubscribeMessage('inviteToGroup')
  async invite(socket: ImSocket, body: MembersRequest): Promise<ReplyBody> {
    return groupReply(await this.groups.invite(actorOf(socket), groupIdOf(body), body.extra.app_user_ids));
  }

  @SubscribeMessage('joinGroup')
  async join(socket: ImSocket, body: JoinGroupRequest): Promise<ReplyBody> {
    // a missing code is 403 (PROTOCOL §5: "403 without one or with a wrong one"), not a 400
    return groupReply(await this.groups.join(actorOf(socket), groupIdOf(body), body.extra?.invite_code));
  }

  @SubscribeMessage('removeFromGroup')
  async remove(socket: ImSocket, body: MembersRequest): Promise<ReplyBody> {
    return groupReply(await this.groups.remove(actorOf(socket), groupIdOf(body), body.extra.app_user_ids));
  }

  @SubscribeMessage('setGroupRole')
  async setRole(socket: ImSocket, body: SetGroupRoleRequest): Promise<ReplyBody> {
    return groupReply(await this.groups.setRole(actorOf(socket), groupIdOf(body), body.extra.app_user_id, body.extra.role));
  }

  @SubscribeMessage('muteMember')
  async mute(socket: ImSocket, body: MuteMemberRequest): Promise<ReplyBody> {
    return groupReply(await this.groups.mute(actorOf(socket), groupIdOf(body), body.extra.app_user_id, body.extra.minutes));
  }

  @SubscribeMessage('leaveGroup')
  async leave(socket: ImSocket, body: GroupOnlyRequest): Promise<string> {
    const groupId = groupIdOf(body);
    await this.groups.leave(actorOf(socket), groupId);
    // Exactly the shape PROTOCOL §5 shows (`result` appears only here), in its key order.
    return JSON.stringify({ code: 200, result: '', msg: 'OK', action: 'leaveGroup', nonce: body.nonce, group_id: groupId });
  }

  @SubscribeMessage('dissolveGroup')
  async dissolve(socket: ImSocket, body: GroupOnlyRequest): Promise<ReplyBody> {
    const groupId = groupIdOf(body);
    await this.groups.dissolve(actorOf(socket), groupId);
    return { group_id: groupId };
  }

  @SubscribeMessage('groupInfo')
  async info(socket: ImSocket, body: GroupOnlyRequest): Promise<ReplyBody> {
    return groupReply(await this.groups.info(actorOf(socket), groupIdOf(body)));
  }
}

function actorOf(socket: ImSocket): UserActor {
  const connection = socket.connection;
  if (!connection) throw ImError.unauthorized();
  return { kind: 'user', userId: connection.userId, connectionId: connection.id };
}

/** extra.group_id, or the top-level group_id as a fallback (both validated as strings of digits). */
function groupIdOf(body: { group_id?: string; extra?: { group_id?: string } | null }): string {
  const groupId = body.extra?.group_id ?? body.group_id;
  if (groupId === undefined) throw ImError.badRequest('extra.group_id is required');
  return groupId;
}

function groupReply(group: GroupView): ReplyBody {
  return { group_id: group.group_id, data: group };
}
