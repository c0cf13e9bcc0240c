import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';

const DIGITS = /^\d{1,15}$/;

/** Query of GET /admin/messages (values arrive as strings). */
export class AdminHistoryQuery {
  @ApiPropertyOptional({ description: 'the reader: required for a one-to-one conversation; for a group, optional (given: member rules apply)' })
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_.@-]{1,64}$/, { message: 'app_user_id must be 1-64 characters of [A-Za-z0-9_.@-]' })
  app_user_id?: string;

  @ApiPropertyOptional({ description: 'the other participant of the one-to-one conversation (exactly one of peer and group_id)' })
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_.@-]{1,64}$/, { message: 'peer must be 1-64 characters of [A-Za-z0-9_.@-]' })
  peer?: string;

  @ApiPropertyOptional({ description: 'the group (exactly one of peer and group_id)', example: '3' })
  @IsOptional() @IsString() @Matches(/^\d{1,30}$/, { message: 'group_id must be a string of digits' })
  group_id?: string;

  @ApiPropertyOptional({ description: 'messages older than this seq, newest first', type: 'integer' })
  @IsOptional() @IsString() @Matches(DIGITS, { message: 'before_seq must be a non-negative integer' })
  before_seq?: string;

  @ApiPropertyOptional({ description: 'messages newer than this seq, oldest first (not with before_seq)', type: 'integer' })
  @IsOptional() @IsString() @Matches(DIGITS, { message: 'after_seq must be a non-negative integer' })
  after_seq?: string;

  @ApiPropertyOptional({ description: 'page size, 1-100', default: 20, type: 'integer' })
  @IsOptional() @IsString() @Matches(/^\d{1,3}$/, { message: 'limit must be an integer from 1 to 100' })
  limit?: string;
}

export class ReactionDto {
  @ApiProperty({ description: 'the emoji (1-8 code points)' }) emoji: string;
  @ApiProperty({ type: 'integer', minimum: 1, description: 'reactors with this emoji' }) count: number;
  @ApiProperty({ type: [String], maxItems: 10, description: 'the first 10 reactors, earliest first' }) app_user_ids: string[];
  @ApiProperty({ description: 'the reader (app_user_id) reacted with this emoji; false without app_user_id' }) me: boolean;
}

export class HistoryMessageDto {
  @ApiProperty({ type: 'integer' }) msg_id: number;
  @ApiProperty({ type: 'integer', description: 'position in the conversation, 1, 2, 3 … without gaps' }) seq: number;
  @ApiProperty({ type: 'integer', description: 'ms since the epoch, when the server stored it' }) time: number;
  @ApiProperty({ type: 'integer', description: "the sender's user_id" }) user_id: number;
  @ApiProperty({ type: 'integer', minimum: 1, maximum: 8 }) type: number;
  @ApiProperty() content: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) extra: Record<string, unknown>;
  @ApiProperty({ description: "the sender's app_user_id" }) app_user_id: string;
  @ApiProperty({ description: "the sender's nickname" }) nickname: string;
  @ApiProperty({ description: "the sender's head" }) head: string;
  @ApiPropertyOptional({ description: 'one-to-one: the recipient' }) to_app_user_id?: string;
  @ApiPropertyOptional({ description: 'group messages: the group' }) group_id?: string;
  @ApiPropertyOptional({ type: [ReactionDto], description: 'per emoji, in the order first used; absent when none' }) reactions?: ReactionDto[];
  @ApiPropertyOptional({ type: 'integer', description: 'ms since the epoch of the latest edit; content and extra are the latest version' }) edited_at?: number;
  @ApiPropertyOptional({ description: 'true on a recalled message (content "", extra {})' }) recalled?: boolean;
}

export class RecallResultDto {
  @ApiProperty({ type: 'integer' }) msg_id: number;
  @ApiProperty({ type: 'integer', description: 'its position in the conversation (kept)' }) seq: number;
  @ApiPropertyOptional({ description: 'group messages: the group' }) group_id?: string;
  @ApiPropertyOptional({ description: 'one-to-one messages: the participant who did not send it' }) to_app_user_id?: string;
  @ApiProperty({ type: 'integer', description: 'ms since the epoch when it was recalled (the first time)' }) recalled_at: number;
}

export class HistoryPageDto {
  @ApiProperty({ type: [HistoryMessageDto] }) messages: HistoryMessageDto[];
  @ApiProperty({ description: "more messages exist beyond this page in its direction" }) has_more: boolean;
}
