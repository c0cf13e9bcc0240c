import { applyDecorators, UseFilters } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import { WsErrorFilter } from './ws-error.filter';

/**
 * A WebSocket gateway on the shared endpoint: its @SubscribeMessage handlers receive the whole
 * request object, already validated by the adapter against the action's JSON Schema (src/contract);
 * errors become reply frames. No DTO pipe: the schemas are the one validation mechanism.
 * The socket of a request is `@RequestSocket()`; connection hooks (handleConnection/handleDisconnect)
 * are not called — connection life is ConnectionLifecycle's (see ImWsAdapter.bindClientConnect).
 */
export function ImGateway(): ClassDecorator {
  return applyDecorators(WebSocketGateway(), UseFilters(new WsErrorFilter()));
}
