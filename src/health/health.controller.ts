import { Controller, Get } from '@nestjs/common';
import { ApiBodyErrors } from '../openapi/api-errors';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorFunction } from '@nestjs/terminus';
import { DatabaseHealth } from './database-health';
import { HealthChecks } from './health-checks';

const INDICATORS = { type: 'object', additionalProperties: { type: 'object', required: ['status'], properties: { status: { type: 'string' } }, additionalProperties: true } };

/** The terminus report; the 503 also carries the `{code, msg}` of every error (src/common/http-error.filter.ts). */
function healthSchema(status: 'ok' | 'error', withError = false): Record<string, unknown> {
  return {
    type: 'object',
    required: withError ? ['code', 'msg', 'status', 'details'] : ['status', 'details'],
    properties: {
      ...(withError ? { code: { type: 'integer', example: 503 }, msg: { type: 'string', example: 'Service Unavailable Exception' } } : {}),
      status: { type: 'string', enum: [status] },
      info: INDICATORS,
      error: INDICATORS,
      details: INDICATORS,
    },
  };
}
const HEALTHY = { status: 'ok', info: { database: { status: 'up' } }, error: {}, details: { database: { status: 'up' } } };
const UNHEALTHY = {
  code: 503,
  msg: 'Service Unavailable Exception',
  status: 'error',
  info: { database: { status: 'up' } },
  error: { redis: { status: 'down', message: 'redis is unreachable' } },
  details: { database: { status: 'up' }, redis: { status: 'down', message: 'redis is unreachable' } },
};

/**
 * `GET /health` (readiness): 200 when the database (and Redis, when configured) answer; 503
 * otherwise, the body telling which one is down. `GET /health/live` (liveness): 200 while the
 * process runs, with no dependency checked (docs/operations.md, "Redis faults").
 */
@ApiTags('health')
@ApiBodyErrors()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealth,
    private readonly extra: HealthChecks,
  ) {}

  @Get()
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'readiness: 200 when the database (and Redis, when configured) answer, else 503', security: [] })
  @ApiOkResponse({ description: 'every dependency answers', schema: healthSchema('ok'), example: HEALTHY })
  @ApiServiceUnavailableResponse({ description: 'a dependency is down; `error` names it', schema: healthSchema('error', true), example: UNHEALTHY })
  check() {
    const checks: HealthIndicatorFunction[] = [() => this.database.check('database'), ...this.extra.all()];
    return this.health.check(checks);
  }

  @Get('live')
  @ApiOperation({ summary: 'liveness: 200 while the process runs (no dependency is checked)', security: [] })
  @ApiOkResponse({ description: 'liveness: the process runs (no dependency is checked)', schema: { type: 'object', properties: { status: { type: 'string', example: 'ok' } } } })
  live() {
    return { status: 'ok' };
  }
}
