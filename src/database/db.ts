import { Injectable } from '@nestjs/common';
import { Pool, PoolClient, types } from 'pg';
import { DataSource } from 'typeorm';

// bigint columns (ids, ms timestamps) stay far below 2^53: read them as numbers, not strings.
types.setTypeParser(types.builtins.INT8, (value) => Number.parseInt(value, 10));

export interface Queryable {
  query<T = Record<string, any>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/**
 * Plain SQL over the pool TypeORM opened (TypeORM keeps the connection settings and migrations).
 * `query` always resolves to the rows, whatever the statement.
 */
@Injectable()
export class Db implements Queryable {
  readonly pool: Pool;

  /**
   * `shared session`: every connection reaches the same database session (the embedded database
   * behind pglite-socket), so per-connection state such as named prepared statements is not safe.
   */
  constructor(
    dataSource: DataSource,
    readonly sharedSession = false,
  ) {
    this.pool = (dataSource.driver as unknown as { master: Pool }).master;
  }

  async query<T = Record<string, any>>(sql: string, params?: unknown[]): Promise<T[]> {
    return (await this.pool.query(sql, params as any[])).rows as T[];
  }

  /** Runs `work` in one transaction on one connection; rolls back if it throws. */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client: PoolClient = await this.pool.connect();
    const tx: Queryable = { query: async (sql, params) => (await client.query(sql, params as any[])).rows };
    try {
      await client.query('BEGIN');
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
