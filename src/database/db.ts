import { Injectable, Logger } from '@nestjs/common';
import { Pool, PoolClient, types } from 'pg';
import { DataSource } from 'typeorm';

// bigint columns (ids, ms timestamps) stay far below 2^53: read them as numbers, not strings.
types.setTypeParser(types.builtins.INT8, (value) => Number.parseInt(value, 10));

export interface Queryable {
  query<T = Record<string, any>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/**
 * A connection taken from the pool for several statements (see `Db.checkout`). While it is out,
 * an `'error'` the connection emits (its backend terminated, the server gone) is caught here:
 * without a listener Node would end the whole process. `release` gives it back, or destroys it
 * when it failed, so a broken connection is never handed out again.
 */
export interface Lease {
  readonly client: PoolClient;
  /** The error the connection emitted, if it did. */
  readonly failure: Error | undefined;
  /** Back to the pool; destroyed instead when it failed or `broken` says so (e.g. ROLLBACK failed). */
  release(broken?: unknown): void;
}

/**
 * Plain SQL over the pool TypeORM opened (TypeORM keeps the connection settings and migrations).
 * `query` always resolves to the rows, whatever the statement.
 */
@Injectable()
export class Db implements Queryable {
  readonly pool: Pool;
  private readonly logger = new Logger('Db');
  /** Where statement and transaction durations go (seconds), set by /metrics. */
  timings?: { query: { observe(seconds: number): void }; transaction: { observe(seconds: number): void } };

  /**
   * `shared session`: every connection reaches the same database session (the embedded database
   * behind pglite-socket), so per-connection state such as named prepared statements is not safe.
   */
  constructor(
    dataSource: DataSource,
    readonly sharedSession = false,
  ) {
    this.pool = (dataSource.driver as unknown as { master: Pool }).master;
    // idle connections: pg-pool re-emits their errors on the pool, and an unheard 'error' ends the process
    // (TypeORM adds a listener too; this one does not depend on it)
    this.pool.on('error', (error) => this.logger.warn(`idle database connection failed: ${error.message}`));
  }

  /** A connection of its own for several statements; always `release` it (see Lease). */
  checkout(): Promise<Lease> {
    return new Promise((resolve, reject) => {
      // The callback form: pg-pool calls it synchronously as it hands the connection over, so the
      // listener is on before any more bytes are read. (With `await pool.connect()` it would come a
      // microtask later: a FATAL that arrives in the same packet as the previous user's last reply —
      // pg_terminate_backend does that — would find no listener and end the process.)
      this.pool.connect((error, client) => {
        if (error || !client) return reject(error ?? new Error('no database connection'));
        resolve(this.lease(client));
      });
    });
  }

  private lease(client: PoolClient): Lease {
    let failure: Error | undefined;
    let released = false;
    const onError = (error: Error) => {
      failure ??= error;
      this.logger.warn(`database connection failed while in use: ${error.message}`);
    };
    client.on('error', onError);
    return {
      client,
      get failure() {
        return failure;
      },
      release(broken?: unknown) {
        if (released) return;
        released = true;
        client.removeListener('error', onError); // pg-pool puts its own listener back in release
        const reason = failure ?? (broken ? (broken instanceof Error ? broken : new Error(String(broken))) : undefined);
        client.release(reason);
      },
    };
  }

  async query<T = Record<string, any>>(sql: string, params?: unknown[]): Promise<T[]> {
    const started = performance.now();
    try {
      return (await this.pool.query(sql, params as any[])).rows as T[];
    } finally {
      this.timings?.query.observe((performance.now() - started) / 1000);
    }
  }

  /**
   * Runs `work` in one transaction on one connection; rolls back if it throws. When the connection
   * fails during COMMIT the outcome is unknown: the error propagates (code 0), and the caller's retry
   * must find what was committed (e.g. the unique (sender, nonce) of a message).
   */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await this.transactionOnce(work);
    } finally {
      this.timings?.transaction.observe((performance.now() - started) / 1000);
    }
  }

  private async transactionOnce<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const lease = await this.checkout();
    const { client } = lease;
    const tx: Queryable = { query: async (sql, params) => (await client.query(sql, params as any[])).rows };
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError) => (broken = rollbackError));
      throw error;
    } finally {
      lease.release(broken);
    }
  }
}
