import { Controller, Get, Header, Req } from '@nestjs/common';
import { ApiBodyErrors } from '../openapi/api-errors';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AppConfig } from '../config/app-config';
import { buildAsyncApi } from './asyncapi';

/**
 * `GET /asyncapi.json`: the AsyncAPI 3 document of the WebSocket protocol (src/contract/asyncapi.ts),
 * with this server's WS_PATH and the Host the client asked. Public (it describes the protocol, no
 * data), outside /admin. Apart from servers.default.host and the channel address, it is docs/asyncapi.json.
 */
@ApiTags('protocol')
@ApiBodyErrors()
@Controller()
export class AsyncApiController {
  constructor(private readonly config: AppConfig) {}

  @Get('asyncapi.json')
  @Header('Cache-Control', 'no-cache')
  @ApiOperation({ summary: 'the AsyncAPI 3 document of the WebSocket protocol', security: [] })
  @ApiOkResponse({
    description: 'The AsyncAPI 3.0.0 document of the WebSocket protocol (requests, replies, pushes; docs/asyncapi.json in the repository).',
    schema: { type: 'object', properties: { asyncapi: { type: 'string', example: '3.0.0' } }, additionalProperties: true },
  })
  document(@Req() request: Request): Record<string, unknown> {
    const host = typeof request.headers.host === 'string' && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(request.headers.host) ? request.headers.host : undefined;
    return buildAsyncApi({ wsPath: this.config.WS_PATH, host });
  }
}
