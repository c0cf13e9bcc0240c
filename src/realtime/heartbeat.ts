import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ConnectionRegistry } from './connection-registry';

/** Pings every connection each HEARTBEAT_INTERVAL_MS; drops one silent for HEARTBEAT_TIMEOUT_MS. */
@Injectable()
export class Heartbeat implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.beat(), this.config.HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  beat(now = Date.now()): void {
    for (const connection of [...this.registry.all()]) {
      if (now - connection.lastSeen > this.config.HEARTBEAT_TIMEOUT_MS) {
        connection.socket.terminate();
      } else if (connection.isOpen) {
        connection.socket.ping();
      }
    }
  }
}
