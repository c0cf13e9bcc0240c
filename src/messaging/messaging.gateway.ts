import { SubscribeMessage } from '@nestjs/websockets';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { ImSocket } from '../realtime/im-ws-adapter';
import { BlacklistService } from '../users/blacklist.service';
import { recipientOf } from './message-rules';
import { HistoryService } from './history.service';
import { MessagingService, senderOf } from './messaging.service';
import { ReceiptsService } from './receipts.service';

/**
 * chat, groupChat, ack, history, block, unblock. Bodies are validated by the service, not by a DTO
 * pipe: a duplicate nonce must get 831 before any field is looked at (PROTOCOL §4 step 1).
 */
@ImGateway()
export class MessagingGateway {
  constructor(
    private readonly messaging: MessagingService,
    private readonly receipts: ReceiptsService,
    private readonly historyService: HistoryService,
    private readonly blacklist: BlacklistService,
  ) {}

  @SubscribeMessage('chat')
  chat(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.messaging.sendDirect(senderOf(socket), request);
  }

  @SubscribeMessage('groupChat')
  groupChat(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.messaging.sendGroup(senderOf(socket), request);
  }

  @SubscribeMessage('ack')
  ack(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.receipts.ack(senderOf(socket), request);
  }

  @SubscribeMessage('history')
  history(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.historyService.historyRequest(senderOf(socket), request);
  }

  @SubscribeMessage('block')
  async block(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    await this.blacklist.block(socket.connection!.userId, recipientOf(request));
    return {};
  }

  @SubscribeMessage('unblock')
  async unblock(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    await this.blacklist.unblock(socket.connection!.userId, recipientOf(request));
    return {};
  }
}
