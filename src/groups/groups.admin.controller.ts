import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiError } from '../openapi/api-errors';
import { AdminApi } from '../auth/admin.guard';
import { UsersService } from '../users/users.service';
import { AdminAddMembersBody, AdminCreateGroupBody, AdminMuteBody, AdminRemoveMembersBody, AdminSetRoleBody, DissolvedDto, GroupChangesDto, GroupDto } from './groups.dto';
import { ADMIN, GroupsService, GroupView } from './groups.service';

/**
 * The group operations for the app's back end, over the same GroupsService as the WebSocket actions.
 * The admin acts as `user_id` 0 in the system messages it causes; owner-only rules do not apply.
 */
@ApiTags('admin: groups')
@AdminApi()
@Controller('admin/groups')
export class GroupsAdminController {
  constructor(
    private readonly groups: GroupsService,
    private readonly users: UsersService,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'create a group; 17 goes to each member, the owner named as inviter' })
  @ApiOkResponse({ type: GroupDto })
  @ApiError(404, 'owner or a member does not exist')
  async create(@Body() body: AdminCreateGroupBody): Promise<GroupView> {
    const owner = await this.users.profile(body.owner);
    return this.groups.create(ADMIN, owner.user_id, { group_name: body.group_name, cover: body.cover, notice: body.notice }, body.members, 'members');
  }

  @Patch(':group_id')
  @ApiOperation({
    summary:
      'edit the group (any subset; app_user_id transfers ownership to a member; reset_invite_code 1 draws a new invite code); 12 to every member with the changed fields (never the code; none for a reset alone)',
  })
  @ApiOkResponse({ type: GroupDto })
  @ApiError(404, 'no such group (or dissolved)')
  edit(@Param('group_id') groupId: string, @Body() body: GroupChangesDto): Promise<GroupView> {
    const { group_name, cover, notice, banned_to_post, invite_mode, app_user_id, reset_invite_code } = body ?? {};
    return this.groups.edit(ADMIN, groupId, { group_name, cover, notice, banned_to_post, invite_mode, app_user_id, reset_invite_code });
  }

  @Post(':group_id/members')
  @HttpCode(200)
  @ApiOperation({ summary: 'add members (ignores invite_mode); 17 to each, 16 to the members already in' })
  @ApiOkResponse({ type: GroupDto })
  @ApiError(404, 'no such group, or no such user')
  addMembers(@Param('group_id') groupId: string, @Body() body: AdminAddMembersBody): Promise<GroupView> {
    return this.groups.invite(ADMIN, groupId, body.app_user_ids, body.inviter);
  }

  @Delete(':group_id/members')
  @ApiOperation({ summary: 'remove members (never the owner); 14 to every member, the removed included' })
  @ApiOkResponse({ type: GroupDto })
  @ApiError(404, 'no such group, or no such user')
  removeMembers(@Param('group_id') groupId: string, @Body() body: AdminRemoveMembersBody): Promise<GroupView> {
    return this.groups.remove(ADMIN, groupId, body.app_user_ids);
  }

  @Put(':group_id/roles/:app_user_id')
  @ApiOperation({ summary: 'as setGroupRole: make a member an admin or a member (not the owner; at most MAX_GROUP_ADMINS admins); 18 to every member' })
  @ApiOkResponse({ type: GroupDto })
  @ApiError(404, 'no such group (or dissolved)')
  setRole(@Param('group_id') groupId: string, @Param('app_user_id') appUserId: string, @Body() body: AdminSetRoleBody): Promise<GroupView> {
    return this.groups.setRole(ADMIN, groupId, appUserId, body.role, '');
  }

  @Put(':group_id/mutes/:app_user_id')
  @ApiOperation({ summary: 'as muteMember: mute a member for `minutes` (0 lifts it; never the owner); 22 to every member' })
  @ApiOkResponse({ type: GroupDto })
  @ApiError(404, 'no such group (or dissolved)')
  mute(@Param('group_id') groupId: string, @Param('app_user_id') appUserId: string, @Body() body: AdminMuteBody): Promise<GroupView> {
    return this.groups.mute(ADMIN, groupId, appUserId, body.minutes, '');
  }

  @Delete(':group_id')
  @ApiOperation({ summary: 'dissolve the group; 13 to every member; 404 for everything afterwards' })
  @ApiOkResponse({ type: DissolvedDto })
  @ApiError(404, 'no such group (or already dissolved)')
  async dissolve(@Param('group_id') groupId: string): Promise<DissolvedDto> {
    await this.groups.dissolve(ADMIN, groupId);
    return { group_id: groupId, dissolved: true };
  }

  @Get(':group_id')
  @ApiOperation({ summary: 'the group with member_list and invite_code' })
  @ApiOkResponse({ type: GroupDto })
  @ApiError(404, 'no such group (or dissolved)')
  get(@Param('group_id') groupId: string): Promise<GroupView> {
    return this.groups.info(ADMIN, groupId);
  }
}
