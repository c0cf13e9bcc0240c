import { INestApplication, Logger } from '@nestjs/common';
import { createServer, Server } from 'http';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';
import { HttpErrorFilter } from './common/http-error.filter';
import { jsonBodyMiddleware } from './common/json-body';
import { isMediaUpload, mediaCors } from './media/media-http';
import { mountConsole } from './console/console-static';
import { imValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import { EmbeddedDatabase } from './database/embedded-database';
import { buildOpenApiDocument } from './openapi/openapi';
import { ImWsAdapter } from './realtime/im-ws-adapter';
import { httpObserver } from './logging/http-log';
import { installLogger } from './logging/logger';
import { MetricsService } from './metrics/metrics.service';

/** Sockets the embedded database accepts: the app's one, plus other nodes or tools given its URL (password included). */
const EMBEDDED_SOCKETS = 8;

export interface RunningServer {
  app: INestApplication;
  /** The port actually listened on (PORT=0 picks a free one). */
  port: number;
  /** The port /metrics is served on (METRICS_PORT, or `port`). */
  metricsPort: number;
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
export async function startServer(config: AppConfig, options: { logDestination?: NodeJS.WritableStream } = {}): Promise<RunningServer> {
  const logger = installLogger(config.LOG_LEVEL, config.LOG_FORMAT, options.logDestination);
  Logger.overrideLogger(logger);
  const log = new Logger('Server');
  // The embedded database is one session behind its socket server: statements of different pool
  // connections could interleave mid-query, so the app uses one connection (queries queue in the pool).
  const embedded = config.DATABASE_URL ? undefined : new EmbeddedDatabase(config.DATA_DIR, EMBEDDED_SOCKETS);
  if (!config.DATABASE_URL) log.log(`opening the embedded database in ${config.DATA_DIR} (DATABASE_URL is not set)`);
  else log.log('connecting to the database at DATABASE_URL');
  const databaseUrl = config.DATABASE_URL ?? (await embedded!.start());
  let app: INestApplication | undefined;
  let adapter: ImWsAdapter | undefined;
  let metricsServer: Server | undefined;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, databaseUrl, embedded !== undefined), {
      logger,
      // JSON bodies only, size-limited and checked like WebSocket frames (src/common/json-body.ts)
      bodyParser: false,
    });
    const metrics = app.get(MetricsService);
    app.use(httpObserver(metrics, config.LOG_LEVEL, config.CONSOLE_PATH));
    mountConsole(app as NestExpressApplication, config);
    app.use(mediaCors(config));
    // the signed media PUT is raw bytes streamed to storage, not JSON (src/media)
    app.use(...jsonBodyMiddleware({ maxBytes: config.ADMIN_BODY_MAX_BYTES, maxDepth: config.MAX_NESTING_DEPTH, skip: isMediaUpload }));
    adapter = new ImWsAdapter(app);
    app.useWebSocketAdapter(adapter);
    app.useGlobalPipes(imValidationPipe());
    app.useGlobalFilters(new HttpErrorFilter());
    SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app!), { jsonDocumentUrl: 'docs-json' });
    await app.listen(config.PORT);
    // PORT=0 (tests): the default MEDIA_BASE_URL can only name the port once it is known
    if (config.PORT === 0 && config.MEDIA_BASE_URL === undefined) config.MEDIA_BASE_URL = `http://localhost:${(app.getHttpServer().address() as { port: number }).port}/media`;
    if (config.METRICS_PORT !== undefined) metricsServer = await serveMetrics(metrics, config.METRICS_PORT);
  } catch (error) {
    metricsServer?.close();
    await app?.close().catch(() => undefined);
    await embedded?.stop();
    throw error;
  }
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const base = `http://localhost:${port}`;
  const metricsAddress = metricsServer?.address();
  const metricsUrl = metricsAddress && typeof metricsAddress === 'object' ? `http://localhost:${metricsAddress.port}/metrics` : `${base}/metrics`;
  log.log({
    msg: `listening on port ${port} (WebSocket path ${config.WS_PATH}); console ${config.CONSOLE_ENABLED ? `${base}${config.CONSOLE_PATH}` : 'off'}, API docs ${base}/docs, metrics ${metricsUrl}`,
    port,
    metrics_url: metricsUrl,
  });
  const running = app;
  const wsAdapter = adapter!;
  const close = async () => {
    await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
    await running.close();
    await embedded?.stop();
  };
  return {
    app: running,
    port,
    metricsPort: metricsAddress && typeof metricsAddress === 'object' ? metricsAddress.port : port,
    databaseUrl,
    close,
    shutdown: async () => {
      await wsAdapter.drain(config.SHUTDOWN_TIMEOUT_MS);
      await close();
    },
  };
}

/** /metrics on a port of its own (METRICS_PORT), e.g. one only the monitoring network reaches. */
async function serveMetrics(metrics: MetricsService, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      (error: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(error.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
