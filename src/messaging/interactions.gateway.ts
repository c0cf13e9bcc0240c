import { SubscribeMessage } from '@nestjs/websockets';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { ImSocket } from '../realtime/im-ws-adapter';
import { senderOf } from './messaging.service';
import { ReactionsService } from './reactions.service';
import { TypingService } from './typing.service';

/** react and typing (PROTOCOL §4 Reactions, Typing); requests arrive validated against their schemas. */
@ImGateway()
export class InteractionsGateway {
  constructor(
    private readonly reactions: ReactionsService,
    private readonly typingService: TypingService,
  ) {}

  @SubscribeMessage('react')
  react(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.reactions.react(senderOf(socket), request);
  }

  @SubscribeMessage('typing')
  typing(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.typingService.typing(senderOf(socket), request);
  }
}
