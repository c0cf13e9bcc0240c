import { Module } from '@nestjs/common';
import { SendDedupe } from '../contract';
import { UsersModule } from '../users/users.module';
import { MessagesAdminController } from './messages.admin.controller';
import { MessagingGateway } from './messaging.gateway';
import { MessagingService } from './messaging.service';
import { ReadByGateway } from './read-by.gateway';
import { ReadByService } from './read-by.service';

/** One-to-one and group chat, read receipts, history, blacklist actions (PROTOCOL §4). */
@Module({
  imports: [UsersModule],
  controllers: [MessagesAdminController],
  providers: [MessagingService, MessagingGateway, ReadByService, ReadByGateway, { provide: SendDedupe, useExisting: MessagingService }],
  exports: [MessagingService],
})
export class MessagingModule {}
