import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { MAX_QUERY_CHARS } from '../contract/search';
import { HistoryMessageDto } from '../messaging/messaging.dto';

/** Query of GET /admin/messages/search (values arrive as strings). */
export class AdminSearchQuery {
  @ApiProperty({ description: `the words to find, all of them (AND); CJK text matches as a substring (1-${MAX_QUERY_CHARS} characters)`, example: '鈴虫' })
  @IsString({ message: 'q is required' }) @Length(1, MAX_QUERY_CHARS, { message: `q must be a string of 1 to ${MAX_QUERY_CHARS} characters` })
  q: string;

  @ApiPropertyOptional({ description: 'search only what this user may read (else: every message)' })
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_.@-]{1,64}$/, { message: 'app_user_id must be 1-64 characters of [A-Za-z0-9_.@-]' })
  app_user_id?: string;

  @ApiPropertyOptional({ description: 'narrow to this group', example: '3' })
  @IsOptional() @IsString() @Matches(/^\d{1,30}$/, { message: 'group_id must be a string of digits' })
  group_id?: string;

  @ApiPropertyOptional({ description: 'page size, 1-50', default: 20, type: 'integer' })
  @IsOptional() @IsString() @Matches(/^\d{1,2}$/, { message: 'limit must be an integer from 1 to 50' })
  limit?: string;

  @ApiPropertyOptional({ description: 'only messages with a smaller msg_id (the last msg_id of the previous page)', type: 'integer' })
  @IsOptional() @IsString() @Matches(/^[1-9]\d{0,14}$/, { message: 'before_msg_id must be a positive integer' })
  before_msg_id?: string;
}

export class SearchPageDto {
  @ApiProperty({ type: [HistoryMessageDto], description: 'newest first (by msg_id), items as in history' }) messages: HistoryMessageDto[];
  @ApiProperty({ description: 'older matches exist: ask again with before_msg_id = the last msg_id of this page' }) has_more: boolean;
}
