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
/** Items of one set statement (SetStatement) run together at most. */
const MAX_SET_BATCH = 512;

/**
 * A write that runs for many items as ONE statement: the items' fields are bound as arrays (one
 * array per field, never SQL text built from values), the statement `unnest`s them WITH ORDINALITY
 * and returns one row per item carrying its 1-based `ord`. A single statement is its own transaction:
 * one round trip and one COMMIT for the whole batch, and whatever can fail for one item alone (a
 * duplicate, a missing recipient…) must be answered in its row rather than raised.
 */
export interface SetStatement<I, R extends { ord: number | string }> {
  /** Name of the prepared statement (unique per SQL text). */
  readonly name: string;
  readonly sql: string;
  /** The bound parameters (arrays) for these items, in order. */
  params(items: I[]): unknown[];
  /**
   * One item on its own, when the set statement failed as a whole (a lost connection, a unique key
   * raced by another node): must be safe to run again after a COMMIT that did happen.
   */
  alone(item: I): Promise<R>;
  /** Optional: called with all the rows of a batch before each item gets its own. */
  complete?(rows: R[]): void;
}

interface SetPending<I, R> {
  item: I;
  resolve: (row: R) => void;
  reject: (error: unknown) => void;
}

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
  private readonly setQueues = new Map<SetStatement<any, any>, SetPending<any, any>[]>();
  /** One set statement in flight at a time: the next batch forms while it runs (two measured worse). */
  private setInFlight = false;

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

  /** Queues `item` for `statement`'s next batch; resolves with the item's row after COMMIT. */
  runInSet<I, R extends { ord: number | string }>(statement: SetStatement<I, R>, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let queue = this.setQueues.get(statement);
      if (!queue) this.setQueues.set(statement, (queue = []));
      queue.push({ item, resolve, reject });
      this.pumpSets();
    });
  }

  private pumpSets(): void {
    if (this.setInFlight) return;
    for (const [statement, queue] of this.setQueues) {
      if (queue.length === 0) continue;
      const batch = queue.splice(0, MAX_SET_BATCH);
      // the statement drained goes to the back: several kinds take turns
      this.setQueues.delete(statement);
      this.setQueues.set(statement, queue);
      this.setInFlight = true;
      void this.flushSet(statement, batch).finally(() => {
        this.setInFlight = false;
        this.pumpSets();
      });
      return;
    }
  }

  private async flushSet<I, R extends { ord: number | string }>(statement: SetStatement<I, R>, batch: SetPending<I, R>[]): Promise<void> {
    this.onBatch?.(batch.length);
    const items = batch.map((pending) => pending.item);
    let rows: R[];
    try {
      rows = this.db.sharedSession
        ? await this.db.query<R>(statement.sql, statement.params(items))
        : (await this.db.pool.query({ name: statement.name, text: statement.sql, values: statement.params(items) as any[] })).rows;
    } catch {
      // The statement failed as a whole: a unique key another node raced, or the connection failed and
      // the COMMIT may or may not have happened. Each item runs alone; if the batch did commit, its
      // re-run is refused as a duplicate and the caller answers 831 with what was stored.
      this.stats.failedBatches++;
      await Promise.all(
        batch.map(async (pending) => {
          try {
            pending.resolve(await statement.alone(pending.item));
          } catch (error) {
            pending.reject(error);
          }
        }),
      );
      return;
    }
    if (batch.length > 1) {
      this.stats.batches++;
      this.stats.batchedStatements += batch.length;
    }
    statement.complete?.(rows);
    const byOrd: Array<R | undefined> = new Array(batch.length);
    for (const row of rows) byOrd[Number(row.ord) - 1] = row;
    batch.forEach((pending, i) => {
      const row = byOrd[i];
      if (row) pending.resolve(row);
      else pending.reject(new Error('the set statement returned no row for an item'));
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
