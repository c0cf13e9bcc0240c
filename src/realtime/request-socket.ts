import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { ImSocket } from './im-ws-adapter';

/**
 * The socket a request came on, attached by the adapter to the parsed request object under a symbol
 * (never serialized, never seen by the schemas). Handlers are bound once per server, not per socket
 * (see ImWsAdapter.bindMessageHandlers), so Nest's @RequestSocket() would not name the right one.
 */
export const REQUEST_SOCKET = Symbol('request socket');

export function socketOfRequest(request: unknown): ImSocket | undefined {
  return request && typeof request === 'object' ? (request as { [REQUEST_SOCKET]?: ImSocket })[REQUEST_SOCKET] : undefined;
}

/** Parameter decorator for gateway handlers: the socket the request came on. */
export const RequestSocket = createParamDecorator((_: unknown, context: ExecutionContext) => socketOfRequest(context.switchToWs().getData()));
