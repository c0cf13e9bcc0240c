import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidationOptions,
} from 'class-validator';
import { MAX_IDS_PER_REQUEST } from '../contract/groups';
import { APP_USER_ID_PATTERN, HTTP_URL_OR_EMPTY } from '../users/users.dto';

/** A group_id on the wire: a JSON string of digits. */
export const GROUP_ID_PATTERN = /^[0-9]{1,18}$/;

/** Length in Unicode code points (PROTOCOL §1), not UTF-16 units. */
export function CodePointLength(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'codePointLength',
      validator: {
        validate: (value) => typeof value === 'string' && [...value].length >= min && [...value].length <= max,
        defaultMessage: (args) =>
          min > 0 ? `${args?.property} must be a string of ${min} to ${max} characters` : `${args?.property} must be a string of at most ${max} characters`,
      },
    },
    options,
  );
}

const appUserIdsMessage = 'app_user_ids must be an array of app_user_id strings (1-64 characters of [A-Za-z0-9_.@-])';
const coverMessage = { message: 'cover must be an http or https URL or ""' };
const flagMessage = (name: string) => ({ message: `${name} must be 0 or 1` });

/**
 * Several decorators as one, checked in the order written: class-validator runs constraints in the
 * order they were applied, so with stopAtFirstError the type check listed first reports first.
 */
function stacked(...decorators: PropertyDecorator[]): PropertyDecorator {
  return applyDecorators(...decorators);
}

/** An optional cover: an http/https URL or "". */
const CoverField = () => stacked(IsOptional(), IsString(coverMessage), Matches(HTTP_URL_OR_EMPTY, coverMessage));

/** A required array of app_user_ids, `eachMessage` naming the field when an item is bad. */
const AppUserIdList = (field: string, eachMessage = appUserIdsMessage) =>
  stacked(
    IsDefined({ message: `${field} is required` }),
    IsArray({ message: `${field} must be an array` }),
    ArrayMaxSize(MAX_IDS_PER_REQUEST),
    IsString({ each: true, message: eachMessage }),
    Matches(APP_USER_ID_PATTERN, { each: true, message: eachMessage }),
  );

/** The editable fields of PATCH /admin/groups/{id} (the WebSocket `editGroup` is described by src/contract/groups.ts). */
export class GroupChangesDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 64, example: 'Weekend hikers' })
  @IsOptional()
  @CodePointLength(1, 64)
  group_name?: string;

  @ApiPropertyOptional({ description: 'http/https URL or ""', example: 'https://cdn.example.com/g.jpg' })
  @CoverField()
  cover?: string;

  @ApiPropertyOptional({ maxLength: 300 })
  @IsOptional()
  @CodePointLength(0, 300)
  notice?: string;

  @ApiPropertyOptional({ enum: [0, 1], description: '1: only the owner and admins may post' })
  @IsOptional()
  @IsInt(flagMessage('banned_to_post'))
  @IsIn([0, 1], flagMessage('banned_to_post'))
  banned_to_post?: number;

  @ApiPropertyOptional({ enum: [0, 1], description: '1: only the owner and admins may invite, nobody may join' })
  @IsOptional()
  @IsInt(flagMessage('invite_mode'))
  @IsIn([0, 1], flagMessage('invite_mode'))
  invite_mode?: number;

  @ApiPropertyOptional({ description: 'new owner; must already be a member' })
  @IsOptional()
  @IsString({ message: 'app_user_id must be a string' })
  @Matches(APP_USER_ID_PATTERN, { message: 'app_user_id must be 1-64 characters of [A-Za-z0-9_.@-]' })
  app_user_id?: string;

  @ApiPropertyOptional({ enum: [1], description: '1: draw a new invite code; the old one stops working (owner only)' })
  @IsOptional()
  @IsInt({ message: 'reset_invite_code must be 1' })
  @IsIn([1], { message: 'reset_invite_code must be 1' })
  reset_invite_code?: number;
}

