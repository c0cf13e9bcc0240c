import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { Db } from '../database/db';

/** How long /health waits for the database before saying it is down (ms). */
const DATABASE_PING_TIMEOUT_MS = 2000;

/**
 * /health's database check: `SELECT 1` through the app's own pool (the connections requests use), so
 * it reports what requests see, and a connection that fails meanwhile is handled like any other
 * (see Db.checkout). Down when the query fails or takes longer than 2 s.
 */
@Injectable()
export class DatabaseHealth {
  constructor(
    private readonly db: Db,
    private readonly indicator: HealthIndicatorService,
  ) {}

  async check(key = 'database'): Promise<HealthIndicatorResult> {
    const session = this.indicator.check(key);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.db.query('SELECT 1'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${DATABASE_PING_TIMEOUT_MS} ms`)), DATABASE_PING_TIMEOUT_MS))),
      ]);
      return session.up();
    } catch (error) {
      return session.down({ message: (error as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }
}
