import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Db } from '../database/db';
import { MetricsService } from '../metrics/metrics.service';
import { Sink, WebhookOutbox } from './outbox';
import { messageCreatedBodies } from './message-events';
import { OfflinePushResolver } from './push';
import { postSigned } from './signer';

export interface OutboxRow {
  id: number;
  event_id: string;
  sink: Sink;
  event: string;
  ordering_key: string;
  body: string;
  msg_id: number | null;
  created_at: number;
  attempts: number;
  locked_until: number;
}

/** Ordering keys served per round and sink: at most this many calls in flight per node and sink. */
const KEYS_PER_ROUND = 32;
/** Rows of one key claimed at once, delivered one after the other. */
const ROWS_PER_KEY = 64;
/** A claimed row is leased this long past the call's timeout; a node that died holding it loses it then. */
const LEASE_MARGIN_MS = 5000;

/**
 * Claims, for each ordering key whose head (its row with the smallest id) is due and free, that head
 * and the rows after it: only from the head on may a key's rows go out, so a later event of a
 * conversation waits for every earlier one (retries included). The claim is a lease (`locked_until`),
 * re-checked row by row by the UPDATE: when two nodes pick the same key, the second UPDATE waits for
 * the first's row locks, then finds those rows leased and skips them; a claim that did not get its
 * key's head is given back at once (`head_id`, see round()). No session state or held transaction, so
 * it works on the embedded database's one connection.
 */
const CLAIM = `
  WITH heads AS (
    SELECT DISTINCT ON (ordering_key) ordering_key, id, next_at, locked_until
    FROM webhook_outbox WHERE sink = $1
    ORDER BY ordering_key, id
  ),
  keys AS (
    SELECT ordering_key, id AS head_id FROM heads WHERE next_at <= $2 AND locked_until <= $2 ORDER BY id LIMIT $3
  ),
  picked AS (
    SELECT r.id, keys.head_id FROM keys
    CROSS JOIN LATERAL (
      SELECT id FROM webhook_outbox o WHERE o.sink = $1 AND o.ordering_key = keys.ordering_key ORDER BY id LIMIT $5
    ) r
  )
  UPDATE webhook_outbox o SET locked_until = $4
  FROM picked WHERE o.id = picked.id AND o.locked_until <= $2
  RETURNING o.id, o.event_id::text, o.sink, o.event, o.ordering_key, o.body, o.msg_id, o.created_at, o.attempts, o.locked_until, picked.head_id`;

/**
 * Moves a run of intake rows (in id order, as committed) to their sinks in ONE statement: a send
 * batch's row becomes one message.created row and/or one offline push job per message, keyed by its
 * conversation; an event row goes to the events sink under its final key. The new rows take new ids
 * in the intake's order, so each conversation's rows stay in the order they were committed in.
 */
const EXPAND = `
  WITH src AS (
    DELETE FROM webhook_outbox WHERE id = ANY($1::bigint[]) AND sink = ${Sink.Intake} AND locked_until = $2
    RETURNING id, event, final_key, body, msg_ids, created_at
  )
  INSERT INTO webhook_outbox (sink, event, ordering_key, body, msg_id, created_at, next_at)
  SELECT sink, event, key, body, msg_id, created_at, $3 FROM (
    SELECT ${Sink.Events}::smallint AS sink, src.event, src.final_key AS key, src.body, NULL::bigint AS msg_id, src.created_at, src.id AS o1, 0::bigint AS o2, 0::bigint AS o3
    FROM src WHERE src.msg_ids IS NULL
    UNION ALL
    SELECT s.sink, s.event, 'c:' || m.conversation_id, '', m.id, m.created_at, src.id, x.o, s.o
    FROM src CROSS JOIN LATERAL unnest(src.msg_ids) WITH ORDINALITY AS x(id, o)
    JOIN messages m ON m.id = x.id
    CROSS JOIN unnest($4::smallint[], $5::text[]) WITH ORDINALITY AS s(sink, event, o)
  ) r ORDER BY o1, o2, o3`;

