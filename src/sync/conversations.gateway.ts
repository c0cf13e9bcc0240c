import { SubscribeMessage } from '@nestjs/websockets';
import { ImError } from '../common/im-error';
import { ConversationsRequest, SetConversationRequest } from '../contract/sync';
import { groupIdOf } from '../messaging/message-rules';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import type { ImSocket } from '../realtime/im-ws-adapter';
import { ConversationsService } from './conversations.service';

/** `conversations` and `setConversation` (PROTOCOL §6); requests arrive validated against their schemas. */
@ImGateway()
export class ConversationsGateway {
  constructor(private readonly conversations: ConversationsService) {}

  @SubscribeMessage('conversations')
  async list(socket: ImSocket, body: ConversationsRequest): Promise<ReplyBody> {
    const connection = socket.connection;
    if (!connection) throw ImError.unauthorized();
    return { data: await this.conversations.list(connection.userId, body.limit ?? 50, body.before_time ?? undefined) };
  }

  @SubscribeMessage('setConversation')
  async set(socket: ImSocket, body: SetConversationRequest): Promise<ReplyBody> {
    const connection = socket.connection;
    if (!connection) throw ImError.unauthorized();
    const target = body.group_id !== undefined ? { groupId: groupIdOf(body as unknown as Record<string, unknown>) } : { peer: body.app_user_ids };
    const settings = { muted: body.muted ?? undefined, pinned: body.pinned ?? undefined };
    const data = await this.conversations.set({ userId: connection.userId, connectionId: connection.id }, target, settings);
    return { data, group_id: data.group_id };
  }
}
