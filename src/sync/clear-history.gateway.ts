import { SubscribeMessage } from '@nestjs/websockets';
import { ImError } from '../common/im-error';
import { conversationTarget } from '../messaging/message-rules';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import type { ImSocket } from '../realtime/im-ws-adapter';
import { ClearHistoryService } from './clear-history.service';

/** `clearHistory` (PROTOCOL §4); the request arrives validated against its schema. */
@ImGateway()
export class ClearHistoryGateway {
  constructor(private readonly clearHistory: ClearHistoryService) {}

  @SubscribeMessage('clearHistory')
  async clear(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    const connection = socket.connection;
    if (!connection) throw ImError.unauthorized();
    const cleared = await this.clearHistory.clear({ userId: connection.userId, connectionId: connection.id }, conversationTarget(request));
    return { data: { seq: cleared.seq }, group_id: cleared.group_id };
  }
}
