import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { HealthChecks } from '../health/health-checks';

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * The Redis connections of this node (only when REDIS_URL is set): one for commands and publishes,
 * one for subscriptions. Redis may come up after us: they connect in the background (ioredis
 * retries) and /health answers 503 until Redis answers.
 */
@Injectable()
export class RedisClients implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  readonly command: Redis;
  readonly subscriber: Redis;

  constructor(config: AppConfig, health: HealthChecks) {
    this.command = new Redis(config.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'im-command' });
    this.subscriber = new Redis(config.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: null, connectionName: 'im-subscriber' });
    for (const client of [this.command, this.subscriber]) client.on('error', (error) => this.logger.warn(error.message));
    health.add(() => this.check());
  }

  /** Connects both; resolves when connected or after `waitMs`, whichever comes first. */
  async connect(waitMs = 3000): Promise<void> {
    const connected = Promise.all([this.command.connect(), this.subscriber.connect()]);
    await Promise.race([connected.catch((error: Error) => this.logger.warn(`not reachable yet: ${error.message}`)), delay(waitMs)]);
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscriber.disconnect();
    this.command.disconnect();
  }

  private async check() {
    const answer = await Promise.race([this.command.ping(), delay(1500).then(() => 'timeout')]).catch((error: Error) => error.message);
    if (answer !== 'PONG') {
      const { HealthCheckError } = await import('@nestjs/terminus');
      throw new HealthCheckError('redis', { redis: { status: 'down', message: answer } });
    }
    return { redis: { status: 'up' as const } };
  }
}
