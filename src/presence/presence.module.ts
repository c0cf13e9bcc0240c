import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { LocalPresence } from './local-presence';
import { Presence } from './presence';
import { PresenceGateway } from './presence.gateway';
import { PresenceService } from './presence.service';
import { RedisPresence } from './redis-presence';

/** Who is online. `Presence` is the port: this node's registry alone, or Redis when REDIS_URL is set. */
@Module({})
export class PresenceModule {
  static forRoot(config: AppConfig): DynamicModule {
    const binding = config.REDIS_URL
      ? [RedisPresence, { provide: Presence, useExisting: RedisPresence }]
      : [LocalPresence, { provide: Presence, useExisting: LocalPresence }];
    return {
      module: PresenceModule,
      providers: [...binding, PresenceService, PresenceGateway],
      exports: [Presence, PresenceService],
    };
  }
}
