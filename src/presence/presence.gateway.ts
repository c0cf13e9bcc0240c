import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { PresenceRequest } from '../contract/presence';
import { PresenceService } from './presence.service';

/** `presence` → `{"online":{"bob":true,"carol":false}}` (PROTOCOL §5). */
@ImGateway()
export class PresenceGateway {
  constructor(private readonly presence: PresenceService) {}

  @SubscribeMessage('presence')
  async handle(@MessageBody() request: PresenceRequest): Promise<ReplyBody> {
    return { data: { online: await this.presence.online(request.app_user_ids) } };
  }
}
