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

/** One push on its way to this process's connections: its bytes (made on first use) and its counts. */
interface PushOut {
  frame: string;
  bytes: Buffer | undefined;
  written: number;
  dropped: number;
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
    const out: PushOut = { frame, bytes: undefined, written: 0, dropped: 0 };
    for (const userId of userIds) this.pushToUser(userId, out, options);
    if (out.written > 0) this.metrics.pushWritten.inc(out.written);
    if (out.dropped > 0) this.metrics.pushDropped.inc(out.dropped);
  }

  private pushToUser(userId: number, out: PushOut, options: PushOptions): void {
    const receipt = options.receipt;
    let reported = false;
    for (const connection of this.registry.connectionsOf(userId)) {
      if (connection.id === options.exceptConnectionId) continue;
      // UTF-8 once for every socket of the push (ws would encode a string per socket), and only when
      // one is here: with Redis every node gets every push, most for users it does not hold
      out.bytes ??= Buffer.from(out.frame);
      const sent = connection.send(
        out.bytes,
        receipt &&
          ((error) => {
            if (error || reported) return;
            reported = true;
            this.receipts.written(userId, receipt);
          }),
      );
      if (sent) out.written++;
      else out.dropped++;
    }
  }

  closeUser(userId: number, frame: string, closeCode: number, reason: string): void {
    for (const connection of [...this.registry.connectionsOf(userId)]) {
      connection.send(frame, () => connection.close(closeCode, reason));
    }
  }
}
