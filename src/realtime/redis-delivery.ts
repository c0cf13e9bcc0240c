import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'crypto';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { HealthChecks } from '../health/health-checks';
import { Delivery, LocalDelivery, PushOptions } from './delivery';

const CHANNEL = 'im:delivery';
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

type Envelope =
  | { from: string; op: 'push'; userIds: number[]; frame: string; options: PushOptions }
  | { from: string; op: 'close'; userId: number; frame: string; closeCode: number; reason: string };

/**
 * Delivery across nodes: writes to this node's sockets at once and publishes the push on a Redis
 * channel; every other node writes it to the sockets it holds. PostgreSQL stays the only durable
 * store: a node that misses a publish loses a live push, never a message (sync + history catch up).
 */
@Injectable()
export class RedisDelivery extends Delivery implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RedisDelivery');
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  /** Tells our own publishes apart from other nodes'. */
  private readonly nodeId = randomBytes(8).toString('hex');

  constructor(
    private readonly local: LocalDelivery,
    config: AppConfig,
    health: HealthChecks,
  ) {
    super();
    // Redis may come up after us: connect in the background (ioredis retries); /health says 503 meanwhile.
    this.publisher = new Redis(config.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: `im-pub-${this.nodeId}` });
    this.subscriber = new Redis(config.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: null, connectionName: `im-sub-${this.nodeId}` });
    for (const client of [this.publisher, this.subscriber]) client.on('error', (error) => this.logger.warn(`redis: ${error.message}`));
    health.add(async () => {
      const answer = await Promise.race([
        this.publisher.ping(),
        delay(1500).then(() => 'timeout'),
      ]).catch((error: Error) => error.message);
      if (answer !== 'PONG') {
        const { HealthCheckError } = await import('@nestjs/terminus');
        throw new HealthCheckError('redis', { redis: { status: 'down', message: answer } });
      }
      return { redis: { status: 'up' } };
    });
  }

  async onModuleInit(): Promise<void> {
    this.subscriber.on('message', (_channel: string, text: string) => this.onRemote(text));
    const connected = Promise.all([this.publisher.connect(), this.subscriber.connect()]).then(() => this.subscriber.subscribe(CHANNEL));
    // wait briefly so a healthy Redis is subscribed before we accept sockets; never block the start on it
    await Promise.race([connected.catch((error: Error) => this.logger.warn(`redis not reachable yet: ${error.message}`)), delay(3000)]);
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }

  push(userIds: Iterable<number>, frame: string, options: PushOptions = {}): void {
    const ids = [...userIds];
    if (ids.length === 0) return;
    this.local.push(ids, frame, options);
    this.publish({ from: this.nodeId, op: 'push', userIds: ids, frame, options });
  }

  closeUser(userId: number, frame: string, closeCode: number, reason: string): void {
    this.local.closeUser(userId, frame, closeCode, reason);
    this.publish({ from: this.nodeId, op: 'close', userId, frame, closeCode, reason });
  }

  private publish(envelope: Envelope): void {
    this.publisher.publish(CHANNEL, JSON.stringify(envelope)).catch((error: Error) => this.logger.warn(`publish failed: ${error.message}`));
  }

  private onRemote(text: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text);
    } catch {
      return;
    }
    if (envelope.from === this.nodeId) return;
    if (envelope.op === 'push') this.local.push(envelope.userIds, envelope.frame, envelope.options);
    else if (envelope.op === 'close') this.local.closeUser(envelope.userId, envelope.frame, envelope.closeCode, envelope.reason);
  }
}
