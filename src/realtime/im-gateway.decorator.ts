import { applyDecorators, UseFilters, UsePipes } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import { imValidationPipe } from '../common/validation';
import { WsErrorFilter } from './ws-error.filter';

/**
 * A WebSocket gateway on the shared endpoint: its @SubscribeMessage handlers receive the whole
 * request object, validated against the handler's DTO; errors become reply frames.
 */
export function ImGateway(): ClassDecorator {
  return applyDecorators(WebSocketGateway(), UseFilters(new WsErrorFilter()), UsePipes(imValidationPipe()));
}
