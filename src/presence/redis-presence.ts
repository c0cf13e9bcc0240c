import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Connection } from '../realtime/connection';
import { ConnectionLifecycle } from '../realtime/connection-lifecycle';
import { ConnectionRegistry } from '../realtime/connection-registry';
import { RedisClients } from '../realtime/redis-clients';
import { Presence } from './presence';

const keyOf = (userId: number) => `im:presence:${userId}`;

/**
 * Presence across nodes: each user has a Redis sorted set of their open connections, scored by
 * when the entry lapses. A node adds a connection when it opens, removes it when it closes, and
 * re-scores all its connections every heartbeat interval; so the connections of a node that died
 * lapse on their own within HEARTBEAT_TIMEOUT_MS + HEARTBEAT_INTERVAL_MS.
 */
@Injectable()
export class RedisPresence extends Presence implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RedisPresence');
  private readonly ttlMs: number;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClients,
    private readonly registry: ConnectionRegistry,
    lifecycle: ConnectionLifecycle,
    private readonly config: AppConfig,
  ) {
    super();
    this.ttlMs = config.HEARTBEAT_TIMEOUT_MS + config.HEARTBEAT_INTERVAL_MS;
    lifecycle.onOpen((connection) => this.refresh([connection]));
    lifecycle.onClose((connection) => this.forget(connection));
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.refresh([...this.registry.all()]), this.config.HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    const pipeline = this.redis.command.pipeline();
    for (const connection of this.registry.all()) pipeline.zrem(keyOf(connection.userId), connection.id);
    await pipeline.exec().catch(() => undefined);
  }

  async isOnline(userIds: readonly number[]): Promise<Map<number, boolean>> {
    const online = new Map<number, boolean>();
    const now = Date.now();
    const pipeline = this.redis.command.pipeline();
    for (const userId of userIds) pipeline.zcount(keyOf(userId), now, '+inf');
    const results = (await pipeline.exec()) ?? [];
    userIds.forEach((userId, i) => {
      const [error, count] = results[i] ?? [new Error('no answer'), 0];
      if (error) throw error;
      // this node's own registry is authoritative for its connections even if Redis lags
      online.set(userId, (count as number) > 0 || this.registry.isOnline(userId));
    });
    return online;
  }

  private refresh(connections: Connection[]): void {
    if (connections.length === 0) return;
    const lapse = Date.now() + this.ttlMs;
    const pipeline = this.redis.command.pipeline();
    for (const connection of connections) {
      const key = keyOf(connection.userId);
      pipeline.zadd(key, lapse, connection.id);
      pipeline.zremrangebyscore(key, '-inf', Date.now());
      pipeline.pexpire(key, this.ttlMs);
    }
    pipeline.exec().catch((error: Error) => this.logger.warn(`refresh failed: ${error.message}`));
  }

  private forget(connection: Connection): void {
    this.redis.command.zrem(keyOf(connection.userId), connection.id).catch((error: Error) => this.logger.warn(`remove failed: ${error.message}`));
  }
}