// ---- admin REST bodies ----

export class AdminCreateGroupBody {
  @ApiProperty({ description: 'app_user_id of the owner' })
  @IsDefined({ message: 'owner is required' })
  @IsString({ message: 'owner must be a string' })
  @Matches(APP_USER_ID_PATTERN, { message: 'owner must be 1-64 characters of [A-Za-z0-9_.@-]' })
  owner: string;

  @ApiProperty({ minLength: 1, maxLength: 64 })
  @IsDefined({ message: 'group_name is required' })
  @CodePointLength(1, 64)
  group_name: string;

  @ApiPropertyOptional({ description: 'http/https URL or ""' })
  @CoverField()
  cover?: string;

  @ApiPropertyOptional({ maxLength: 300 })
  @IsOptional()
  @CodePointLength(0, 300)
  notice?: string;

  @ApiProperty({ type: [String], description: 'app_user_ids of the members to add besides the owner' })
  @AppUserIdList('members', 'members must be an array of app_user_id strings')
  members: string[];
}

export class AdminAddMembersBody {
  @ApiProperty({ type: [String] })
  @AppUserIdList('app_user_ids')
  app_user_ids: string[];

  @ApiPropertyOptional({ description: 'a member named as the inviter in the system messages; default the owner' })
  @IsOptional()
  @IsString({ message: 'inviter must be a string' })
  @Matches(APP_USER_ID_PATTERN, { message: 'inviter must be 1-64 characters of [A-Za-z0-9_.@-]' })
  inviter?: string;
}

export class AdminRemoveMembersBody {
  @ApiProperty({ type: [String] })
  @AppUserIdList('app_user_ids')
  app_user_ids: string[];
}

export class AdminSetRoleBody {
  @ApiProperty({ enum: ['admin', 'member'] })
  @IsDefined({ message: 'role is required' })
  @IsIn(['admin', 'member'], { message: 'role must be "admin" or "member"' })
  role: 'admin' | 'member';
}

export class AdminMuteBody {
  @ApiProperty({ minimum: 0, maximum: 43200, description: 'minutes from now; 0 lifts the mute' })
  @IsDefined({ message: 'minutes is required' })
  @IsInt({ message: 'minutes must be an integer from 0 to 43200' })
  @Min(0, { message: 'minutes must be an integer from 0 to 43200' })
  @Max(43200, { message: 'minutes must be an integer from 0 to 43200' })
  minutes: number;
}

// ---- response schemas ----

export class GroupMemberDto {
  @ApiProperty() app_user_id: string;
  @ApiProperty() nickname: string;
  @ApiProperty() head: string;
  @ApiProperty({ enum: ['owner', 'admin', 'member'] }) role: string;
  @ApiProperty({ description: 'ms since the epoch until which the member may not post; 0 when not muted' }) muted_until: number;
}

export class GroupFieldsDto {
  @ApiProperty({ description: 'string of digits', example: '3' }) group_id: string;
  @ApiProperty() group_name: string;
  @ApiProperty() cover: string;
  @ApiProperty() notice: string;
  @ApiProperty({ description: 'app_user_id of the owner' }) owner: string;
  @ApiProperty({ enum: [0, 1] }) banned_to_post: number;
  @ApiProperty({ enum: [0, 1] }) invite_mode: number;
  @ApiPropertyOptional({ description: '16 URL-safe characters that joining needs; shown only to the owner, admins and the admin API' })
  invite_code?: string;
  @ApiProperty() member_count: number;
  @ApiProperty({ description: 'ms since the epoch' }) created_at: number;
}

export class GroupDto extends GroupFieldsDto {
  @ApiProperty({ type: [GroupMemberDto] }) member_list: GroupMemberDto[];
}

export class DissolvedDto {
  @ApiProperty({ example: '3' }) group_id: string;
  @ApiProperty({ example: true }) dissolved: boolean;
}
