import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminApi } from '../auth/admin.guard';
import { TokenService } from '../auth/token.service';
import { ImError } from '../common/im-error';
import { AppConfig } from '../config/app-config';
import { ApiError } from '../openapi/api-errors';
import { BlacklistService } from './blacklist.service';
import { APP_USER_ID_PATTERN, IssueTokenBody, OkDto, PutUserBody, TokenDto, UserDto } from './users.dto';
import { User, UsersService } from './users.service';

function checkAppUserId(appUserId: string, field = 'app_user_id'): string {
  if (!APP_USER_ID_PATTERN.test(appUserId)) throw ImError.badRequest(`${field} must be 1-64 characters of [A-Za-z0-9_.@-]`);
  return appUserId;
}

@ApiTags('admin: users')
@AdminApi()
@Controller('admin/users')
export class UsersAdminController {
  constructor(
    private readonly users: UsersService,
    private readonly blacklist: BlacklistService,
    private readonly tokens: TokenService,
    private readonly config: AppConfig,
  ) {}

  @Put(':app_user_id')
  @ApiOperation({ summary: 'create or update a user (nickname, head)' })
  @ApiOkResponse({ type: UserDto, description: 'created or updated; an update of nickname/head pushes type 10' })
  async put(@Param('app_user_id') appUserId: string, @Body() body: PutUserBody): Promise<User> {
    return (await this.users.upsert(checkAppUserId(appUserId), body.nickname, body.head)).user;
  }

  @Get(':app_user_id')
  @ApiOperation({ summary: 'a user' })
  @ApiOkResponse({ type: UserDto })
  @ApiError(404, 'no such user')
  get(@Param('app_user_id') appUserId: string): Promise<User> {
    return this.users.get(checkAppUserId(appUserId));
  }

  @Post(':app_user_id/tokens')
  @HttpCode(200)
  @ApiOperation({ summary: 'issue a client token for the user (the WebSocket `token` query parameter)' })
  @ApiOkResponse({ type: TokenDto })
  @ApiError(404, 'no such user')
  async issueToken(@Param('app_user_id') appUserId: string, @Body() body: IssueTokenBody): Promise<TokenDto> {
    const user = await this.users.get(checkAppUserId(appUserId));
    return this.tokens.issue(user.user_id, user.app_user_id, body?.ttl_seconds ?? this.config.TOKEN_TTL_SECONDS);
  }

  @Post(':app_user_id/disable')
  @HttpCode(200)
  @ApiOperation({ summary: 'disable the user: new connections are refused, open ones closed' })
  @ApiOkResponse({ type: UserDto, description: 'open sockets get the 401 error frame and close with 4401' })
  @ApiError(404, 'no such user')
  disable(@Param('app_user_id') appUserId: string): Promise<User> {
    return this.users.setDisabled(checkAppUserId(appUserId), true);
  }

  @Post(':app_user_id/enable')
  @HttpCode(200)
  @ApiOperation({ summary: 'enable a disabled user again' })
  @ApiOkResponse({ type: UserDto })
  @ApiError(404, 'no such user')
  enable(@Param('app_user_id') appUserId: string): Promise<User> {
    return this.users.setDisabled(checkAppUserId(appUserId), false);
  }

  @Put(':app_user_id/blacklist/:other')
  @ApiOperation({ summary: 'app_user_id blocks other: chat from other to app_user_id answers 811' })
  @ApiOkResponse({ type: OkDto, description: 'app_user_id blocks other' })
  @ApiError(404, 'no such user (app_user_id or other)')
  async block(@Param('app_user_id') appUserId: string, @Param('other') other: string): Promise<OkDto> {
    const user = await this.users.get(checkAppUserId(appUserId));
    await this.blacklist.block(user.user_id, checkAppUserId(other, 'other'));
    return { ok: true };
  }

  @Delete(':app_user_id/blacklist/:other')
  @ApiOperation({ summary: 'app_user_id unblocks other' })
  @ApiOkResponse({ type: OkDto })
  @ApiError(404, 'no such user (app_user_id or other)')
  async unblock(@Param('app_user_id') appUserId: string, @Param('other') other: string): Promise<OkDto> {
    const user = await this.users.get(checkAppUserId(appUserId));
    await this.blacklist.unblock(user.user_id, checkAppUserId(other, 'other'));
    return { ok: true };
  }
}
