import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { WriteBatcher } from '../database/write-batcher';
import { ConnectionRegistry } from '../realtime/connection-registry';

/** Prometheus metrics of this process. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly syncBuildSeconds = new Histogram({
    name: 'im_sync_build_seconds',
    help: 'time to build a sync payload (type 19, sync action, admin conversations)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly messagesStored = new Counter({ name: 'im_messages_stored_total', help: 'chat messages stored', labelNames: ['kind'], registers: [this.registry] });
  readonly redisPublishFailures = new Counter({
    name: 'im_redis_publish_failures_total',
    help: 'pushes not published to the other nodes because Redis was unreachable or refused them (their live pushes are lost; messages stay stored)',
    registers: [this.registry],
  });

  constructor(connections: ConnectionRegistry, batcher: WriteBatcher) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'im_connections_open',
      help: 'open WebSocket connections on this node',
      registers: [this.registry],
      collect() {
        this.set(connections.size);
      },
    });
    new Gauge({
      name: 'im_write_batches',
      help: 'multi-statement write batches since start, by outcome (statements = statements committed in batches)',
      labelNames: ['what'],
      registers: [this.registry],
      collect() {
        this.set({ what: 'committed' }, batcher.stats.batches);
        this.set({ what: 'statements' }, batcher.stats.batchedStatements);
        this.set({ what: 'failed' }, batcher.stats.failedBatches);
      },
    });
  }
}
