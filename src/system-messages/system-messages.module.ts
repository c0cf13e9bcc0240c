import { Module, OnModuleInit } from '@nestjs/common';
import { ConnectionLifecycle } from '../realtime/connection-lifecycle';
import { DeliveryReceipts } from '../realtime/delivery';
import { UsersModule } from '../users/users.module';
import { ProfileChangeNotifier } from './profile-change-notifier';
import { SYSTEM_MESSAGE_RECEIPT, SystemMessageService } from './system-messages.service';

/** System messages: stored per recipient, pushed, redelivered on connect (step 20, after sync). */
@Module({
  imports: [UsersModule],
  providers: [SystemMessageService, ProfileChangeNotifier],
  exports: [SystemMessageService],
})
export class SystemMessagesModule implements OnModuleInit {
  constructor(
    private readonly service: SystemMessageService,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly receipts: DeliveryReceipts,
  ) {}

  onModuleInit(): void {
    this.receipts.on(SYSTEM_MESSAGE_RECEIPT, (userId, receipt) => this.service.markReceived(userId, receipt.msgId));
    this.lifecycle.onOpen((connection) => this.service.connectionOpened(connection));
    this.lifecycle.addConnectStep(20, 'system-messages', (connection) => this.service.redeliver(connection));
  }
}
