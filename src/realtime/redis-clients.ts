import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { LogThrottle } from '../common/log-throttle';
import { HealthChecks } from '../health/health-checks';
import { MetricsService } from '../metrics/metrics.service';

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Reconnect attempts: quickly at first, then once a second, so a restarted Redis is used again within about a second. */
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 1000);

/** At most one warning per kind of unexpected failure in this period (the rest are counted into the next one). */
const PROBLEM_LOG_PERIOD_MS = 60_000;

/**
 * The Redis connections of this node (only when REDIS_URL is set): one for commands and publishes,
 * one for subscriptions. Redis may come up after us, and may go away and come back: ioredis
 * reconnects in the background and restores the subscriptions by itself.
 *
 * Redis is "up" while both connections are ready. An outage is logged once when it starts (warn)
 * and once when it ends (log, with the number of pushes not published meanwhile); ioredis's
 * per-attempt connection errors are kept for /health only. While the command connection is not
 * ready nothing is sent to Redis: callers check `commandReady` and fall back to this node alone.
 * `onUp` listeners run each time Redis is up again, to re-write what the outage lost (presence).
 */
@Injectable()
export class RedisClients implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  readonly command: Redis;
  readonly subscriber: Redis;
  private readonly upListeners: Array<() => void> = [];
  /** When the current outage began (ms since the epoch); undefined while up. Down until the first connect. */
  private downSince: number | undefined = Date.now();
  private outageLogged = false;
  private lastError = 'not connected yet';
  /** Pushes not published to the other nodes in the current outage. */
  private unpublishedPushes = 0;
  private closing = false;
  private readonly problemLog = new LogThrottle(PROBLEM_LOG_PERIOD_MS);

  constructor(
    config: AppConfig,
    health: HealthChecks,
    private readonly metrics: MetricsService,
  ) {
    const options = { lazyConnect: true, retryStrategy, autoResubscribe: true };
    // commands fail at once while disconnected rather than queueing up behind an outage
    this.command = new Redis(config.REDIS_URL!, { ...options, connectionName: 'im-command', maxRetriesPerRequest: 1, enableOfflineQueue: false });
    // the subscription may be asked for before the first connect: it waits in the offline queue
    this.subscriber = new Redis(config.REDIS_URL!, { ...options, connectionName: 'im-subscriber', maxRetriesPerRequest: null });
    for (const client of [this.command, this.subscriber]) {
      client.on('error', (error: Error) => {
        this.lastError = error.message;
        this.update();
      });
      client.on('close', () => {
        this.lastError = 'connection closed';
        this.update();
      });
      for (const event of ['ready', 'end']) client.on(event, () => this.update());
    }
    health.add(() => this.check());
  }

  /** Both connections are ready. */
  get up(): boolean {
    return this.command.status === 'ready' && this.subscriber.status === 'ready';
  }

  /** Commands and publishes can be sent now. */
  get commandReady(): boolean {
    return this.command.status === 'ready';
  }

  /** Runs `listener` each time Redis is up: after the first connect and after every outage. */
  onUp(listener: () => void): void {
    this.upListeners.push(listener);
  }

  /** Connects both; resolves when connected or after `waitMs`, whichever comes first. */
  async connect(waitMs = 3000): Promise<void> {
    const connected = Promise.all([this.command.connect(), this.subscriber.connect()]);
    await Promise.race([connected.catch(() => undefined), delay(waitMs)]);
    if (!this.up && !this.outageLogged) {
      this.outageLogged = true;
      this.logger.warn(`not reachable at start (${this.lastError}); serving this node's connections alone until it answers`);
    }
  }

  /** A push that could not be published for the other nodes: counted, never logged one by one. */
  unpublished(error?: Error): void {
    this.metrics.redisPublishFailures.inc();
    if (this.downSince !== undefined) this.unpublishedPushes++;
    else if (error) this.problem('publish', error);
  }

  /**
   * A Redis command failed. During an outage that is expected and already logged; otherwise (e.g.
   * Redis refuses writes) it is logged at most once a minute per `what`, with the count of the rest.
   */
  problem(what: string, error: Error): void {
    if (this.downSince !== undefined || this.closing) return;
    const held = this.problemLog.pass(what);
    if (held === undefined) return;
    const more = held ? ` (${held} more ${what} failures since the last report)` : '';
    this.logger.warn(`${what} failed: ${error.message}${more}`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    this.subscriber.disconnect();
    this.command.disconnect();
  }

  /** Follows the connections' events: logs the start and the end of an outage once each. */
  private update(): void {
    if (this.closing) return;
    const up = this.up;
    if (up && this.downSince !== undefined) {
      const seconds = ((Date.now() - this.downSince) / 1000).toFixed(1);
      if (this.outageLogged) {
        this.logger.log(`reachable again after ${seconds} s; ${this.unpublishedPushes} pushes were not published to the other nodes meanwhile (their clients catch up with sync and history)`);
      } else {
        this.logger.log('connected');
      }
      this.downSince = undefined;
      this.outageLogged = false;
      this.unpublishedPushes = 0;
      for (const listener of this.upListeners) listener();
    } else if (!up && this.downSince === undefined) {
      this.downSince = Date.now();
      this.outageLogged = true;
      this.logger.warn(
        `unreachable (${this.lastError}); cross-node delivery and presence paused, this node keeps serving its own connections; /health answers 503 until Redis is back`,
      );
    }
  }

  private async check() {
    if (!this.up) return this.down(this.lastError);
    const answer = await Promise.race([this.command.ping(), delay(1500).then(() => 'timeout')]).catch((error: Error) => error.message);
    if (answer !== 'PONG') return this.down(answer);
    return { redis: { status: 'up' as const } };
  }

  private async down(message: string): Promise<never> {
    const { HealthCheckError } = await import('@nestjs/terminus');
    const since = this.downSince === undefined ? undefined : new Date(this.downSince).toISOString();
    throw new HealthCheckError('redis', { redis: { status: 'down', message, since, unpublished_pushes: this.unpublishedPushes } });
  }
}
