import { AddressInfo, connect, createServer, Server, Socket } from 'net';

/**
 * A round-robin TCP load balancer in front of several server processes, like nginx in
 * deploy/docker-compose.yml: each new connection goes to the next target in turn and its bytes are
 * relayed both ways, so HTTP requests and WebSocket upgrades (and the frames after them) pass as they
 * are. `sent[i]` counts the connections given to target i.
 */
export class Balancer {
  readonly port: number;
  readonly sent: number[];
  private next = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly targets: number[],
  ) {
    this.port = (server.address() as AddressInfo).port;
    this.sent = targets.map(() => 0);
  }

  static start(targetPorts: number[]): Promise<Balancer> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const balancer = new Balancer(server, targetPorts);
        server.on('connection', (socket) => balancer.accept(socket));
        resolve(balancer);
      });
    });
  }

  private accept(client: Socket): void {
    const index = this.next;
    this.next = (this.next + 1) % this.targets.length;
    this.sent[index]++;
    const upstream = connect(this.targets[index], '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
