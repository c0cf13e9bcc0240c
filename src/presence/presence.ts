/**
 * The presence port: who has at least one open connection, on any node. Bound to LocalPresence
 * (this process's ConnectionRegistry) on one node; a Redis implementation (entries each node refreshes
 * every PRESENCE_REFRESH_MS, lapsing after PRESENCE_TTL_MS) replaces it when several nodes serve the same users.
 */
export abstract class Presence {
  /** For each requested user id: true while the user has at least one open connection. */
  abstract isOnline(userIds: readonly number[]): Promise<Map<number, boolean>>;
}
