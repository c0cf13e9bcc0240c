import { MetricsService } from '../metrics/metrics.service';
import { Injectable, Logger } from '@nestjs/common';
import { ConnectionRegistry } from './connection-registry';

/**
 * Something the pusher wants to know once a frame was written to at least one connection of a
 * user (e.g. a system message then counts as received). Plain data, so it can cross nodes.
 */
export interface DeliveryReceipt {
  kind: string;
  msgId: number;
}

export interface PushOptions {
  /** Skip this connection (the sender's own socket gets a reply, not the push). */
  exceptConnectionId?: string;
  receipt?: DeliveryReceipt;
}

type ReceiptHandler = (userId: number, receipt: DeliveryReceipt) => void;

/** Where receipts of written frames are handled, by kind; filled by the features that push them. */
@Injectable()
export class DeliveryReceipts {
  private readonly logger = new Logger('DeliveryReceipts');
  private readonly handlers = new Map<string, ReceiptHandler>();

  on(kind: string, handler: ReceiptHandler): void {
    this.handlers.set(kind, handler);
  }

  written(userId: number, receipt: DeliveryReceipt): void {
    const handler = this.handlers.get(receipt.kind);
    if (!handler) return this.logger.warn(`no handler for receipt kind ${receipt.kind}`);
    handler(userId, receipt);
  }
}

/**
 * The port every push goes through: frames to users, wherever their connections are.
 * Bound to LocalDelivery on one node; a Redis implementation fans out across nodes.
 */
export abstract class Delivery {
  /** Writes one encoded frame to every open connection of each user. */
  abstract push(userIds: Iterable<number>, frame: string, options?: PushOptions): void;

  /** Writes `frame` to every connection of the user, then closes each with `closeCode`. */
  abstract closeUser(userId: number, frame: string, closeCode: number, reason: string): void;
}

/** Delivery to the connections of this process. */
@Injectable()
export class LocalDelivery extends Delivery {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly receipts: DeliveryReceipts,
    private readonly metrics: MetricsService,
  ) {
    super();
  }

  push(userIds: Iterable<number>, frame: string, options: PushOptions = {}): void {
    // encoded to UTF-8 once for every socket it goes to (ws would encode a string per socket)
    const bytes = Buffer.from(frame);
    let written = 0;
    let dropped = 0;
    for (const userId of userIds) {
      const [w, d] = this.pushToUser(userId, bytes, options);
      written += w;
      dropped += d;
    }
    if (written > 0) this.metrics.pushWritten.inc(written);
    if (dropped > 0) this.metrics.pushDropped.inc(dropped);
  }

  /** Writes the frame to the user's connections; returns how many were written and dropped. */
  private pushToUser(userId: number, frame: Buffer, options: PushOptions): [number, number] {
    const receipt = options.receipt;
    let reported = false;
    let written = 0;
    let dropped = 0;
    for (const connection of this.registry.connectionsOf(userId)) {
      if (connection.id === options.exceptConnectionId) continue;
      const sent = connection.send(
        frame,
        receipt &&
          ((error) => {
            if (error || reported) return;
            reported = true;
            this.receipts.written(userId, receipt);
          }),
      );
      if (sent) written++;
      else dropped++;
    }
    return [written, dropped];
  }

  closeUser(userId: number, frame: string, closeCode: number, reason: string): void {
    for (const connection of [...this.registry.connectionsOf(userId)]) {
      connection.send(frame, () => connection.close(closeCode, reason));
    }
  }
}
