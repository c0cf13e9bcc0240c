import { WebSocket } from 'ws';

export interface Frame {
  code: number;
  msg: string;
  action: string;
  data?: string;
  nonce?: string;
  time: number;
  user_id?: number;
  msg_id?: number;
  group_id?: string;
  result?: string;
  [key: string]: unknown;
}

export interface OpenOptions {
  /** Token in the Authorization header instead of the query. */
  header?: boolean;
  path?: string;
  /** The Origin header to send. */
  origin?: string;
  /** false: never answer the server's pings (a client the heartbeat should drop). */
  autoPong?: boolean;
}

let counter = 0;
export function newNonce(): string {
  return `${Date.now()}${(counter++).toString(36).padStart(6, 'x')}`;
}

/** Parses a frame's JSON-encoded `data`. */
export function dataOf<T = any>(frame: Frame): T {
  if (typeof frame.data !== 'string') throw new Error(`frame has no data: ${JSON.stringify(frame)}`);
  return JSON.parse(frame.data) as T;
}

type Waiter = { match: (frame: Frame) => boolean; resolve: (frame: Frame) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

/** A real `ws` client that records every frame it receives and can wait for replies and pushes. */
export class WsClient {
  readonly frames: Frame[] = [];
  private consumed = new Set<Frame>();
  private waiters: Waiter[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Binary WebSocket messages received: PROTOCOL frames are text, so they are counted and never handed to a test. */
  binaryMessages = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw, isBinary) => {
      if (isBinary) {
        this.binaryMessages++;
        return;
      }
      const frame = JSON.parse(raw.toString()) as Frame;
      this.frames.push(frame);
      for (const waiter of [...this.waiters]) {
        if (waiter.match(frame)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          clearTimeout(waiter.timer);
          this.consumed.add(frame);
          waiter.resolve(frame);
          return;
        }
      }
    });
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(port: number, token?: string, options: OpenOptions = {}): Promise<WsClient> {
    const path = options.path ?? '/';
    const url = token && !options.header ? `ws://127.0.0.1:${port}${path}?token=${encodeURIComponent(token)}` : `ws://127.0.0.1:${port}${path}`;
    const headers: Record<string, string> = token && options.header ? { authorization: `Bearer ${token}` } : {};
    const socket = new WebSocket(url, { headers, origin: options.origin, autoPong: options.autoPong ?? true });
    const client = new WsClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      socket.once('error', reject);
    });
  }

  /** Opening should fail: resolves to the HTTP status of the refused upgrade. */
  static async refusedStatus(port: number, token?: string, options: OpenOptions = {}): Promise<number> {
    try {
      const client = await WsClient.open(port, token, options);
      client.close();
      return 101;
    } catch (error) {
      return (error as { status?: number }).status ?? -1;
    }
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  send(frame: Record<string, unknown>): string {
    const nonce = (frame.nonce as string) ?? newNonce();
    this.socket.send(JSON.stringify({ ...frame, nonce }));
    return nonce;
  }

  /** Sends a request and resolves with its reply (the frame carrying the same nonce). */
  async request(action: string, fields: Record<string, unknown> = {}, timeoutMs = 5000): Promise<Frame> {
    const nonce = (fields.nonce as string) ?? newNonce();
    const reply = this.waitFor((frame) => frame.nonce === nonce && !isPushAction(frame.action), timeoutMs, `reply to ${action}`);
    this.send({ action, ...fields, nonce });
    return reply;
  }

  /**
   * Resolves when every one of these nonces has its reply, with the replies in the order of `nonces`.
   * Replies to one connection are not in request order (PROTOCOL §3 promises one reply per request,
   * not an order: a 429 is written at once, an accepted request after its work), so a test that counts
   * replies waits for each of them, never for the last nonce alone.
   */
  replies(nonces: string[], timeoutMs = 5000): Promise<Frame[]> {
    return Promise.all(nonces.map((nonce) => this.waitFor((frame) => frame.nonce === nonce && !isPushAction(frame.action), timeoutMs, `reply to ${nonce}`)));
  }

  /** Resolves with the first not-yet-consumed frame (already received or coming) that matches. */
  waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000, what = 'frame'): Promise<Frame> {
    const existing = this.frames.find((frame) => !this.consumed.has(frame) && match(frame));
    if (existing) {
      this.consumed.add(existing);
      return Promise.resolve(existing);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push({ match, resolve, reject, timer });
    });
  }

  /** The next push with this action (and optional extra condition). */
  push(action: string, match: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    return this.waitFor((frame) => frame.action === action && match(frame), timeoutMs, `push ${action}`);
  }

  /** Resolves with the type-19 sync frame pushed on connect. */
  waitSync(timeoutMs = 5000): Promise<Frame> {
    return this.waitFor((frame) => frame.action === 'systemMessage' && frame.msg_id === 0 && dataOf(frame).type === 19, timeoutMs, 'sync frame');
  }

  /** Frames received so far that match, consumed or not. */
  received(match: (frame: Frame) => boolean): Frame[] {
    return this.frames.filter(match);
  }

  /** Waits `ms` and returns the frames with this action received meanwhile (to prove nothing came). */
  async quietFor(ms: number, action?: string): Promise<Frame[]> {
    const start = this.frames.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.frames.slice(start).filter((frame) => action === undefined || frame.action === action);
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close();
  }
}

function isPushAction(action: string): boolean {
  return action === 'chat' || action === 'groupChat' || action === 'ack' || action === 'systemMessage';
}
