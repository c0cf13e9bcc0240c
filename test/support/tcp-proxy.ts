import { AddressInfo, createServer, Server, Socket, connect } from 'net';

/**
 * A TCP proxy in front of PostgreSQL that can cut the line at chosen moments — a real network fault,
 * not a mock: the app's connections go through it, the database behind it is real.
 * - `cutAfterNextRequest(ms)`: the next bytes any client sends still reach the database, but from then
 *   on nothing comes back; `ms` later every connection is cut and new ones are refused (the database
 *   did the work, its reply is lost);
 * - `refuse()` / `pass()`: refuse new connections (and cut the open ones) / let them through again.
 */
export class TcpProxy {
  readonly port: number;
  private readonly pairs = new Set<[Socket, Socket]>();
  private mode: 'pass' | 'refuse' = 'pass';
  private armed?: number;
  /** Replies from the database are dropped (between the armed request and the cut). */
  private swallowing = false;

  private constructor(
    private readonly server: Server,
    private readonly targetPort: number,
  ) {
    this.port = (server.address() as AddressInfo).port;
  }

  static start(targetPort: number): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const proxy = new TcpProxy(server, targetPort);
        server.on('connection', (socket) => proxy.accept(socket));
        resolve(proxy);
      });
    });
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'refuse') return void client.destroy();
    const upstream = connect(this.targetPort, '127.0.0.1');
    upstream.on('error', () => undefined);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    upstream.on('data', (chunk) => {
      if (!this.swallowing) client.write(chunk);
    });
    client.on('data', (chunk) => {
      upstream.write(chunk);
      if (this.armed !== undefined) {
        const delay = this.armed;
        this.armed = undefined;
        this.swallowing = true;
        setTimeout(() => this.refuse(), delay);
      }
    });
  }

  cutAfterNextRequest(delayMs: number): void {
    this.armed = delayMs;
  }

  refuse(): void {
    this.mode = 'refuse';
    for (const [client, upstream] of [...this.pairs]) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  pass(): void {
    this.mode = 'pass';
    this.armed = undefined;
    this.swallowing = false;
  }

  close(): Promise<void> {
    this.refuse();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
