import { Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module';
import { MessagesAdminController } from './messages.admin.controller';
import { MessagingGateway } from './messaging.gateway';
import { MessagingService } from './messaging.service';

/** One-to-one and group chat, read receipts, history, blacklist actions (PROTOCOL §4). */
@Module({
  imports: [UsersModule],
  controllers: [MessagesAdminController],
  providers: [MessagingService, MessagingGateway],
  exports: [MessagingService],
})
export class MessagingModule {}
