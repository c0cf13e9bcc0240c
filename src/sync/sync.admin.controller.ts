import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiError } from '../openapi/api-errors';
import { AdminApi } from '../auth/admin.guard';
import { ImError } from '../common/im-error';
import { APP_USER_ID_PATTERN } from '../users/users.dto';
import { SyncPayloadDto } from './sync.dto';
import { SyncService } from './sync.service';
import { SyncPayload } from './sync.types';

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
