import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'crypto';
import { Delivery, LocalDelivery, PushOptions } from './delivery';
import { RedisClients } from './redis-clients';

const CHANNEL = 'im:delivery';

type Envelope =
  | { from: string; op: 'push'; userIds: number[]; frame: string; options: PushOptions }
  | { from: string; op: 'close'; userId: number; frame: string; closeCode: number; reason: string };

/**
 * Delivery across nodes: writes to this node's sockets at once and publishes the push on a Redis
 * channel; every other node writes it to the sockets it holds. PostgreSQL stays the only durable
 * store: a node that misses a publish loses a live push, never a message (sync + history catch up).
 * While Redis is unreachable a push reaches this node's sockets only; the lost publishes are
 * counted (RedisClients logs the count when the outage ends), never logged one by one.
 */
@Injectable()
export class RedisDelivery extends Delivery implements OnModuleInit {
  private readonly logger = new Logger('RedisDelivery');
  /** Tells our own publishes apart from other nodes'. */
  private readonly nodeId = randomBytes(8).toString('hex');

  constructor(
    private readonly local: LocalDelivery,
    private readonly redis: RedisClients,
  ) {
    super();
  }

  async onModuleInit(): Promise<void> {
    this.redis.subscriber.on('message', (channel: string, text: string) => channel === CHANNEL && this.onRemote(text));
    const connecting = this.redis.connect();
    // queued until the first connect; ioredis subscribes again by itself after every reconnect
    void this.redis.subscriber.subscribe(CHANNEL).catch((error: Error) => this.logger.warn(`subscribe failed: ${error.message}`));
    // wait briefly so a healthy Redis is subscribed before we accept sockets; never block the start on it
    await connecting;
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
    if (!this.redis.commandReady) return this.redis.unpublished();
    this.redis.command.publish(CHANNEL, JSON.stringify(envelope)).catch((error: Error) => this.redis.unpublished(error));
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
