import { Logger } from '@nestjs/common';
import { randomBytes } from 'crypto';
import { mkdirSync, rmSync, writeFileSync } from 'fs';
import { AddressInfo, createServer, Server, Socket } from 'net';
import { resolve } from 'path';
import { authenticate, errorResponse, ScramVerifier } from './embedded-auth';

/** In DATA_DIR while a process has the embedded database open (other tools must not open it meanwhile). */
export const EMBEDDED_PID_FILE = 'embedded-database.pid';
/** How long a new socket has to finish the startup and authentication. */
const AUTH_TIMEOUT_MS = 10_000;
/** Sockets still authenticating at once (a local process cannot pile up more). */
const MAX_PENDING = 16;

type SocketHandler = {
  attach(socket: Socket): Promise<unknown>;
  detach(close?: boolean): Promise<unknown>;
  addEventListener(type: string, listener: () => void): void;
};

/**
 * PGlite (PostgreSQL compiled to WASM) with its data in a directory, served on 127.0.0.1 so the app
 * talks to it with the same `pg` driver, SQL and migrations as in production.
 *
 * The database holds the token signing key, and PGlite's backend trusts every client, so the listener
 * does not hand sockets to it directly: each one first has to pass SCRAM-SHA-256 with a password drawn
 * at random on every start and kept only in memory (embedded-auth.ts). The password travels in the URL
 * that start() returns (the app's pool, and another node given that URL). Past the authentication a
 * socket is served by pglite-socket's handler, all of them through one query queue that keeps each
 * transaction's statements together (docs/operations.md "Embedded database access").
 */
export class EmbeddedDatabase {
  private readonly logger = new Logger('EmbeddedDatabase');
  private readonly password = randomBytes(32).toString('base64url');
  private db?: { close(): Promise<void> };
  private server?: Server;
  private readonly pending = new Set<Socket>();
  private readonly handlers = new Set<SocketHandler>();
  private stopping = false;

  constructor(
    private readonly dataDir: string,
    private readonly maxConnections: number,
  ) {}

  /** Starts the database and returns its connection URL, password included. */
  async start(): Promise<string> {
    const dir = resolve(this.dataDir, 'pg');
    mkdirSync(dir, { recursive: true });
    writeFileSync(resolve(this.dataDir, EMBEDDED_PID_FILE), `${process.pid}\n`);
    const { PGlite } = await import('@electric-sql/pglite');
    const socketLib = await import('@electric-sql/pglite-socket');
    const db = await PGlite.create({ dataDir: dir });
    this.db = db;
    const queryQueue = sharedQueryQueue(new socketLib.PGLiteSocketServer({ db, port: 0 }));
    const verifier = new ScramVerifier(this.password);
    const newHandler = () => new socketLib.PGLiteSocketHandler({ queryQueue, closeOnDetach: true }) as unknown as SocketHandler;

    const server = createServer((socket) => void this.accept(socket, verifier, newHandler));
    this.server = server;
    try {
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(0, '127.0.0.1', () => {
          server.off('error', fail);
          done();
        });
      });
    } catch (error) {
      await db.close();
      throw error;
    }
    server.on('error', (error) => this.logger.error(`embedded database listener: ${error.message}`));
    const { port } = server.address() as AddressInfo;
    this.logger.log(`embedded database in ${dir} (127.0.0.1:${port}, password required)`);
    return `postgresql://postgres:${this.password}@127.0.0.1:${port}/postgres`;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const server = this.server;
    this.server = undefined;
    for (const socket of this.pending) socket.destroy();
    this.pending.clear();
    const closed = server ? new Promise<void>((done) => server.close(() => done())) : Promise.resolve();
    // detaching rolls back a transaction a handler left open, so the database must still be open
    await Promise.all([...this.handlers].map((handler) => handler.detach(true).catch(() => undefined)));
    this.handlers.clear();
    await closed;
    await this.db?.close();
    this.db = undefined;
    rmSync(resolve(this.dataDir, EMBEDDED_PID_FILE), { force: true });
  }

  private async accept(socket: Socket, verifier: ScramVerifier, newHandler: () => SocketHandler): Promise<void> {
    socket.on('error', () => undefined); // a reset peer; the close that follows cleans up
    if (this.stopping || this.pending.size >= MAX_PENDING) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.pending.add(socket);
    let replay: Buffer;
    try {
      replay = await authenticate(socket, verifier, AUTH_TIMEOUT_MS);
    } catch (error) {
      this.logger.warn(`refused a connection to the embedded database: ${(error as Error).message}`);
      if (!socket.destroyed) socket.destroySoon();
      return;
    } finally {
      this.pending.delete(socket);
    }
    if (this.stopping || socket.destroyed) {
      socket.destroy();
      return;
    }
    if (this.handlers.size >= this.maxConnections) {
      socket.end(errorResponse('53300', 'sorry, too many clients already'));
      return;
    }
    const handler = newHandler();
    this.handlers.add(handler);
    const forget = () => this.handlers.delete(handler);
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    // the startup message goes to the database as if the client had just sent it (the socket is
    // paused until the handler listens): it answers AuthenticationOk, the session parameters and ReadyForQuery
    socket.unshift(replay);
    await handler.attach(socket);
    socket.resume();
  }
}

/**
 * pglite-socket's query queue for this database. The package exports its socket handler but not the
 * queue class; a PGLiteSocketServer (never started, so it listens nowhere) makes one in its
 * constructor. Checked here so that a package upgrade changing this fails at start, loudly.
 */
function sharedQueryQueue(server: object): any {
  const queue = (server as { queryQueue?: { enqueue?: unknown } }).queryQueue;
  if (!queue || typeof queue.enqueue !== 'function') {
    throw new Error('@electric-sql/pglite-socket: PGLiteSocketServer has no queryQueue any more; update EmbeddedDatabase');
  }
  return queue;
}
