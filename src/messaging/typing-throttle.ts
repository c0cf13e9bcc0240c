import { Injectable, Optional } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RedisClients } from '../realtime/redis-clients';

/** Entries kept at most: beyond it the oldest go first (each dropped entry can let one extra push through). */
const MAX_LOCAL_ENTRIES = 100_000;

/**
 * "At most one typing push per (user, conversation) per TYPING_INTERVAL_MS" (PROTOCOL §4 Typing, §7).
 *
 * This node remembers when it last let each key through, in a Map kept in insertion order: every
 * entry lives the same interval, so the oldest entries are the first to lapse and are swept from the
 * front on each call. Memory is bounded by the pushes of one interval (and MAX_LOCAL_ENTRIES).
 *
 * With REDIS_URL the limit holds across nodes: a key not throttled here is claimed with
 * `SET key 1 NX PX interval` (one round trip; a user's connections may sit on different nodes). When
 * Redis is down or the command fails, this node's own memory decides: the limit then holds per node,
 * and typing is never refused because Redis is away.
 */
@Injectable()
export class TypingThrottle {
  private readonly lastPush = new Map<string, number>();
  readonly intervalMs: number;

  constructor(
    config: AppConfig,
    @Optional() private readonly redis?: RedisClients,
  ) {
    this.intervalMs = config.TYPING_INTERVAL_MS;
  }

  /** Whether a push for this key may go out now; if so, the key is taken for one interval. */
  async take(key: string): Promise<boolean> {
    if (this.intervalMs === 0) return true;
    const now = Date.now();
    this.sweep(now);
    const last = this.lastPush.get(key);
    if (last !== undefined && now - last < this.intervalMs) return false;
    if (this.redis?.commandReady) {
      try {
        const claimed = await this.redis.command.set(`im:typing:${key}`, '1', 'PX', this.intervalMs, 'NX');
        if (claimed !== 'OK') return false;
      } catch (error) {
        this.redis.problem('typing throttle', error as Error);
      }
    }
    this.lastPush.delete(key); // re-inserted at the end: the Map stays ordered by time
    this.lastPush.set(key, Date.now());
    return true;
  }

  /** Forgets this node's keys (tests: user and group ids start again after a reset). */
  forget(): void {
    this.lastPush.clear();
  }

  /** Keys held now (tests, metrics). */
  get size(): number {
    return this.lastPush.size;
  }

  private sweep(now: number): void {
    for (const [key, at] of this.lastPush) {
      if (now - at < this.intervalMs && this.lastPush.size <= MAX_LOCAL_ENTRIES) break;
      this.lastPush.delete(key);
    }
  }
}
