import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorFunction } from '@nestjs/terminus';
import { DatabaseHealth } from './database-health';
import { HealthChecks } from './health-checks';

/** 200 when the database (and Redis, when configured) answer; 503 otherwise. */
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
}
