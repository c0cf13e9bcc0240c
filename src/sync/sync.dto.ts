import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';

export class FriendItemDto {
  @ApiProperty({ description: "the other participant's app_user_id" }) app_user_id: string;
  @ApiProperty() nickname: string;
  @ApiProperty() head: string;
  @ApiProperty({ description: 'unread chat messages (after the read position, not sent by this user)' }) count: number;
  @ApiProperty({ description: 'preview: text (first 100 chars), [voice], [image], [location], [red packet], [card], [video], [file] name' })
  last_message: string;
  @ApiProperty() last_msg_id: number;
  @ApiProperty({ description: 'type of the last message (1-8)' }) last_type: number;
  @ApiProperty({ description: 'ms since the epoch, when the last message was stored' }) time: number;
  @ApiProperty({ description: 'the user muted this conversation (setConversation)' }) muted: boolean;
  @ApiProperty({ description: 'the user pinned this conversation (setConversation)' }) pinned: boolean;
}

export class GroupItemDto {
  @ApiProperty({ example: '3' }) group_id: string;
  @ApiProperty() group_name: string;
  @ApiProperty() cover: string;
  @ApiProperty({ description: 'unread chat messages (after the read position, not sent by this user)' }) count: number;
  @ApiProperty() last_message: string;
  @ApiProperty() last_msg_id: number;
  @ApiProperty() last_type: number;
  @ApiProperty() time: number;
  @ApiProperty() muted: boolean;
  @ApiProperty() pinned: boolean;
}

export class SyncPayloadDto {
  @ApiProperty({ type: [FriendItemDto], description: 'one-to-one conversations with unread messages, newest first' })
  friendList: FriendItemDto[];
  @ApiProperty({ type: [GroupItemDto], description: 'groups (member, not dissolved) with unread messages, newest first' })
  groupList: GroupItemDto[];
}

export class ConversationItemDto {
  @ApiProperty({ enum: ['direct', 'group'] }) kind: string;
  @ApiPropertyOptional({ description: 'direct: the other participant' }) app_user_id?: string;
  @ApiPropertyOptional({ description: 'direct' }) nickname?: string;
  @ApiPropertyOptional({ description: 'direct' }) head?: string;
  @ApiPropertyOptional({ example: '3', description: 'group' }) group_id?: string;
  @ApiPropertyOptional({ description: 'group' }) group_name?: string;
  @ApiPropertyOptional({ description: 'group' }) cover?: string;
  @ApiProperty({ description: 'unread chat messages, 0 included' }) count: number;
  @ApiProperty() last_message: string;
  @ApiProperty() last_msg_id: number;
  @ApiProperty() last_type: number;
  @ApiProperty() time: number;
  @ApiProperty() muted: boolean;
  @ApiProperty() pinned: boolean;
}

export class ConversationPageDto {
  @ApiProperty({ type: [ConversationItemDto], description: 'pinned first (first page only), then newest first' })
  conversations: ConversationItemDto[];
  @ApiProperty({ description: 'more unpinned conversations older than this page' }) has_more: boolean;
}

/** Query of GET /admin/users/{app_user_id}/conversations (values arrive as strings). */
export class AdminConversationsQuery {
  @ApiPropertyOptional({ description: 'unpinned conversations per page, 1-100', default: 50, type: 'integer' })
  @IsOptional() @IsString() @Matches(/^\d{1,3}$/, { message: 'limit must be an integer from 1 to 100' })
  limit?: string;

  @ApiPropertyOptional({ description: 'only unpinned conversations whose last message is older (ms); absent = the first page, with the pinned ones', type: 'integer' })
  @IsOptional() @IsString() @Matches(/^\d{1,15}$/, { message: 'before_time must be a non-negative integer (ms)' })
  before_time?: string;
}
