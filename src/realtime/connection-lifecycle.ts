import { Injectable, Logger } from '@nestjs/common';
import { Connection } from './connection';
import { ConnectionRegistry } from './connection-registry';

/** A step of the connect sequence; it writes with `connection.sendNow`. */
export type ConnectStep = (connection: Connection) => Promise<void>;
export type DisconnectListener = (connection: Connection, wasLastOnNode: boolean) => void;

/**
 * Opening and closing of connections. On open: register the connection (pushes to it are held),
 * run the connect steps in their order (sync frame first, then missed system messages), then
 * release what was held. Features add steps and listeners at module init.
 */
@Injectable()
export class ConnectionLifecycle {
  private readonly logger = new Logger('ConnectionLifecycle');
  private readonly steps: Array<{ order: number; name: string; run: ConnectStep }> = [];
  private readonly openListeners: Array<(connection: Connection) => void> = [];
  private readonly closeListeners: DisconnectListener[] = [];

  constructor(private readonly registry: ConnectionRegistry) {}

  /** Lower `order` runs first. */
  addConnectStep(order: number, name: string, run: ConnectStep): void {
    this.steps.push({ order, name, run });
    this.steps.sort((a, b) => a.order - b.order);
  }

  onOpen(listener: (connection: Connection) => void): void {
    this.openListeners.push(listener);
  }

  onClose(listener: DisconnectListener): void {
    this.closeListeners.push(listener);
  }

  async open(connection: Connection): Promise<void> {
    this.registry.add(connection);
    for (const listener of this.openListeners) listener(connection);
    for (const step of this.steps) {
      if (!connection.isOpen) break;
      try {
        await step.run(connection);
      } catch (error) {
        this.logger.error(`connect step ${step.name} failed for user ${connection.userId}: ${(error as Error).message}`);
      }
    }
    connection.markReady();
  }

  close(connection: Connection): void {
    const wasLast = this.registry.remove(connection);
    for (const listener of this.closeListeners) listener(connection, wasLast);
  }
}
