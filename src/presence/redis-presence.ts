import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Connection, NODE_ID } from '../realtime/connection';
import { ConnectionLifecycle } from '../realtime/connection-lifecycle';
import { ConnectionRegistry } from '../realtime/connection-registry';
import { RedisClients } from '../realtime/redis-clients';
import { Presence } from './presence';

const keyOf = (userId: number) => `im:presence:${userId}`;

/**
 * Writes this node's entry into each presence key: KEYS = the users' keys, ARGV = node id, lapse
 * time, now, TTL. One script call per chunk of users costs Node a tenth of three commands per user.
 */
const WRITE_ENTRIES = `for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[2], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[3])
  redis.call('PEXPIRE', key, ARGV[4])
end
return #KEYS`;

/** Users per script call: a call holds Redis for well under a millisecond per hundred users. */
const WRITE_CHUNK = 500;

type WithWriteEntries = { writePresence(keyCount: number, ...keysAndArgs: Array<string | number>): unknown };

/**
 * Presence across nodes: each user has a Redis sorted set of the nodes holding at least one of
 * their connections, scored by when that entry lapses (writer's clock + PRESENCE_TTL_MS). A node
 * writes its entry when one of the user's connections opens, removes it when the user's last
 * connection on the node closes, and every PRESENCE_REFRESH_MS re-writes the entries of all the
 * users it holds in one pipeline of script calls (one round trip per node, not per user). A node that
 * dies without cleaning up stops refreshing, so its users show offline within PRESENCE_TTL_MS.
 *
 * While Redis is unreachable this node answers from its own connections, and removals it could
 * not write are remembered; when Redis is back it writes them and re-writes all its entries at
 * once (a restarted Redis has lost them), without waiting for the next refresh.
 */
@Injectable()
export class RedisPresence extends Presence implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly ttlMs: number;
  private timer?: NodeJS.Timeout;
  /** Users whose last connection here closed while their removal could not be written. */
  private readonly unwrittenRemovals = new Set<number>();

  constructor(
    private readonly redis: RedisClients,
    private readonly registry: ConnectionRegistry,
    lifecycle: ConnectionLifecycle,
    private readonly config: AppConfig,
  ) {
    super();
    this.ttlMs = config.PRESENCE_TTL_MS;
    redis.command.defineCommand('writePresence', { lua: WRITE_ENTRIES });
    lifecycle.onOpen((connection) => this.write([connection.userId]));
    lifecycle.onClose((connection, wasLastOnNode) => wasLastOnNode && this.remove(connection));
    redis.onUp(() => this.resume());
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.refresh(), this.config.PRESENCE_REFRESH_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    if (!this.redis.commandReady) return;
    const pipeline = this.redis.command.pipeline();
    for (const userId of this.registry.onlineUserIds()) pipeline.zrem(keyOf(userId), NODE_ID);
    await pipeline.exec().catch(() => undefined);
  }

  async isOnline(userIds: readonly number[]): Promise<Map<number, boolean>> {
    const online = new Map<number, boolean>();
    // this node's own registry is authoritative for its connections even if Redis lags or is away
    for (const userId of userIds) online.set(userId, this.registry.isOnline(userId));
    if (!this.redis.commandReady || userIds.length === 0) return online;
    const now = Date.now();
    const pipeline = this.redis.command.pipeline();
    for (const userId of userIds) pipeline.zcount(keyOf(userId), now, '+inf');
    let results: Array<[Error | null, unknown]>;
    try {
      results = (await pipeline.exec()) ?? [];
    } catch (error) {
      this.redis.problem('presence read', error as Error);
      return online;
    }
    userIds.forEach((userId, i) => {
      const [error, count] = results[i] ?? [null, 0];
      if (!error && (count as number) > 0) online.set(userId, true);
    });
    return online;
  }

  /** Re-writes the entries of every user held here (the periodic refresh). */
  private refresh(): void {
    this.write([...this.registry.onlineUserIds()]);
  }

  private write(userIds: number[]): void {
    if (userIds.length === 0 || !this.redis.commandReady) return;
    const now = Date.now();
    const pipeline = this.redis.command.pipeline();
    for (let i = 0; i < userIds.length; i += WRITE_CHUNK) {
      const keys = userIds.slice(i, i + WRITE_CHUNK).map(keyOf);
      // the entry lapses TTL after now; lapsed entries (of nodes that died) go
      (pipeline as unknown as WithWriteEntries).writePresence(keys.length, ...keys, NODE_ID, now + this.ttlMs, now, this.ttlMs);
    }
    pipeline.exec().then(
      (results) => {
        const failed = results?.find(([error]) => error);
        if (failed) this.redis.problem('presence write', failed[0]!);
      },
      (error: Error) => this.redis.problem('presence write', error),
    );
  }

  private remove(connection: Connection): void {
    const userId = connection.userId;
    if (!this.redis.commandReady) {
      this.unwrittenRemovals.add(userId);
      return;
    }
    this.redis.command.zrem(keyOf(userId), NODE_ID).catch((error: Error) => {
      this.unwrittenRemovals.add(userId);
      this.redis.problem('presence removal', error);
    });
  }

  /** Redis is up again: write the removals it missed, then every entry of this node. */
  private resume(): void {
    const removals = [...this.unwrittenRemovals].filter((userId) => !this.registry.isOnline(userId));
    this.unwrittenRemovals.clear();
    if (removals.length > 0) {
      const pipeline = this.redis.command.pipeline();
      for (const userId of removals) pipeline.zrem(keyOf(userId), NODE_ID);
      pipeline.exec().catch((error: Error) => this.redis.problem('presence removal', error));
    }
    this.refresh();
  }
}
