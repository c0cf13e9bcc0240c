import { WebSocketGateway } from '@nestjs/websockets';

/**
 * A WebSocket gateway on the shared endpoint. Its @SubscribeMessage methods are the server's route
 * table (gateway-routes.ts): the adapter calls each as `handler(socket, request)` with the socket the
 * request came on and the whole request object, already validated against the action's JSON Schema
 * (src/contract) — no parameter decorators, no DTO pipe, the schemas are the one validation mechanism.
 * A handler returns the reply body (or throws: ImError → its code, anything else → code 0); errors
 * become reply frames in the adapter. Connection hooks (handleConnection/handleDisconnect) are not
 * called: connection life is ConnectionLifecycle's (see ImWsAdapter.bindClientConnect).
 */
export function ImGateway(): ClassDecorator {
  return WebSocketGateway();
}
