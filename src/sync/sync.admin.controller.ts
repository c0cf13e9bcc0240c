import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiError } from '../openapi/api-errors';
import { AdminApi } from '../auth/admin.guard';
import { ImError } from '../common/im-error';
import { APP_USER_ID_PATTERN } from '../users/users.dto';
import { ConversationsService } from './conversations.service';
import { AdminConversationsQuery, ConversationPageDto, SyncPayloadDto } from './sync.dto';
import { SyncService } from './sync.service';
import { ConversationPage, SyncPayload } from './sync.types';

@ApiTags('admin: conversations')
@AdminApi()
@Controller('admin/conversations')
export class SyncAdminController {
  constructor(private readonly sync: SyncService) {}

  @Get(':app_user_id')
  @ApiOperation({ summary: "a user's unread conversations: the extra of the type-19 sync frame" })
  @ApiOkResponse({ type: SyncPayloadDto })
  @ApiError(404, 'no such user')
  get(@Param('app_user_id') appUserId: string): Promise<SyncPayload> {
    if (!APP_USER_ID_PATTERN.test(appUserId)) throw ImError.badRequest('app_user_id must be 1-64 characters of [A-Za-z0-9_.@-]');
    return this.sync.payloadOf(appUserId);
  }
}

@ApiTags('admin: conversations')
@AdminApi()
@Controller('admin/users')
export class ConversationsAdminController {
  constructor(private readonly conversations: ConversationsService) {}

  @Get(':app_user_id/conversations')
  @ApiOperation({ summary: "a user's conversation list (PROTOCOL §6): pinned first, then newest first; before_time pages the unpinned part" })
  @ApiOkResponse({ type: ConversationPageDto })
  @ApiError(404, 'no such user')
  list(@Param('app_user_id') appUserId: string, @Query() query: AdminConversationsQuery): Promise<ConversationPage> {
    if (!APP_USER_ID_PATTERN.test(appUserId)) throw ImError.badRequest('app_user_id must be 1-64 characters of [A-Za-z0-9_.@-]');
    const limit = query.limit === undefined ? 50 : Number(query.limit);
    if (limit < 1 || limit > 100) throw ImError.badRequest('limit must be an integer from 1 to 100');
    return this.conversations.listOf(appUserId, limit, query.before_time === undefined ? undefined : Number(query.before_time));
  }
}
