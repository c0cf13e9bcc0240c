import { Injectable } from '@nestjs/common';
import { escapeLiteral } from 'pg';
import { Db } from './db';

interface Pending {
  sql: string;
  params: unknown[];
  order: string;
  resolve: (rows: any[]) => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 64;

/**
 * Group commit for single-statement writes. While earlier batches are in flight, new statements
 * queue; each flush runs the queued ones in ONE transaction sent as ONE round trip, so many writes
 * share one COMMIT (the commit, not the statement, is what limits durable writes). Statements are
 * ordered by their `order` key (the row they lock first), so two batches take locks in the same
 * order and cannot deadlock each other. If a batch fails, each of its statements is run again on its
 * own, so every caller gets exactly its own result or error. With nothing in flight a statement runs
 * at once, parameterized, as it would without the batcher.
 */
@Injectable()
export class WriteBatcher {
  /** Counters for /metrics and tests: multi-statement batches, the statements in them, failed batches. */
  readonly stats = { batches: 0, batchedStatements: 0, failedBatches: 0 };
  private queue: Pending[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;

  constructor(private readonly db: Db) {
    this.maxInFlight = Math.max(1, Math.floor((db.pool.options.max ?? 10) / 2));
  }

  /** Runs `sql` (one statement) and resolves with its rows after COMMIT. */
  run<T>(sql: string, params: unknown[], order: string): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      this.queue.push({ sql, params, order, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    if (batch.length === 1) return this.runAlone(batch[0]);
    batch.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    const client = await this.db.pool.connect().catch((error) => {
      for (const item of batch) item.reject(error);
      return undefined;
    });
    if (!client) return;
    let results: Array<{ rows: any[] }>;
    try {
      const text = ['BEGIN', ...batch.map((item) => inline(item.sql, item.params)), 'COMMIT'].join(';\n');
      results = (await client.query(text)) as unknown as Array<{ rows: any[] }>;
    } catch {
      this.stats.failedBatches++;
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      // one statement failed (duplicate nonce, lost race…) and took the batch with it: run each alone
      await Promise.all(batch.map((item) => this.runAlone(item)));
      return;
    }
    client.release();
    this.stats.batches++;
    this.stats.batchedStatements += batch.length;
    batch.forEach((item, i) => item.resolve(results[i + 1].rows));
  }

  private async runAlone(item: Pending): Promise<void> {
    try {
      item.resolve(await this.db.query(item.sql, item.params));
    } catch (error) {
      item.reject(error);
    }
  }
}

/** The statement with its $n parameters written as SQL literals (a multi-statement query takes none). */
function inline(sql: string, params: unknown[]): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1]));
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot inline ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return escapeLiteral(String(value));
}
