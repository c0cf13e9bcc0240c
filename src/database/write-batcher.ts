import { Injectable } from '@nestjs/common';
import { createHash } from 'crypto';
import { escapeLiteral, PoolClient } from 'pg';
import { Db, Lease } from './db';

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
 *
 * Statements must be safe to run twice: when the connection fails during a batch its COMMIT may have
 * happened, and the re-run then has to be refused (a unique key), never applied a second time.
 */
@Injectable()
export class WriteBatcher {
  /** Counters for /metrics and tests: multi-statement batches, the statements in them, failed batches. */
  readonly stats = { batches: 0, batchedStatements: 0, failedBatches: 0 };
  /** Told the size of every batch flushed (for /metrics). */
  onBatch?: (size: number) => void;
  private queue: Pending[] = [];
  private readonly preparedOn = new WeakMap<PoolClient, Set<string>>();
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
    this.onBatch?.(batch.length);
    if (batch.length === 1) return this.runAlone(batch[0]);
    batch.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    let lease: Lease;
    try {
      lease = await this.db.checkout();
    } catch (error) {
      for (const item of batch) item.reject(error); // nothing was sent
      return;
    }
    const { client } = lease;
    let results: Array<{ rows: any[] }>;
    try {
      const statements = this.db.sharedSession
        ? batch.map((item) => inline(item.sql, item.params))
        : (await this.prepare(client, batch)).map((name, i) => `EXECUTE ${name}(${batch[i].params.map(literal).join(', ')})`);
      const text = ['BEGIN', ...statements, 'COMMIT'].join(';\n');
      results = (await client.query(text)) as unknown as Array<{ rows: any[] }>;
    } catch {
      this.stats.failedBatches++;
      let broken: unknown = lease.failure;
      if (!broken) await client.query('ROLLBACK').catch((error) => (broken = error));
      lease.release(broken); // a failed connection is destroyed, not reused
      // One statement failed (duplicate nonce, lost race…) and took the batch with it, or the
      // connection failed and the COMMIT may or may not have happened: run each alone. Each statement
      // is safe to run again (a message is unique by sender and nonce): if the batch did commit, its
      // re-run is refused as a duplicate and the caller answers 831 with what was stored.
      await Promise.all(batch.map((item) => this.runAlone(item)));
      return;
    }
    lease.release();
    this.stats.batches++;
    this.stats.batchedStatements += batch.length;
    batch.forEach((item, i) => item.resolve(results[i + 1].rows));
  }

  /** Plans each distinct statement once per connection (planning costs as much as running it). */
  private async prepare(client: PoolClient, batch: Pending[]): Promise<string[]> {
    let prepared = this.preparedOn.get(client);
    if (!prepared) this.preparedOn.set(client, (prepared = new Set()));
    const names: string[] = [];
    for (const item of batch) {
      const name = `wb_${statementId(item.sql)}`;
      if (!prepared.has(name)) {
        await client.query(`PREPARE ${name} AS ${item.sql}`);
        prepared.add(name);
      }
      names.push(name);
    }
    return names;
  }

  private async runAlone(item: Pending): Promise<void> {
    try {
      if (this.db.sharedSession) return item.resolve(await this.db.query(item.sql, item.params));
      // a named statement: pg plans it once per connection (a name apart from the batches' PREPAREs)
      const result = await this.db.pool.query({ name: `wp_${statementId(item.sql)}`, text: item.sql, values: item.params as any[] });
      item.resolve(result.rows);
    } catch (error) {
      item.reject(error);
    }
  }
}

const ids = new Map<string, string>();
function statementId(sql: string): string {
  let id = ids.get(sql);
  if (!id) ids.set(sql, (id = createHash('sha1').update(sql).digest('hex').slice(0, 16)));
  return id;
}

/** The statement with its $n parameters written as SQL literals (a multi-statement query takes none). */
function inline(sql: string, params: unknown[]): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1]));
}

/** A parameter written as an SQL literal (EXECUTE in a multi-statement query takes no $n). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot inline ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return escapeLiteral(String(value));
}
