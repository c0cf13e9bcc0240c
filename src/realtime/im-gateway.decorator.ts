import { applyDecorators, UseFilters } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import { WsErrorFilter } from './ws-error.filter';

/**
 * A WebSocket gateway on the shared endpoint: its @SubscribeMessage handlers receive the whole
 * request object, already validated by the adapter against the action's JSON Schema (src/contract);
 * errors become reply frames. No DTO pipe: the schemas are the one validation mechanism.
 */
export function ImGateway(): ClassDecorator {
  return applyDecorators(WebSocketGateway(), UseFilters(new WsErrorFilter()));
}
