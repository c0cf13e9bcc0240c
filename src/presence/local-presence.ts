import { Injectable } from '@nestjs/common';
import { ConnectionRegistry } from '../realtime/connection-registry';
import { Presence } from './presence';

/**
 * Presence on a single node: a user is online while the registry holds one of their connections.
 * The registry adds a connection when it opens (before the sync frame) and removes it when its
 * socket closes, including a heartbeat drop (terminate), so presence follows both.
 */
@Injectable()
export class LocalPresence extends Presence {
  constructor(private readonly registry: ConnectionRegistry) {
    super();
  }

  async isOnline(userIds: readonly number[]): Promise<Map<number, boolean>> {
    const online = new Map<number, boolean>();
    for (const userId of userIds) online.set(userId, this.registry.isOnline(userId));
    return online;
  }
}
