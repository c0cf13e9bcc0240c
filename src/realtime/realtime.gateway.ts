import { SubscribeMessage } from '@nestjs/websockets';
import { ImGateway } from './im-gateway.decorator';
import { ReplyBody } from './frames';
import type { ImSocket } from './im-ws-adapter';

/** Transport-level actions. */
@ImGateway()
export class RealtimeGateway {
  /** Browsers cannot send ping frames: `ping` is answered with `pong`. */
  @SubscribeMessage('ping')
  ping(_socket: ImSocket, _request: unknown): ReplyBody {
    return {};
  }
}
