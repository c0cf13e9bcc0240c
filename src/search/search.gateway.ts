import { SubscribeMessage } from '@nestjs/websockets';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { ImSocket } from '../realtime/im-ws-adapter';
import { SearchService } from './search.service';

/** `search` (PROTOCOL §12). */
@ImGateway()
export class SearchGateway {
  constructor(private readonly searchService: SearchService) {}

  @SubscribeMessage('search')
  search(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.searchService.searchRequest(socket.connection!.userId, request);
  }
}
