import { Module } from '@nestjs/common';
import { SendDedupe } from '../contract';
import { SystemMessagesModule } from '../system-messages/system-messages.module';
import { UsersModule } from '../users/users.module';
import { MessagesAdminController } from './messages.admin.controller';
import { MessagingGateway } from './messaging.gateway';
import { HistoryService } from './history.service';
import { InteractionsGateway } from './interactions.gateway';
import { ReactionsService } from './reactions.service';
import { TypingThrottle } from './typing-throttle';
import { TypingService } from './typing.service';
import { MessagingService } from './messaging.service';
import { ReceiptsService } from './receipts.service';
import { ReadByGateway } from './read-by.gateway';
import { ReadByService } from './read-by.service';
import { SendStore } from './send-store';
import { EditService } from './edit.service';
import { LifecycleAccess } from './lifecycle-access';
import { LifecycleGateway } from './lifecycle.gateway';
import { MessageRefs } from './message-refs';
import { RecallService } from './recall.service';

/** One-to-one and group chat, read receipts, history, blacklist actions (PROTOCOL §4). */
@Module({
  imports: [UsersModule, SystemMessagesModule],
  controllers: [MessagesAdminController],
  providers: [MessagingService, ReceiptsService, HistoryService, SendStore, MessagingGateway, ReadByService, ReadByGateway, { provide: SendDedupe, useExisting: MessagingService },
    // message lifecycle (PROTOCOL §4 "Replies and mentions", "Recall", "Edit")
    MessageRefs, LifecycleAccess, RecallService, EditService, LifecycleGateway,
    // reactions, typing, clear history (PROTOCOL §4)
    ReactionsService, TypingThrottle, TypingService, InteractionsGateway],
  exports: [MessagingService, HistoryService],
})
export class MessagingModule {}
