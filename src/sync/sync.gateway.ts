import { SubscribeMessage } from '@nestjs/websockets';
import type { ImSocket } from '../realtime/im-ws-adapter';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { SyncService } from './sync.service';

/** `{"action":"sync","nonce":"…"}`: the type-19 data on demand, nonce echoed (PROTOCOL §6). */
@ImGateway()
export class SyncGateway {
  constructor(private readonly sync: SyncService) {}

  @SubscribeMessage('sync')
  handle(socket: ImSocket): Promise<ReplyBody> {
    const user = socket.connection!.user;
    return this.sync.reply(user.userId, user.appUserId);
  }
}
