import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { ImGateway } from './im-gateway.decorator';
import { ReplyBody } from './frames';

/** Transport-level actions. */
@ImGateway()
export class RealtimeGateway {
  /** Browsers cannot send ping frames: `ping` is answered with `pong`. */
  @SubscribeMessage('ping')
  ping(@MessageBody() _request: unknown): ReplyBody {
    return {};
  }
}
