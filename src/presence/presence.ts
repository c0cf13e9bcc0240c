/**
 * The presence port: who has at least one open connection, on any node. Bound to LocalPresence
 * (this process's ConnectionRegistry) on one node; a Redis implementation (keys refreshed by the
 * heartbeat, with a TTL) replaces it when several nodes serve the same users.
 */
export abstract class Presence {
  /** For each requested user id: true while the user has at least one open connection. */
  abstract isOnline(userIds: readonly number[]): Promise<Map<number, boolean>>;
}
