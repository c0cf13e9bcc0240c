import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorFunction } from '@nestjs/terminus';
import { DatabaseHealth } from './database-health';
import { HealthChecks } from './health-checks';

/**
 * `GET /health` (readiness): 200 when the database (and Redis, when configured) answer; 503
 * otherwise, the body telling which one is down. `GET /health/live` (liveness): 200 while the
 * process runs, with no dependency checked (docs/operations.md, "Redis faults").
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealth,
    private readonly extra: HealthChecks,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    const checks: HealthIndicatorFunction[] = [() => this.database.check('database'), ...this.extra.all()];
    return this.health.check(checks);
  }

  @Get('live')
  @ApiOkResponse({ description: 'liveness: the process runs (no dependency is checked)', schema: { type: 'object', properties: { status: { type: 'string', example: 'ok' } } } })
  live() {
    return { status: 'ok' };
  }
}
