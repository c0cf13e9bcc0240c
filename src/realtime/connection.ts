import { randomBytes } from 'crypto';
import { WebSocket } from 'ws';

/** Who a socket belongs to, settled during the upgrade. */
export interface AuthenticatedUser {
  userId: number;
  appUserId: string;
  /** When the token expires, ms since the epoch. */
  tokenExpiresAt: number;
}

type WriteCallback = (error?: Error) => void;

/** This process's id among the nodes of a cluster (connection ids are unique across nodes). */
export const NODE_ID = randomBytes(6).toString('hex');

let nextConnectionId = 1;

/**
 * One open WebSocket of one user. Everything written to the socket goes through `send`, which holds
 * frames back until the connect sequence (sync frame, missed system messages) has been written, so
 * nothing overtakes it.
 */
export class Connection {
  readonly id = `${NODE_ID}-${nextConnectionId++}`;
  lastSeen = Date.now();
  private ready = false;
  private held: Array<[string, WriteCallback | undefined]> = [];
  private tokens: number;
  private lastRefill = Date.now();

  constructor(
    readonly socket: WebSocket,
    readonly user: AuthenticatedUser,
    private readonly ratePerSec: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  get userId(): number {
    return this.user.userId;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Writes a frame, or holds it until the connect sequence is done. */
  send(frame: string, onWritten?: WriteCallback): void {
    if (!this.ready) {
      this.held.push([frame, onWritten]);
      return;
    }
    this.write(frame, onWritten);
  }

  /** Writes at once, ahead of held frames: only for the connect sequence. */
  sendNow(frame: string): Promise<void> {
    return new Promise((resolve, reject) => this.write(frame, (error) => (error ? reject(error) : resolve())));
  }

  /** The connect sequence is written: release what was held, in order. */
  markReady(): void {
    this.ready = true;
    const held = this.held;
    this.held = [];
    for (const [frame, onWritten] of held) this.write(frame, onWritten);
  }

  /** Token bucket: `ratePerSec` sustained, `burst` at once; a rate of 0 turns the limit off. */
  takeRequestToken(now = Date.now()): boolean {
    if (this.ratePerSec <= 0) return true;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) * this.ratePerSec) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  tokenExpired(now = Date.now()): boolean {
    return now >= this.user.tokenExpiresAt;
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, reason);
    }
  }

  private write(frame: string, onWritten?: WriteCallback): void {
    if (!this.isOpen) {
      onWritten?.(new Error('connection closed'));
      return;
    }
    this.socket.send(frame, onWritten);
  }
}
