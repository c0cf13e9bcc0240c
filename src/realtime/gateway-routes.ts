import { INestApplicationContext } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { GATEWAY_METADATA, MESSAGE_MAPPING_METADATA, MESSAGE_METADATA } from '@nestjs/websockets/constants';
import type { ImSocket } from './im-ws-adapter';

/** A gateway handler as the adapter calls it: the socket the request came on, and the request. */
export type Route = (socket: ImSocket, request: Record<string, unknown>) => unknown;

/**
 * The server's route table, action → handler, read from the gateways' @SubscribeMessage methods.
 * The adapter calls a handler itself, as `handler(socket, request)`: every request is already checked
 * against its action's JSON Schema (src/contract) and its errors become reply frames in the adapter,
 * so Nest's per-request pipeline (execution context, pipes, filters: a fifth of the garbage of a sent
 * message) had nothing left to do.
 */
export function gatewayRoutes(app: INestApplicationContext): Map<string, Route> {
  const routes = new Map<string, Route>();
  const scanner = new MetadataScanner();
  for (const wrapper of app.get(DiscoveryService).getProviders()) {
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    if (!instance || !wrapper.metatype || !Reflect.getMetadata(GATEWAY_METADATA, wrapper.metatype)) continue;
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const method = prototype[name] as Route;
      if (!Reflect.getMetadata(MESSAGE_MAPPING_METADATA, method)) continue;
      const action = String(Reflect.getMetadata(MESSAGE_METADATA, method));
      if (routes.has(action)) throw new Error(`two gateways handle the action ${action}`);
      routes.set(action, method.bind(instance) as Route);
    }
  }
  return routes;
}
