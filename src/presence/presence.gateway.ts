import { SubscribeMessage } from '@nestjs/websockets';
import { ReplyBody } from '../realtime/frames';
import { ImSocket } from '../realtime/im-ws-adapter';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { PresenceRequest } from '../contract/presence';
import { PresenceService } from './presence.service';

/** `presence` → `{"online":{"bob":true,"carol":false}}` (PROTOCOL §5). */
@ImGateway()
export class PresenceGateway {
  constructor(private readonly presence: PresenceService) {}

  @SubscribeMessage('presence')
  async handle(_socket: ImSocket, request: PresenceRequest): Promise<ReplyBody> {
    return { data: { online: await this.presence.online(request.app_user_ids) } };
  }
}
