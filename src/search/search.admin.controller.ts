import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminApi } from '../auth/admin.guard';
import { ImError } from '../common/im-error';
import { groupIdOf } from '../messaging/message-rules';
import { ApiError } from '../openapi/api-errors';
import { UsersService } from '../users/users.service';
import { AdminSearchQuery, SearchPageDto } from './search.dto';
import { SearchPage, SearchService } from './search.service';

@ApiTags('admin: messages')
@AdminApi()
@Controller('admin/messages')
export class SearchAdminController {
  constructor(
    private readonly searchService: SearchService,
    private readonly users: UsersService,
  ) {}

  @Get('search')
  @ApiOperation({
    summary: 'Search text messages and file names (PROTOCOL §12)',
    description:
      'Every word of q must occur (AND): words of spaced languages match words starting with them, case-insensitively; ' +
      'Chinese, Japanese and Korean text matches as a substring. Newest first by msg_id; page with before_msg_id. ' +
      'With app_user_id: only what that user may read (member, from joining, after their clearHistory, not recalled); without: every message that is not recalled.',
  })
  @ApiOkResponse({ type: SearchPageDto })
  @ApiError(403, 'app_user_id is not a member of group_id')
  @ApiError(404, 'no such user or group (a dissolved group is gone)')
  async search(@Query() query: AdminSearchQuery): Promise<SearchPage> {
    const limit = query.limit === undefined ? 20 : Number(query.limit);
    if (limit < 1 || limit > 50) throw ImError.badRequest('limit must be an integer from 1 to 50');
    const reader = query.app_user_id === undefined ? undefined : await this.users.profile(query.app_user_id);
    return this.searchService.search({
      query: query.q,
      queryField: 'q',
      userId: reader?.user_id,
      groupId: query.group_id === undefined ? undefined : groupIdOf({ group_id: query.group_id }),
      beforeMsgId: query.before_msg_id === undefined ? undefined : Number(query.before_msg_id),
      limit,
    });
  }
}
