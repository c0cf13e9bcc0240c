import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiError } from '../openapi/api-errors';
import { AdminApi } from '../auth/admin.guard';
import { ImError } from '../common/im-error';
import { UsersService } from '../users/users.service';
import { groupIdOf } from './message-rules';
import { AdminHistoryQuery, HistoryPageDto, RecallResultDto } from './messaging.dto';
import { RecallResult, RecallService } from './recall.service';
import { HistoryPage, HistoryService } from './history.service';

@ApiTags('admin: messages')
@AdminApi()
@Controller('admin/messages')
export class MessagesAdminController {
  constructor(
    private readonly historyService: HistoryService,
    private readonly users: UsersService,
    private readonly recalls: RecallService,
  ) {}

  @Post(':msg_id/recall')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Recall any message (PROTOCOL §4 "Recall")',
    description:
      'Erases the content, extra, reactions and edit history of the message for good; it keeps its msg_id and seq and shows as recalled in history. ' +
      'Every participant gets system message 20 with by = {app_user_id: "", nickname: "admin"}. Idempotent: a message already recalled answers 200 again and nothing is pushed.',
  })
  @ApiOkResponse({ type: RecallResultDto })
  @ApiError(404, 'no such message (or its group was dissolved)')
  recall(@Param('msg_id') msgId: string): Promise<RecallResult> {
    if (!/^\d{1,16}$/.test(msgId) || !Number.isSafeInteger(Number(msgId)) || Number(msgId) < 1) throw ImError.badRequest('msg_id must be a positive integer');
    return this.recalls.recallByAdmin(Number(msgId));
  }

  @Get()
  @ApiOperation({
    summary: 'Chat history of a one-to-one conversation (app_user_id + peer) or a group (group_id)',
    description:
      'Same rules as the `history` WebSocket action: neither before_seq nor after_seq = newest page (newest first); ' +
      'before_seq = older, newest first; after_seq = newer, oldest first. With app_user_id on a group, only a member may read, from when they joined; ' +
      'with app_user_id, messages up to that user\'s clearHistory position are hidden and reactions carry `me` for that user.',
  })
  @ApiOkResponse({ type: HistoryPageDto })
  @ApiError(403, 'app_user_id is not a member of the group')
  @ApiError(404, 'no such user or group (a dissolved group is gone)')
  async list(@Query() query: AdminHistoryQuery): Promise<HistoryPage> {
    const hasPeer = query.peer !== undefined;
    const hasGroup = query.group_id !== undefined;
    if (hasPeer === hasGroup) throw ImError.badRequest('peer or group_id is required (exactly one of them)');
    if (query.before_seq !== undefined && query.after_seq !== undefined) throw ImError.badRequest('before_seq and after_seq cannot be used together');
    const limit = query.limit === undefined ? 20 : Number(query.limit);
    if (limit < 1 || limit > 100) throw ImError.badRequest('limit must be an integer from 1 to 100');
    if (hasPeer && query.app_user_id === undefined) throw ImError.badRequest('app_user_id is required with peer');
    const reader = query.app_user_id === undefined ? undefined : await this.users.profile(query.app_user_id);
    return this.historyService.history({
      userId: reader?.user_id,
      peerAppUserId: query.peer,
      groupId: hasGroup ? groupIdOf({ group_id: query.group_id }) : undefined,
      beforeSeq: query.before_seq === undefined ? undefined : Number(query.before_seq),
      afterSeq: query.after_seq === undefined ? undefined : Number(query.after_seq),
      limit,
    });
  }
}
