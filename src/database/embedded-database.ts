import { Logger } from '@nestjs/common';
import { mkdirSync } from 'fs';
import { resolve } from 'path';

/**
 * PGlite (PostgreSQL compiled to WASM) with its data in a directory, served on 127.0.0.1 through
 * pglite-socket so the app talks to it with the same `pg` driver, SQL and migrations as in production.
 */
export class EmbeddedDatabase {
  private readonly logger = new Logger('EmbeddedDatabase');
  private db?: { close(): Promise<void> };
  private server?: { stop(): Promise<void>; getServerConn(): string };

  constructor(
    private readonly dataDir: string,
    private readonly maxConnections: number,
  ) {}

  /** Starts the database and returns a connection URL for it. */
  async start(): Promise<string> {
    const dir = resolve(this.dataDir, 'pg');
    mkdirSync(dir, { recursive: true });
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    const db = await PGlite.create({ dataDir: dir });
    const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: this.maxConnections });
    await server.start();
    this.db = db;
    this.server = server;
    this.logger.log(`embedded database in ${dir}`);
    return `postgresql://postgres@${server.getServerConn()}/postgres`;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    await this.db?.close();
    this.server = undefined;
    this.db = undefined;
  }
}
