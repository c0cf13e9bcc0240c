import { Injectable } from '@nestjs/common';
import { Connection } from './connection';

/** The open connections of this node, by user. */
@Injectable()
export class ConnectionRegistry {
  private readonly byUser = new Map<number, Set<Connection>>();
  private count = 0;

  add(connection: Connection): void {
    let set = this.byUser.get(connection.userId);
    if (!set) {
      set = new Set();
      this.byUser.set(connection.userId, set);
    }
    if (!set.has(connection)) {
      set.add(connection);
      this.count++;
    }
  }

  /** Returns true when that was the user's last connection on this node. */
  remove(connection: Connection): boolean {
    const set = this.byUser.get(connection.userId);
    if (!set || !set.delete(connection)) return false;
    this.count--;
    if (set.size > 0) return false;
    this.byUser.delete(connection.userId);
    return true;
  }

  connectionsOf(userId: number): ReadonlySet<Connection> {
    return this.byUser.get(userId) ?? EMPTY;
  }

  isOnline(userId: number): boolean {
    return this.byUser.has(userId);
  }

  onlineUserIds(): IterableIterator<number> {
    return this.byUser.keys();
  }

  *all(): IterableIterator<Connection> {
    for (const set of this.byUser.values()) yield* set;
  }

  get size(): number {
    return this.count;
  }
}

const EMPTY: ReadonlySet<Connection> = new Set();
