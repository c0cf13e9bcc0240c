import { Module, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service';
import { ConnectionLifecycle } from '../realtime/connection-lifecycle';
import { SystemMessagesModule } from '../system-messages/system-messages.module';
import { UsersModule } from '../users/users.module';
import { ClearHistoryGateway } from './clear-history.gateway';
import { ClearHistoryService } from './clear-history.service';
import { ConversationsGateway } from './conversations.gateway';
import { ConversationsService } from './conversations.service';
import { ConversationsAdminController, SyncAdminController } from './sync.admin.controller';
import { SyncGateway } from './sync.gateway';
import { SyncService } from './sync.service';

/** Order of the sync frame in the connect sequence: first (missed system messages are 20). */
export const SYNC_CONNECT_STEP_ORDER = 10;

/** Unread sync: the type-19 frame first on every connection, the `sync` action, the admin view. */
@Module({
  imports: [UsersModule, SystemMessagesModule],
  controllers: [SyncAdminController, ConversationsAdminController],
  providers: [SyncService, SyncGateway, ConversationsService, ConversationsGateway, ClearHistoryService, ClearHistoryGateway],
  exports: [SyncService],
})
export class SyncModule implements OnModuleInit {
  constructor(
    private readonly lifecycle: ConnectionLifecycle,
    private readonly sync: SyncService,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.sync.onSyncBuilt((timings) => this.metrics.syncBuildSeconds.observe(timings.buildMs / 1000));
    this.lifecycle.addConnectStep(SYNC_CONNECT_STEP_ORDER, 'sync', async (connection) => {
      const frame = await this.sync.frame(connection.userId, connection.user.appUserId);
      if (connection.isOpen) await connection.sendNow(frame); // closed meanwhile: nothing to report
    });
  }
}
