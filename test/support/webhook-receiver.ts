import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { createHmac } from 'crypto';

export interface ReceivedCall {
  event: string;
  eventId: string;
  timestamp: string;
  signature: string;
  /** The body exactly as received. */
  raw: string;
  body: any;
  /** Whether X-IM-Signature matched HMAC("{timestamp}.{body}") with the secret. */
  signed: boolean;
  at: number;
}

/** What the receiver answers: a status (and body), or nothing at all (hang). */
export type Answer = { status: number; body?: unknown } | 'hang';

/**
 * A real HTTP webhook receiver on 127.0.0.1, as an app's back end would run it: it checks every
 * signature, records every call, and answers what `answer` decides (2xx by default).
 */
export class WebhookReceiver {
  readonly calls: ReceivedCall[] = [];
  answer: (call: ReceivedCall) => Answer | Promise<Answer> = () => ({ status: 200 });
  private readonly hanging = new Set<ServerResponse>();
  private waiters: Array<() => void> = [];

  private constructor(
    private server: Server,
    readonly port: number,
    private readonly secret: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  static async start(secret: string, port = 0): Promise<WebhookReceiver> {
    let receiver!: WebhookReceiver;
    const server = createServer((req, res) => void receiver.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    receiver = new WebhookReceiver(server, (server.address() as AddressInfo).port, secret);
    return receiver;
  }

  /** The calls of `event` (all when omitted). */
  of(event?: string): ReceivedCall[] {
    return this.calls.filter((call) => event === undefined || call.event === event);
  }

  /** Waits until `done(calls)` holds (checked on every call), or fails after `timeoutMs`. */
  async until(done: (calls: ReceivedCall[]) => boolean, timeoutMs = 15_000, what = 'webhook calls'): Promise<ReceivedCall[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.calls)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.calls.length}: ${this.calls.map((call) => call.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.calls;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const header = (name: string) => String(req.headers[name] ?? '');
    const call: ReceivedCall = {
      event: header('x-im-event'),
      eventId: header('x-im-event-id'),
      timestamp: header('x-im-timestamp'),
      signature: header('x-im-signature'),
      raw,
      body: JSON.parse(raw),
      // checked here as the app's back end would, independently of the server's signer
      signed: header('x-im-signature') === `sha256=${createHmac('sha256', this.secret).update(`${header('x-im-timestamp')}.${raw}`).digest('hex')}`,
      at: Date.now(),
    };
    this.calls.push(call);
    const answer = await this.answer(call);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    if (answer === 'hang') {
      this.hanging.add(res);
      return;
    }
    res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(answer.body === undefined ? '{}' : JSON.stringify(answer.body));
  }
}
