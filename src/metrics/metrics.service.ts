import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { ConnectionRegistry } from '../realtime/connection-registry';

/** Prometheus metrics of this process. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly messagesStored = new Counter({ name: 'im_messages_stored_total', help: 'chat messages stored', labelNames: ['kind'], registers: [this.registry] });

  constructor(connections: ConnectionRegistry) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'im_connections_open',
      help: 'open WebSocket connections on this node',
      registers: [this.registry],
      collect() {
        this.set(connections.size);
      },
    });
  }
}
