import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';

export const APP_USER_ID_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;
export const HTTP_URL_OR_EMPTY = /^(https?:\/\/\S+)?$/;

export class PutUserBody {
  @ApiProperty({ minLength: 1, maxLength: 64, example: 'Alice' })
  @IsString()
  @Length(1, 64)
  nickname: string;

  @ApiPropertyOptional({ description: 'http/https URL of the avatar, or ""', example: 'https://cdn.example.com/a.jpg' })
  @IsOptional()
  @IsString()
  @Matches(HTTP_URL_OR_EMPTY, { message: 'head must be an http or https URL or ""' })
  head?: string;
}

/** The longest lifetime a client token may be issued for. */
export const MAX_TTL_SECONDS = 366 * 24 * 3600;

export class IssueTokenBody {
  @ApiPropertyOptional({ type: 'integer', description: 'token lifetime in seconds; default TOKEN_TTL_SECONDS (7 days); at most 366 days', minimum: 1, maximum: MAX_TTL_SECONDS, example: 86400 })
  // class-validator checks in the order decorators are applied (bottom first): the type before the range
  @IsOptional()
  @Max(MAX_TTL_SECONDS)
  @Min(1)
  @IsInt()
  ttl_seconds?: number;
}

export class UserDto {
  @ApiProperty() user_id: number;
  @ApiProperty() app_user_id: string;
  @ApiProperty() nickname: string;
  @ApiProperty() head: string;
  @ApiProperty() disabled: boolean;
}

export class TokenDto {
  @ApiProperty() token: string;
  @ApiProperty({ description: 'ms since the epoch' }) expires_at: number;
}

export class OkDto {
  @ApiProperty({ example: true }) ok: boolean;
}
