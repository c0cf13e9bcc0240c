import { INestApplication, Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';
import { HttpErrorFilter } from './common/http-error.filter';
import { jsonBodyMiddleware } from './common/json-body';
import { mountConsole } from './console/console-static';
import { imValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import { EmbeddedDatabase } from './database/embedded-database';
import { buildOpenApiDocument } from './openapi/openapi';
import { ImWsAdapter } from './realtime/im-ws-adapter';

/** Sockets the embedded database accepts: the app's one, plus other nodes or tools given its URL (password included). */
const EMBEDDED_SOCKETS = 8;
const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export interface RunningServer {
  app: INestApplication;
  /** The port actually listened on (PORT=0 picks a free one). */
  port: number;
  /** DATABASE_URL, or the URL of the embedded database with its per-start password (other nodes may share it; a secret). */
  databaseUrl: string;
  close(): Promise<void>;
  /**
   * Graceful stop (SIGTERM, PROTOCOL §2): refuse upgrades, answer every request already read, close
   * each socket with 1012, then close the database pool, all within SHUTDOWN_TIMEOUT_MS (+ close grace).
   */
  shutdown(): Promise<void>;
}

/** Builds the whole server (used by main.ts and the e2e tests alike) and starts listening. */
export async function startServer(config: AppConfig): Promise<RunningServer> {
  // The embedded database is one session behind its socket server: statements of different pool
  // connections could interleave mid-query, so the app uses one connection (queries queue in the pool).
  const embedded = config.DATABASE_URL ? undefined : new EmbeddedDatabase(config.DATA_DIR, EMBEDDED_SOCKETS);
  const databaseUrl = config.DATABASE_URL ?? (await embedded!.start());
  let app: INestApplication | undefined;
  let adapter: ImWsAdapter | undefined;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, databaseUrl, embedded !== undefined), {
      logger: LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(config.LOG_LEVEL as LogLevel) + 1),
      // JSON bodies only, size-limited and checked like WebSocket frames (src/common/json-body.ts)
      bodyParser: false,
    });
    mountConsole(app as NestExpressApplication, config);
    app.use(...jsonBodyMiddleware({ maxBytes: config.ADMIN_BODY_MAX_BYTES, maxDepth: config.MAX_NESTING_DEPTH }));
    adapter = new ImWsAdapter(app);
    app.useWebSocketAdapter(adapter);
    app.useGlobalPipes(imValidationPipe());
    app.useGlobalFilters(new HttpErrorFilter());
    SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app!), { jsonDocumentUrl: 'docs-json' });
    await app.listen(config.PORT);
  } catch (error) {
    await app?.close().catch(() => undefined);
    await embedded?.stop();
    throw error;
  }
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  new Logger('Server').log(`listening on port ${port} (WebSocket path ${config.WS_PATH})`);
  const running = app;
  const wsAdapter = adapter!;
  const close = async () => {
    await running.close();
    await embedded?.stop();
  };
  return {
    app: running,
    port,
    databaseUrl,
    close,
    shutdown: async () => {
      await wsAdapter.drain(config.SHUTDOWN_TIMEOUT_MS);
      await close();
    },
  };
}
