import { Global, Module } from '@nestjs/common';
import { ConnectionLifecycle } from './connection-lifecycle';
import { ConnectionRegistry } from './connection-registry';
import { Delivery, DeliveryReceipts, LocalDelivery } from './delivery';
import { Heartbeat } from './heartbeat';
import { RealtimeGateway } from './realtime.gateway';

/** WebSocket plumbing every feature shares; global so any service can push through Delivery. */
@Global()
@Module({
  providers: [
    ConnectionRegistry,
    ConnectionLifecycle,
    DeliveryReceipts,
    Heartbeat,
    RealtimeGateway,
    LocalDelivery,
    { provide: Delivery, useExisting: LocalDelivery },
  ],
  exports: [ConnectionRegistry, ConnectionLifecycle, DeliveryReceipts, Delivery],
})
export class RealtimeModule {}
