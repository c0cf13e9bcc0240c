import { randomBytes } from 'crypto';
import { WebSocket } from 'ws';
import { TokenBucket } from './token-bucket';

/** Who a socket belongs to, settled during the upgrade. */
export interface AuthenticatedUser {
  userId: number;
  appUserId: string;
  /** When the token expires, ms since the epoch. */
  tokenExpiresAt: number;
}

type WriteCallback = (error?: Error) => void;
/** A frame as JSON text, or as its UTF-8 bytes (a push encoded once for many sockets). */
export type FrameText = string | Buffer;
/** Bytes go out as a text frame too (ws would send a Buffer as binary). */
const AS_TEXT = { binary: false } as const;

/** Close codes of PROTOCOL §2. */
export const CLOSE_SLOW_CONSUMER = 1013;
export const CLOSE_SERVICE_RESTART = 1012;
export const CLOSE_REPLACED = 4409;
/** How long a dropped slow reader gets to read the close frame before its socket is destroyed. */
const SLOW_CONSUMER_GRACE_MS = 1000;

/** This process's id among the nodes of a cluster (connection ids are unique across nodes). */
export const NODE_ID = randomBytes(6).toString('hex');

let nextConnectionId = 1;

/** TCP sockets corked during this tick; uncorked together by one setImmediate. */
let corked: Array<{ uncork(): void }> = [];
function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  for (const socket of sockets) socket.uncork();
}

/**
 * Coalesces the frames written to one socket in one tick (a sendResult and a push, a batch's
 * replies…) into one write system call: the TCP socket under the WebSocket is corked on its first
 * frame of the tick and uncorked after the tick's callbacks and promise jobs have run. ws still
 * frames each message and calls each write callback, and `bufferedAmount` counts corked bytes.
 */
function corkUntilNextTick(socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: { cork(): void; uncork(): void; writableCorked: number } })._socket;
  if (!raw || raw.writableCorked > 0) return;
  raw.cork();
  if (corked.push(raw) === 1) setImmediate(uncorkAll);
}
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One open WebSocket of one user. Everything written to the socket goes through `send`, which holds
 * frames back until the connect sequence (sync frame, missed system messages) has been written, so
 * nothing overtakes it.
 */
export class Connection {
  /** Counts of this process, read by /metrics. */
  static readonly stats = { slowConsumerDrops: 0 };
  readonly id = `${NODE_ID}-${nextConnectionId++}`;
  /** When the client last answered a ping (only pongs count as alive, PROTOCOL §2). */
  lastSeen = Date.now();
  readonly openedAt = Date.now();
  private ready = false;
  private held: Array<[FrameText, WriteCallback | undefined]> = [];
  private readonly requests: TokenBucket;
  private expiryTimer?: NodeJS.Timeout;

  constructor(
    readonly socket: WebSocket,
    readonly user: AuthenticatedUser,
    ratePerSec: number,
    burst: number,
    /** Unsent bytes beyond which the connection is dropped (slow reader). */
    private readonly maxBufferedBytes = Number.POSITIVE_INFINITY,
  ) {
    this.requests = new TokenBucket(ratePerSec, burst);
  }

  get userId(): number {
    return this.user.userId;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Writes a frame, or holds it until the connect sequence is done; false when it was dropped (closed or slow connection). */
  send(frame: FrameText, onWritten?: WriteCallback): boolean {
    if (!this.ready) {
      this.held.push([frame, onWritten]);
      return true;
    }
    return this.write(frame, onWritten);
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

  takeRequestToken(now = Date.now()): boolean {
    return this.requests.take(now);
  }

  tokenExpired(now = Date.now()): boolean {
    return now >= this.user.tokenExpiresAt;
  }

  /** Calls `onExpired` when the token expires (PROTOCOL §3: the server closes it then, idle or not). */
  watchExpiry(onExpired: () => void): void {
    clearTimeout(this.expiryTimer);
    const delay = this.user.tokenExpiresAt - Date.now();
    // setTimeout holds at most ~24.8 days: a longer-lived token is checked again then
    const step = Math.min(Math.max(delay, 0), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => (this.tokenExpired() ? onExpired() : this.watchExpiry(onExpired)), step);
    this.expiryTimer.unref();
  }

  stopWatchingExpiry(): void {
    clearTimeout(this.expiryTimer);
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, reason);
    }
  }

  private write(frame: FrameText, onWritten?: WriteCallback): boolean {
    if (!this.isOpen) {
      onWritten?.(new Error('connection closed'));
      return false;
    }
    if (this.socket.bufferedAmount + frame.length > this.maxBufferedBytes) {
      onWritten?.(new Error('slow consumer dropped'));
      this.dropSlowConsumer();
      return false;
    }
    corkUntilNextTick(this.socket);
    this.socket.send(frame, AS_TEXT, onWritten);
    return true;
  }

  /** A reader that lets MAX_BUFFERED_BYTES pile up is dropped; it catches up by sync + history. */
  private dropSlowConsumer(): void {
    if (this.socket.readyState === WebSocket.OPEN) Connection.stats.slowConsumerDrops++;
    this.socket.close(CLOSE_SLOW_CONSUMER, 'too many unsent frames');
    // the close frame waits behind the unsent bytes: a reader that does not read never sees it
    setTimeout(() => this.socket.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
  }
}
