import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { ContractModule } from './contract/contract.module';
import { DatabaseModule } from './database/database.module';
import { GroupsModule } from './groups/groups.module';
import { HealthModule } from './health/health.module';
import { MediaModule } from './media/media.module';
import { MessagingModule } from './messaging/messaging.module';
import { MetricsModule } from './metrics/metrics.module';
import { PresenceModule } from './presence/presence.module';
import { RealtimeModule } from './realtime/realtime.module';
import { SearchModule } from './search/search.module';
import { SyncModule } from './sync/sync.module';
import { SystemMessagesModule } from './system-messages/system-messages.module';
import { UsersModule } from './users/users.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class AppModule {
  /** `databaseUrl`: DATABASE_URL, or the embedded database's URL. */
  static forRoot(config: AppConfig, databaseUrl: string, embedded = false): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(databaseUrl, embedded ? 1 : config.DB_POOL_SIZE, embedded),
        RealtimeModule.forRoot(config),
        AuthModule,
        UsersModule,
        MessagingModule,
        GroupsModule,
        SystemMessagesModule,
        SyncModule,
        SearchModule,
        PresenceModule.forRoot(config),
        HealthModule,
        MetricsModule,
        ContractModule,
        MediaModule,
        WebhooksModule,
      ],
    };
  }
}
