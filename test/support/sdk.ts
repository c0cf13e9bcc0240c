import { createServer, Server, Socket, connect as tcpConnect } from 'net';
import { AddressInfo } from 'net';
import { WebSocket } from 'ws';
import { ChatMessage, ConnectionState, ImClient, ImClientOptions, SystemMessage, SyncData, AckEvent } from '../../packages/client/src';
import { TestServer } from './server';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds (a wait with a generous ceiling, never a timing assertion). */
export async function until(check: () => boolean | Promise<boolean>, what = 'condition', timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** An SDK client plus everything it emitted, in order. */
export interface Recorded {
  client: ImClient;
  messages: ChatMessage[];
  system: SystemMessage[];
  acks: AckEvent[];
  syncs: SyncData[];
  states: ConnectionState[];
}

export function record(client: ImClient): Recorded {
  const recorded: Recorded = { client, messages: [], system: [], acks: [], syncs: [], states: [] };
  client.on('message', (m) => recorded.messages.push(m));
  client.on('systemMessage', (m) => recorded.system.push(m));
  client.on('ack', (a) => recorded.acks.push(a));
  client.on('sync', (s) => recorded.syncs.push(s));
  client.on('state', (s) => recorded.states.push(s));
  return recorded;
}

/** A connected SDK client for `appUserId` (created when missing) on the test server (or `port`). */
export async function sdkClient(
  t: TestServer,
  appUserId: string,
  options: Partial<ImClientOptions> & { port?: number; connect?: boolean } = {},
): Promise<Recorded> {
  const { port, connect, ...rest } = options;
  const needsToken = rest.token === undefined && rest.getToken === undefined;
  const token = needsToken ? (await t.admin.ensureUserToken(appUserId)).token : undefined;
  const client = new ImClient({
    url: `ws://127.0.0.1:${port ?? t.port}/`,
    WebSocket: WebSocket,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    ...(needsToken ? { token } : {}),
    ...rest,
  });
  const recorded = record(client);
  if (connect ?? true) await client.connect();
  return recorded;
}

/** The seqs of the messages recorded for one conversation, in the order they were emitted. */
export function seqsOf(messages: ChatMessage[], filter: (m: ChatMessage) => boolean = () => true): number[] {
  return messages.filter(filter).map((m) => m.seq);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A free TCP port (for a server that must come back on the same port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A TCP proxy in front of the server that a test can cut (every connection dropped, as a network
 * failure would) or turn into a black hole for server→client bytes (replies lost on the way).
 */
export class CuttableProxy {
  private server: Server;
  private sockets = new Set<Socket>();
  port = 0;
  blackhole = false;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      const upstream = tcpConnect(this.targetPort, '127.0.0.1');
      this.sockets.add(client);
      this.sockets.add(upstream);
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => {
        if (!this.blackhole) client.write(chunk);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Drops every proxied connection at once. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