/**
 * Delivers webhook_outbox rows on every node (PROTOCOL §11, docs/webhooks.md): at least once, in order
 * per ordering key, retried with exponential backoff (WEBHOOK_RETRY_BASE_MS doubling up to
 * WEBHOOK_RETRY_MAX_MS) until WEBHOOK_RETRY_FOR_MS after the row was written, then dropped.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Webhooks');
  private readonly sinks: Array<{ sink: Sink; url: string }> = [];
  private readonly leaseMs: number;
  /** The per-message rows a send batch's intake row becomes: (sink, event). */
  private readonly expandTo: ReadonlyArray<readonly [Sink, string]>;
  private running = false;
  private loops: Promise<void>[] = [];
  /** Per sink loop: wakes it from its sleep (a kick, shutdown). */
  private readonly wakers = new Set<() => void>();
  /** Aborts calls in flight at shutdown (their rows are released for the next node or start). */
  private readonly stop = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly push: OfflinePushResolver,
    outbox: WebhookOutbox,
  ) {
    if (config.WEBHOOK_URL) this.sinks.push({ sink: Sink.Events, url: config.WEBHOOK_URL });
    if (config.PUSH_WEBHOOK_URL) this.sinks.push({ sink: Sink.Push, url: config.PUSH_WEBHOOK_URL });
    this.expandTo = [
      ...(config.WEBHOOK_URL ? [[Sink.Events, 'message.created'] as const] : []),
      ...(config.PUSH_WEBHOOK_URL ? [[Sink.Push, 'message.offline'] as const] : []),
    ];
    if (this.sinks.length > 0) this.sinks.unshift({ sink: Sink.Intake, url: '' });
    this.leaseMs = config.WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS;
    outbox.onKick(() => this.wake());
  }

  onApplicationBootstrap(): void {
    if (this.sinks.length === 0 || !this.config.WEBHOOK_WORKER) return;
    this.running = true;
    // one loop per sink: a push receiver that hangs does not hold back events, nor the other way round
    this.loops = this.sinks.map((sink) => this.run(sink.sink, sink.url));
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.stop.abort();
    this.wake();
    await Promise.all(this.loops);
  }

  private wake(): void {
    for (const wake of this.wakers) wake();
  }

  private async run(sink: Sink, url: string): Promise<void> {
    let kicked = false;
    const onKick = () => (kicked = true);
    this.wakers.add(onKick);
    while (this.running) {
      kicked = false;
      let claimed = 0;
      try {
        claimed = await this.round(sink, url);
      } catch (error) {
        this.logger.warn(`webhook round failed: ${(error as Error).message}`);
      }
      if (claimed === 0 && !kicked && this.running) await this.sleep(this.config.WEBHOOK_POLL_MS);
    }
    this.wakers.delete(onKick);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  /** Claims and delivers one round of rows of `sink`; returns how many were claimed. */
  private async round(sink: Sink, url: string): Promise<number> {
    const now = Date.now();
    const rows = await this.db.query<OutboxRow & { head_id: number }>(CLAIM, [sink, now, KEYS_PER_ROUND, now + this.leaseMs, ROWS_PER_KEY]);
    const runs = new Map<string, Array<OutboxRow & { head_id: number }>>();
    for (const row of rows) {
      const run = runs.get(row.ordering_key);
      if (run) run.push(row);
      else runs.set(row.ordering_key, [row]);
    }
    if (sink === Sink.Intake) return this.expand(rows);
    const release: number[] = [];
    const delivered: number[] = [];
    // message.created rows reference their message: the bodies are read in one query
    const referenced = rows.filter((row) => row.sink === Sink.Events && row.msg_id !== null);
    if (referenced.length > 0) {
      const bodies = await messageCreatedBodies(this.db, referenced.map((row) => row.msg_id!));
      for (const row of referenced) row.body = bodies.get(row.msg_id!) ?? '';
    }
    await Promise.all(
      [...runs.values()].map(async (run) => {
        run.sort((a, b) => a.id - b.id);
        // another node holds this key's head (it claimed first): give the rest back
        if (run[0].id !== run[0].head_id) return void release.push(...run.map((row) => row.id));
        for (let i = 0; i < run.length; i++) {
          if (!this.running || !(await this.handle(run[i], url, delivered))) {
            release.push(...run.slice(i + (this.running ? 1 : 0)).map((row) => row.id));
            return;
          }
        }
      }),
    );
    if (delivered.length > 0) await this.db.query(`DELETE FROM webhook_outbox WHERE id = ANY($1::bigint[])`, [delivered]);
    // rows of a run stopped by a failure (or by shutdown) are free again at once: the failed head keeps them waiting
    if (release.length > 0) await this.db.query(`UPDATE webhook_outbox SET locked_until = 0 WHERE id = ANY($1::bigint[])`, [release]);
    return rows.length;
  }

  /** Moves the claimed intake rows (one key: one run from its head) to their sinks, then wakes the sink loops. */
  private async expand(rows: Array<OutboxRow & { head_id: number }>): Promise<number> {
    if (rows.length === 0) return 0;
    rows.sort((a, b) => a.id - b.id);
    const ids = rows.map((row) => row.id);
    if (rows[0].id !== rows[0].head_id) {
      await this.db.query(`UPDATE webhook_outbox SET locked_until = 0 WHERE id = ANY($1::bigint[])`, [ids]);
      return 0;
    }
    await this.db.query(EXPAND, [ids, rows[0].locked_until, Date.now(), this.expandTo.map(([sink]) => sink), this.expandTo.map(([, event]) => event)]);
    this.wake();
    return rows.length;
  }

  /** Delivers (or resolves) one row; false when it failed and its key must wait. */
  private async handle(row: OutboxRow, url: string, delivered: number[]): Promise<boolean> {
    try {
      // an offline push job becomes its calls (recipients and badges decided now); they follow in order
      if (row.sink === Sink.Push && row.msg_id !== null) {
        await this.push.resolve(row);
        return true;
      }
      if (row.body === '') {
        // a message.created whose message no longer exists: nothing to report
        delivered.push(row.id);
        return true;
      }
      const result = await postSigned(url, this.config.WEBHOOK_SECRET!, row.event, row.event_id, row.body, this.config.WEBHOOK_TIMEOUT_MS, this.stop.signal);
      if (result.ok) {
        this.metrics.webhookCalls.inc({ sink: sinkName(row.sink), outcome: 'delivered' });
        delivered.push(row.id);
        return true;
      }
      // aborted by shutdown: not a failure; round() frees the row at once for another node or the next start
      if (!this.running) return false;
      this.metrics.webhookCalls.inc({ sink: sinkName(row.sink), outcome: 'failed' });
      await this.failed(row, result.error ?? 'failed');
    } catch (error) {
      // the database failed: the lease runs out and the row is tried again
      this.logger.warn(`webhook row ${row.id} (${row.event}): ${(error as Error).message}`);
    }
    return false;
  }

  private async failed(row: OutboxRow, reason: string): Promise<void> {
    const now = Date.now();
    const attempts = row.attempts + 1;
    const delay = Math.min(this.config.WEBHOOK_RETRY_MAX_MS, this.config.WEBHOOK_RETRY_BASE_MS * 2 ** Math.min(30, attempts - 1));
    const next = now + delay;
    if (next > row.created_at + this.config.WEBHOOK_RETRY_FOR_MS) {
      this.metrics.webhookDropped.inc({ sink: sinkName(row.sink) });
      this.logger.error(`dropped webhook ${row.event} ${row.event_id} after ${attempts} attempts: ${reason}`);
      await this.db.query(`DELETE FROM webhook_outbox WHERE id = $1`, [row.id]);
      return;
    }
    if (attempts === 1 || attempts % 10 === 0) this.logger.warn(`webhook ${row.event} ${row.event_id} failed (attempt ${attempts}): ${reason}; next try in ${delay} ms`);
    await this.db.query(`UPDATE webhook_outbox SET attempts = $4, next_at = $2, locked_until = 0, last_error = $3 WHERE id = $1`, [row.id, next, reason.slice(0, 500), attempts]);
  }
}

export function sinkName(sink: Sink): 'events' | 'push' {
  return sink === Sink.Events ? 'events' : 'push';
}
