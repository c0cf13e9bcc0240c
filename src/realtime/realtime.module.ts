import { DynamicModule, Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { ConnectionLifecycle } from './connection-lifecycle';
import { ConnectionRegistry } from './connection-registry';
import { Delivery, DeliveryReceipts, LocalDelivery } from './delivery';
import { Heartbeat } from './heartbeat';
import { RealtimeGateway } from './realtime.gateway';
import { RedisClients } from './redis-clients';
import { RedisDelivery } from './redis-delivery';

/** WebSocket plumbing every feature shares; global so any service can push through Delivery. */
/** Delivery is local on one node, through Redis when REDIS_URL is set. */
@Global()
@Module({})
export class RealtimeModule {
  static forRoot(config: AppConfig): DynamicModule {
    const delivery = config.REDIS_URL
      ? [RedisClients, RedisDelivery, { provide: Delivery, useExisting: RedisDelivery }]
      : [{ provide: Delivery, useExisting: LocalDelivery }];
    return {
      module: RealtimeModule,
      imports: [DiscoveryModule], // the adapter's route table (gateway-routes.ts)
      providers: [ConnectionRegistry, ConnectionLifecycle, DeliveryReceipts, Heartbeat, RealtimeGateway, LocalDelivery, ...delivery],
      exports: [ConnectionRegistry, ConnectionLifecycle, DeliveryReceipts, Delivery, ...(config.REDIS_URL ? [RedisClients] : [])],
    };
  }
}
