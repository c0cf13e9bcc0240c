import { ApiProperty } from '@nestjs/swagger';

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
}

export class SyncPayloadDto {
  @ApiProperty({ type: [FriendItemDto], description: 'one-to-one conversations with unread messages, newest first' })
  friendList: FriendItemDto[];
  @ApiProperty({ type: [GroupItemDto], description: 'groups (member, not dissolved) with unread messages, newest first' })
  groupList: GroupItemDto[];
}
