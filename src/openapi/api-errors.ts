import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';

/** Every admin REST error body (src/common/http-error.filter.ts, PROTOCOL §8). */
export class ErrorDto {
  @ApiProperty({ type: 'integer', description: 'the protocol result code (PROTOCOL §3): 400, 401, 403, 404, 413, 415, or 0 for a server error', example: 404 })
  code: number;

  @ApiProperty({ description: 'what went wrong; for a 400 it names the field', example: 'no such user: bob' })
  msg: string;
}

/** The error statuses the admin REST API answers, with a default description and an example body. */
const ERRORS = {
  400: { description: 'invalid parameter or body; msg names the field', example: { code: 400, msg: 'nickname must be longer than or equal to 1 characters' } },
  401: { description: 'missing or wrong admin bearer token', example: { code: 401, msg: 'admin bearer token required' } },
  403: { description: 'not allowed', example: { code: 403, msg: 'not a member of the group' } },
  404: { description: 'not found', example: { code: 404, msg: 'no such user: bob' } },
  413: { description: 'request body larger than ADMIN_BODY_MAX_BYTES', example: { code: 413, msg: 'request body is larger than 65536 bytes' } },
  415: { description: 'request body charset or content encoding not supported', example: { code: 415, msg: 'request body charset must be utf-8' } },
  500: { description: 'server error (e.g. the database is unreachable)', example: { code: 0, msg: 'server error' } },
} as const;

export type ErrorStatus = keyof typeof ERRORS;

/** Documents one error response with the `{code, msg}` schema and an example. */
export function ApiError(status: ErrorStatus, description?: string): MethodDecorator & ClassDecorator {
  const known = ERRORS[status];
  return ApiResponse({ status, description: description ?? known.description, type: ErrorDto, example: known.example });
}

/**
 * The body errors every route can answer: the JSON body middleware (src/common/json-body.ts) runs
 * before routing, so a request with a body that is too large or not JSON is refused on any route.
 */
export function ApiBodyErrors(): MethodDecorator & ClassDecorator {
  return applyDecorators(ApiError(413), ApiError(415));
}

/** The errors every admin route can answer: bad input, the token, a refused body, a failing database. */
export function ApiAdminErrors(): MethodDecorator & ClassDecorator {
  return applyDecorators(ApiError(400), ApiError(401), ApiBodyErrors(), ApiError(500));
}
