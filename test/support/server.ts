import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { loadConfig } from '../../src/config/app-config';
import { Db } from '../../src/database/db';
import { TypingThrottle } from '../../src/messaging/typing-throttle';
import { RunningServer, startServer } from '../../src/server';
import { AdminClient } from './admin';
import { WsClient } from './ws-client';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestServer {
  server: RunningServer;
  port: number;
  admin: AdminClient;
  baseUrl: string;
  /** Empties every table (between tests). */
  reset(): Promise<void>;
  /** Opens a WebSocket as `appUserId` (created if needed) and waits for the sync frame. */
  connect(appUserId: string, options?: { waitSync?: boolean }): Promise<WsClient>;
  /** SQL straight into the database the server uses. */
  sql<T = any>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * The real server on a free port (or `env.PORT`): PostgreSQL at `env.DATABASE_URL` or the environment's
 * DATABASE_URL when set (CI), otherwise the embedded database in a fresh temporary directory.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  // env.DATABASE_URL (e.g. a private cluster of a fault test) wins over the environment's
  const databaseUrl = env.DATABASE_URL ?? process.env.DATABASE_URL;
  const dataDir = databaseUrl ? undefined : mkdtempSync(join(tmpdir(), 'im-test-'));
  // uploads of a test server go to a temporary directory unless the test names one
  const mediaDir = env.MEDIA_DIR ? undefined : mkdtempSync(join(tmpdir(), 'im-test-media-'));
  const config = loadConfig({
    LOG_LEVEL: 'error',
    ADMIN_TOKEN,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATA_DIR: dataDir }),
    ...(mediaDir ? { MEDIA_DIR: mediaDir } : {}),
    ...env,
    // a free port unless the test asks for one (a restart on the same port)
    PORT: env.PORT ?? '0',
  });
  const server = await startServer(config);
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const admin = new AdminClient(baseUrl, ADMIN_TOKEN);
  const pool = server.app.get(Db).pool;
  const clients = new Set<WsClient>();

  const sql = async <T>(text: string, params?: unknown[]) => (await pool.query(text, params as any[])).rows as T[];
  return {
    server,
    port: server.port,
    admin,
    baseUrl,
    sql,
    async reset() {
      for (const client of clients) client.close();
      // let the server see the closes before ids are reused
      await Promise.race([Promise.all([...clients].map((client) => client.closed)), new Promise((resolve) => setTimeout(resolve, 2000))]);
      clients.clear();
      // the server may still be finishing the last test's writes (a received mark, a disconnect):
      // TRUNCATE's table locks can then deadlock with them; PostgreSQL aborts one side, so try again
      for (let attempt = 1; ; attempt++) {
        try {
          await sql(`TRUNCATE webhook_outbox, system_messages, message_reactions, message_edits, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== '40P01' || attempt >= 5) throw error;
        }
      }
      await sql(`ALTER SEQUENCE msg_id_seq RESTART WITH 1`);
      // ids start again: a typing key of the last test must not throttle this one
      server.app.get(TypingThrottle).forget();
    },
    async connect(appUserId, options = {}) {
      const { token } = await admin.ensureUserToken(appUserId);
      const client = await WsClient.open(server.port, token);
      clients.add(client);
      if (options.waitSync ?? true) await client.waitSync();
      return client;
    },
    async close() {
      for (const client of clients) client.close();
      await server.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      if (mediaDir) rmSync(mediaDir, { recursive: true, force: true });
    },
  };
}

/** A direct connection to the test database, for checks that must bypass the server. */
export async function pgClient(): Promise<Client> {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  return client;
}
