import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { WriteBatcher } from '../database/write-batcher';
import { ConnectionRegistry } from '../realtime/connection-registry';

/** Prometheus metrics of this process. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly messagesStored = new Counter({ name: 'im_messages_stored_total', help: 'chat messages stored', labelNames: ['kind'], registers: [this.registry] });

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
