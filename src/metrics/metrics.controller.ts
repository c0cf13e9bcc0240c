import { Controller, Get, Header, NotFoundException } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ApiExcludeController } from '@nestjs/swagger';
import { MetricsService } from './metrics.service';

@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
  ) {}

  /** On the public port unless METRICS_PORT moved it (server.ts serves it there). */
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    if (this.config.METRICS_PORT !== undefined) throw new NotFoundException('/metrics is served on METRICS_PORT');
    return this.metrics.registry.metrics();
  }
}
