import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { RequestSocket } from '../realtime/request-socket';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { ImSocket } from '../realtime/im-ws-adapter';
import { SearchService } from './search.service';

/** `search` (PROTOCOL §12). */
@ImGateway()
export class SearchGateway {
  constructor(private readonly searchService: SearchService) {}

  @SubscribeMessage('search')
  search(@RequestSocket() socket: ImSocket, @MessageBody() request: Record<string, unknown>): Promise<ReplyBody> {
    return this.searchService.searchRequest(socket.connection!.userId, request);
  }
}
