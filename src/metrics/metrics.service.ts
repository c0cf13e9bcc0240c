import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Db } from '../database/db';
import { WriteBatcher } from '../database/write-batcher';
import { Connection } from '../realtime/connection';
import { ConnectionRegistry } from '../realtime/connection-registry';

/** Request durations: from a cached read (sub-ms) to a slow write during an outage. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Close codes worth a series of their own (PROTOCOL §2); any other is counted as `other`. */
export const CLOSE_CODES = [1000, 1001, 1005, 1006, 1008, 1009, 1011, 1012, 1013, 4401, 4409] as const;
/** Why an upgrade was refused (src/realtime/upgrade-gate.ts). */
export const UPGRADE_REFUSALS = ['draining', 'origin', 'unauthenticated', 'too_many', 'failed'] as const;
export type UpgradeRefusal = (typeof UPGRADE_REFUSALS)[number];

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/**
 * Prometheus metrics of this process. Label sets are bounded: actions are the routed ones (unknown
 * actions count as `invalid`), codes are PROTOCOL §3's, close codes and refusal reasons are fixed
 * lists. The send path uses children bound once per label set (no label object per request).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly syncBuildSeconds = new Histogram({
    name: 'im_sync_build_seconds',
    help: 'time to build a sync payload (type 19, sync action, admin conversations)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  private readonly messagesStoredTotal = new Counter({ name: 'im_messages_stored_total', help: 'chat messages stored', labelNames: ['kind'], registers: [this.registry] });
  /** by kind, bound once (a labelled inc() hashes its labels on every call) */
  readonly messagesStored: Record<'chat' | 'group', Inc> = { chat: this.messagesStoredTotal.labels('chat'), group: this.messagesStoredTotal.labels('group') };
  readonly redisPublishFailures = new Counter({
    name: 'im_redis_publish_failures_total',
    help: 'pushes not published to the other nodes because Redis was unreachable or refused them (their live pushes are lost; messages stay stored)',
    registers: [this.registry],
  });

  readonly webhookCalls = new Counter({
    name: 'im_webhook_calls_total',
    help: 'event and offline push webhook calls made by this node (PROTOCOL §11), by sink (events, push) and outcome (delivered = 2xx, failed = retried later)',
    labelNames: ['sink', 'outcome'],
    registers: [this.registry],
  });
  readonly webhookDropped = new Counter({
    name: 'im_webhook_dropped_total',
    help: 'webhook calls given up after WEBHOOK_RETRY_FOR_MS of failures, by sink',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly beforeSendSeconds = new Histogram({
    name: 'im_before_send_seconds',
    help: 'latency of the before-send webhook (BEFORE_SEND_WEBHOOK_URL), by outcome: allow, reject, replace, failure (timeout, non-2xx, bad answer)',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  private readonly requests = new Counter({
    name: 'im_requests_total',
    help: 'WebSocket requests answered, by action and reply code (PROTOCOL §3); action "invalid" = not a routable frame',
    labelNames: ['action', 'code'],
    registers: [this.registry],
  });
  private readonly requestSeconds = new Histogram({
    name: 'im_request_duration_seconds',
    help: 'time from reading a WebSocket request to writing its reply, by action',
    labelNames: ['action'],
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  private readonly requestChildren = new Map<string, { seconds: Observe; byCode: Map<number, Inc> }>();

  readonly rateLimited: Inc = new Counter({ name: 'im_rate_limited_total', help: 'requests answered 429 (per-connection rate limit, PROTOCOL §7)', registers: [this.registry] });

  private readonly pushes = new Counter({
    name: 'im_pushes_total',
    help: 'pushes (frames not answering a request) to connections of this node, by outcome: written to the socket, or dropped (closed or slow connection)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly pushWritten: Inc = this.pushes.labels('written');
  readonly pushDropped: Inc = this.pushes.labels('dropped');

  readonly connectionsOpened: Inc = new Counter({ name: 'im_connections_opened_total', help: 'authenticated WebSocket connections opened on this node', registers: [this.registry] });
  private readonly connectionsClosed = new Counter({
    name: 'im_connections_closed_total',
    help: 'authenticated WebSocket connections closed, by close code (codes outside PROTOCOL §2 count as "other")',
    labelNames: ['code'],
    registers: [this.registry],
  });
  private readonly closedChildren = new Map<number, Inc>(CLOSE_CODES.map((code) => [code, this.connectionsClosed.labels(String(code))]));
  private readonly closedOther = this.connectionsClosed.labels('other');

  private readonly upgradesRefused = new Counter({
    name: 'im_ws_upgrades_refused_total',
    help: 'WebSocket upgrades refused, by reason (draining 503, origin 403, unauthenticated 401, too_many 429, failed 503)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly refusedChildren = new Map<string, Inc>(UPGRADE_REFUSALS.map((reason) => [reason, this.upgradesRefused.labels(reason)]));

  readonly httpSeconds = new Histogram({
    name: 'im_http_request_duration_seconds',
    help: 'HTTP requests (admin API, health, docs, console), by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });

  readonly dbQuerySeconds: Observe = new Histogram({
    name: 'im_db_query_duration_seconds',
    help: 'single database statements (pool queries), including the wait for a pool connection',
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  readonly dbTransactionSeconds: Observe = new Histogram({
    name: 'im_db_transaction_duration_seconds',
    help: 'database transactions, from taking a connection to COMMIT or ROLLBACK',
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  readonly writeBatchSize: Observe = new Histogram({
    name: 'im_write_batch_size',
    help: 'statements per group-commit batch of the write batcher',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });

  /** Set by the system messages service (which depends on this one, not the other way round). */
  systemMessagesPending?: () => { receivedMarks: number; unclaims: number };

  constructor(connections: ConnectionRegistry, batcher: WriteBatcher, db: Db) {
    collectDefaultMetrics({ register: this.registry });
    db.timings = { query: this.dbQuerySeconds, transaction: this.dbTransactionSeconds };
    batcher.onBatch = (size) => this.writeBatchSize.observe(size);
    new Gauge({
      name: 'im_connections_open',
      help: 'open WebSocket connections on this node',
      registers: [this.registry],
      collect() {
        this.set(connections.size);
      },
    });
    new Gauge({
      name: 'im_db_pool_connections',
      help: 'database pool: connections in use, idle, and requests waiting for one',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const pool = db.pool;
        this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
    const systemPending: Gauge = new Gauge({
      name: 'im_system_messages_pending',
      help: 'system messages waiting for the database: received marks not yet written, and claims to give back (those are pushed again on the next connect)',
      labelNames: ['what'],
      registers: [this.registry],
      collect: () => {
        const pending = this.systemMessagesPending?.() ?? { receivedMarks: 0, unclaims: 0 };
        systemPending.set({ what: 'received_marks' }, pending.receivedMarks);
        systemPending.set({ what: 'unclaims' }, pending.unclaims);
      },
    });
    cumulativeCounter(this.registry, 'im_slow_consumer_drops_total', 'connections dropped with 1013 because MAX_BUFFERED_BYTES of unsent frames piled up', () => Connection.stats.slowConsumerDrops);
    const seen = { committed: 0, failed: 0, statements: 0 };
    // the batcher keeps plain counts; each scrape adds what they grew by (counters never go down)
    const catchUp = () => {
      const { batches: committed, failedBatches: failed, batchedStatements } = batcher.stats;
      if (committed > seen.committed) batches.inc({ outcome: 'committed' }, committed - seen.committed);
      if (failed > seen.failed) batches.inc({ outcome: 'failed' }, failed - seen.failed);
      if (batchedStatements > seen.statements) statements.inc(batchedStatements - seen.statements);
      Object.assign(seen, { committed, failed, statements: batchedStatements });
    };
    const batches = new Counter({
      name: 'im_write_batches_total',
      help: 'multi-statement group-commit batches, by outcome',
      labelNames: ['outcome'],
      registers: [this.registry],
      collect: catchUp,
    });
    const statements = new Counter({
      name: 'im_write_batched_statements_total',
      help: 'statements committed in multi-statement batches',
      registers: [this.registry],
      collect: catchUp,
    });
    batches.labels('committed');
    batches.labels('failed');
  }

  /** One answered request; `action` is a routed action (or "invalid"). */
  request(action: string, code: number, seconds: number): void {
    let children = this.requestChildren.get(action);
    if (!children) {
      children = { seconds: this.requestSeconds.labels(action), byCode: new Map() };
      this.requestChildren.set(action, children);
    }
    let counter = children.byCode.get(code);
    if (!counter) {
      counter = this.requests.labels(action, String(code));
      children.byCode.set(code, counter);
    }
    counter.inc();
    children.seconds.observe(seconds);
  }

  connectionClosed(code: number): void {
    (this.closedChildren.get(code) ?? this.closedOther).inc();
  }

  upgradeRefused(reason: UpgradeRefusal): void {
    this.refusedChildren.get(reason)?.inc();
  }
}

/** A counter whose value is a count kept elsewhere (read at each scrape). */
function cumulativeCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = now;
    },
  });
}
