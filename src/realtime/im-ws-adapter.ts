import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { RawData, Server, WebSocket } from 'ws';
import { ImCode } from '../common/im-error';
import { checkRequest, DEDUPED_ACTIONS, SendDedupe } from '../contract';
import { AppConfig } from '../config/app-config';
import { CLOSE_UNAUTHORIZED } from '../users/users.service';
import { ClientAuthenticator } from '../users/client-authenticator';
import { AuthenticatedUser, CLOSE_REPLACED, CLOSE_SERVICE_RESTART, Connection } from './connection';
import { ConnectionLifecycle } from './connection-lifecycle';
import { ConnectionRegistry } from './connection-registry';
import { TokenBucket } from './token-bucket';
import { addressOf, takeSlot, UpgradeGate, UpgradeRequest } from './upgrade-gate';
import { encodeError, encodeReply, ReplyBody } from './frames';
import { groupIdOf, toCodeAndMsg } from './reply-errors';
import { MetricsService } from '../metrics/metrics.service';
import { gatewayRoutes, Route } from './gateway-routes';

export type ImSocket = WebSocket & { connection?: Connection; pendingAuth?: PendingAuth };

/** A socket opened without a token: it must send `auth` within AUTH_TIMEOUT_MS (PROTOCOL §2). */
interface PendingAuth {
  address: string;
  timer: NodeJS.Timeout;
  requests: TokenBucket;
  authenticating: boolean;
}

/** The metrics label of frames that name no routed action. */
const INVALID_ACTION = 'invalid';
/** What a request came to: its action label and reply code (-1: no reply was written). */
interface Outcome {
  action: string;
  code: number;
}
const round = (ms: number) => Math.round(ms * 100) / 100;
/** After SIGTERM, how long sockets get to answer the 1012 close before they are destroyed. */
const CLOSE_GRACE_MS = 2000;
/**
 * Listeners on the server are ours, a fixed handful (not one per gateway any more, see
 * bindClientConnect); the limit stays above Node's default of 10 so a leak warning on stderr can never
 * break JSON-only logs.
 */
const MAX_LISTENERS = 64;

/**
 * The WebSocket transport: the upgrade gate (origins, tokens, in-band `auth`), frame size limit,
 * parsing and routing by `action` (every bad frame answered, never dropped), rate limiting, replies,
 * connection limits per user, token expiry, and the drain on shutdown.
 */
export class ImWsAdapter extends WsAdapter {
  private readonly log = new Logger('ImWsAdapter');
  private readonly config: AppConfig;
  private readonly authenticator: ClientAuthenticator;
  private readonly lifecycle: ConnectionLifecycle;
  private readonly registry: ConnectionRegistry;
  private readonly gate: UpgradeGate;
  private readonly servers = new Set<Server>();
  /** action → gateway handler, called by the adapter itself (gateway-routes.ts). */
  private readonly routes: Map<string, Route>;
  /** Requests read and not yet answered; the shutdown drain waits for them. */
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly dedupe?: SendDedupe;
  private readonly metrics: MetricsService;
  /** Per-request lines are written at debug level only; checked once, not per request. */
  private readonly debugEnabled: boolean;

  constructor(app: INestApplicationContext) {
    super(app);
    this.config = app.get(AppConfig);
    this.authenticator = app.get(ClientAuthenticator);
    this.lifecycle = app.get(ConnectionLifecycle);
    this.registry = app.get(ConnectionRegistry);
    this.gate = new UpgradeGate(this.config, this.authenticator);
    this.dedupe = optionalProvider(app, SendDedupe);
    this.metrics = app.get(MetricsService, { strict: false });
    this.debugEnabled = ['debug', 'verbose'].includes(this.config.LOG_LEVEL);
    this.routes = gatewayRoutes(app);
  }

  create(port: number, options: Record<string, unknown> = {}): Server {
    const server: Server = super.create(port, {
      ...options,
      path: this.config.WS_PATH,
      maxPayload: this.config.MAX_FRAME_BYTES,
      perMessageDeflate: false,
      verifyClient: (info: { req: UpgradeRequest }, done: (ok: boolean, code?: number, message?: string) => void) => {
        void this.gate.verify(info.req).then((verdict) => {
          if (verdict.ok) return done(true);
          this.metrics.upgradeRefused(verdict.reason);
          // never the URL: it may carry ?token=
          this.log.log({ msg: 'upgrade refused', reason: verdict.reason, status: verdict.status, remote_address: addressOf(info.req) });
          done(false, verdict.status, verdict.message);
        });
      },
    });
    this.servers.add(server);
    server.setMaxListeners(MAX_LISTENERS);
    server.on('connection', (socket: ImSocket, request: UpgradeRequest) => this.onConnection(socket, request));
    return server;
  }

  /** Socket-level errors (e.g. an oversized frame, answered by ws with 1009) are the client's, not ours. */
  bindErrorHandler(server: Server): Server {
    server.on('connection', (socket: WebSocket) => socket.on('error', (error) => this.log.debug(`socket error: ${error.message}`)));
    server.on('error', (error) => this.log.error(error));
    return server;
  }

  /**
   * Shutdown (PROTOCOL §2): refuse upgrades, stop executing new frames (a client resends what got no
   * reply), wait for the requests already read to be answered, then close every socket with 1012.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.gate.draining = true;
    await this.idle(timeoutMs);
    const sockets = [...this.servers].flatMap((server) => [...server.clients]);
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === WebSocket.CLOSED) return resolve();
            const timer = setTimeout(() => {
              socket.terminate();
              resolve();
            }, CLOSE_GRACE_MS);
            socket.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            socket.close(CLOSE_SERVICE_RESTART, 'server restarting');
          }),
      ),
    );
  }

  private idle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight++;
    return work.finally(() => {
      if (--this.inFlight > 0) return;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    });
  }

  private onConnection(socket: ImSocket, request: UpgradeRequest): void {
    socket.on('message', this.onMessage);
    if (request.imPendingAuth) return this.awaitAuth(socket, request);
    this.admit(socket, request.imUser!, addressOf(request));
  }

  /** An authenticated socket becomes a Connection: registered, limited, watched, then the connect sequence. */
  private admit(socket: ImSocket, user: AuthenticatedUser, address: string): void {
    const connection = new Connection(socket, user, this.config.RATE_LIMIT_PER_SEC, this.config.RATE_LIMIT_BURST, this.config.MAX_BUFFERED_BYTES);
    socket.connection = connection;
    socket.on('pong', () => (connection.lastSeen = Date.now()));
    this.metrics.connectionsOpened.inc();
    this.log.log({ msg: 'connection opened', user_id: user.userId, connection_id: connection.id, remote_address: address });
    socket.once('close', (code: number) => {
      connection.stopWatchingExpiry();
      this.lifecycle.close(connection);
      this.metrics.connectionClosed(code);
      this.log.log({
        msg: 'connection closed',
        user_id: user.userId,
        connection_id: connection.id,
        remote_address: address,
        close_code: code,
        duration_ms: Date.now() - connection.openedAt,
      });
    });
    connection.watchExpiry(() => connection.send(encodeError(ImCode.Unauthorized, 'token expired'), () => connection.close(CLOSE_UNAUTHORIZED, 'token expired')));
    void this.lifecycle.open(connection); // registers the connection before its first await
    this.closeOldestBeyondLimit(user.userId);
  }

  /** PROTOCOL §2: at most MAX_CONNECTIONS_PER_USER; one more closes the user's oldest with 4409. */
  private closeOldestBeyondLimit(userId: number): void {
    const open = [...this.registry.connectionsOf(userId)].filter((connection) => connection.isOpen);
    const excess = open.length - this.config.MAX_CONNECTIONS_PER_USER;
    for (const connection of open.slice(0, Math.max(0, excess))) {
      connection.close(CLOSE_REPLACED, 'too many connections: replaced by a newer one');
    }
  }

  private awaitAuth(socket: ImSocket, request: UpgradeRequest): void {
    takeSlot(request);
    const pending: PendingAuth = {
      address: addressOf(request),
      requests: new TokenBucket(this.config.RATE_LIMIT_PER_SEC, this.config.RATE_LIMIT_BURST),
      authenticating: false,
      timer: setTimeout(() => socket.close(CLOSE_UNAUTHORIZED, 'authentication timeout'), this.config.AUTH_TIMEOUT_MS),
    };
    socket.pendingAuth = pending;
    socket.once('close', () => this.endPendingAuth(socket));
  }

  private endPendingAuth(socket: ImSocket): void {
    const pending = socket.pendingAuth;
    if (!pending) return;
    socket.pendingAuth = undefined;
    clearTimeout(pending.timer);
    this.gate.release(pending.address);
  }

  /**
   * Nest calls `callback` once per gateway for every new socket, to bind that gateway's handlers to it
   * through its per-request pipeline. The adapter routes frames itself (gateway-routes.ts), so it is
   * never called: gateways have no connection hooks (handleConnection / handleDisconnect; connection
   * life is ConnectionLifecycle's), and opening a socket costs no gateway anything.
   */
  bindClientConnect(): void {}

  /** Never called (see bindClientConnect): the route table is gatewayRoutes(). */
  bindMessageHandlers(): void {}

  /** The one `message` listener every socket shares (ws calls it with `this` = the socket). */
  private readonly onMessage = (() => {
    const adapter = this;
    return function (this: ImSocket, data: RawData, isBinary: boolean): void {
      // after SIGTERM nothing new is executed: the client resends what got no reply elsewhere
      if (adapter.gate.draining) return;
      void adapter.track(this.connection ? adapter.onFrame(this, data, isBinary) : adapter.onUnauthenticatedFrame(this, data, isBinary));
    };
  })();

  /** Before `auth` only `auth` is executed; anything else gets 401 (PROTOCOL §2). */
  private async onUnauthenticatedFrame(socket: ImSocket, data: RawData, isBinary: boolean): Promise<void> {
    const pending = socket.pendingAuth;
    if (!pending || socket.readyState !== WebSocket.OPEN) return;
    const text = isBinary ? '' : data.toString();
    const { action, nonce } = peek(text);
    if (!pending.requests.take()) {
      socket.send(action ? encodeReply(action, nonce, { code: ImCode.TooManyRequests, msg: 'too many requests' }) : encodeError(ImCode.TooManyRequests, 'too many requests', nonce));
      return;
    }
    if (action === undefined) return void socket.send(encodeError(ImCode.BadRequest, isBinary ? 'frame must be a JSON text frame' : 'frame is not a JSON object with an action', nonce));
    if (action !== 'auth') return void socket.send(encodeReply(action, nonce, { code: ImCode.Unauthorized, msg: 'not authenticated: send auth first' }));
    const request = JSON.parse(text) as Record<string, unknown>;
    const problem = checkRequest('auth', request, this.config.MAX_NESTING_DEPTH); // the request contract, as for every action
    if (problem) return void socket.send(encodeReply('auth', nonce, { code: ImCode.BadRequest, msg: problem.msg }));
    if (pending.authenticating) return void socket.send(encodeReply('auth', nonce, { code: ImCode.BadRequest, msg: 'auth already in progress' }));
    pending.authenticating = true;
    let user: AuthenticatedUser | null;
    try {
      user = await this.authenticator.authenticateToken(request.token as string);
    } catch (error) {
      pending.authenticating = false;
      this.log.warn(`in-band authentication failed: ${(error as Error).message}`);
      return void socket.send(encodeReply('auth', nonce, { code: ImCode.ServerError, msg: 'server error; retry' }));
    }
    if (socket.readyState !== WebSocket.OPEN) return;
    if (!user) {
      this.metrics.request('auth', ImCode.Unauthorized, 0);
      this.log.log({ msg: 'request failed', action: 'auth', code: ImCode.Unauthorized, remote_address: pending.address });
      socket.send(encodeReply('auth', nonce, { code: ImCode.Unauthorized, msg: 'invalid or expired token, or user disabled' }), () =>
        socket.close(CLOSE_UNAUTHORIZED, 'unauthorized'),
      );
      return;
    }
    this.endPendingAuth(socket);
    socket.send(encodeReply('auth', nonce, { user_id: user.userId }));
    this.admit(socket, user, pending.address);
  }

  /** Runs one frame of an authenticated connection and records its outcome (metrics; a log line when it failed). */
  private async onFrame(socket: ImSocket, data: RawData, isBinary: boolean): Promise<void> {
    const connection = socket.connection;
    if (!connection) return;
    const started = performance.now();
    const outcome: Outcome = { action: INVALID_ACTION, code: ImCode.Ok };
    await this.executeFrame(socket, connection, data, isBinary, outcome);
    if (outcome.code === -1) return; // not answered (the connection closed meanwhile)
    const seconds = (performance.now() - started) / 1000;
    this.metrics.request(outcome.action, outcome.code, seconds);
    if (outcome.code === ImCode.TooManyRequests) this.metrics.rateLimited.inc();
    if (outcome.code !== ImCode.Ok && outcome.code !== ImCode.Duplicate) {
      this.log.log({ msg: 'request failed', action: outcome.action, code: outcome.code, duration_ms: round(seconds * 1000), user_id: connection.userId, connection_id: connection.id });
    } else if (this.debugEnabled) {
      this.log.debug({ msg: 'request', action: outcome.action, code: outcome.code, duration_ms: round(seconds * 1000), user_id: connection.userId, connection_id: connection.id });
    }
  }

  /** Answers the frame; `outcome` gets the routed action (or "invalid") and the reply code. */
  private async executeFrame(socket: ImSocket, connection: Connection, data: RawData, isBinary: boolean, outcome: Outcome): Promise<void> {
    const routes = this.routes;
    const text = isBinary ? '' : data.toString();
    const reply = (code: number, frame: string, onWritten?: () => void) => {
      outcome.code = code;
      connection.send(frame, onWritten);
    };

    if (!connection.takeRequestToken()) {
      const { action, nonce } = peek(text);
      if (action && routes.has(action)) outcome.action = action;
      return reply(
        ImCode.TooManyRequests,
        action ? encodeReply(action, nonce, { code: ImCode.TooManyRequests, msg: 'too many requests' }) : encodeError(ImCode.TooManyRequests, 'too many requests', nonce),
      );
    }

    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      return reply(ImCode.BadRequest, encodeError(ImCode.BadRequest, isBinary ? 'frame must be a JSON text frame' : 'frame is not valid JSON'));
    }
    if (request === null || typeof request !== 'object' || Array.isArray(request)) {
      return reply(ImCode.BadRequest, encodeError(ImCode.BadRequest, 'frame must be a JSON object'));
    }
    const fields = request as Record<string, unknown>;
    const nonce = typeof fields.nonce === 'string' ? fields.nonce : undefined;
    if (typeof fields.action !== 'string' || fields.action === '') {
      return reply(ImCode.BadRequest, encodeError(ImCode.BadRequest, 'action is required', nonce));
    }
    const action = fields.action;
    if (action === 'auth') return reply(ImCode.BadRequest, encodeReply(action, nonce, { code: ImCode.BadRequest, msg: 'already authenticated' }));
    const handler = routes.get(action);
    if (!handler) return reply(ImCode.BadRequest, encodeError(ImCode.BadRequest, `unknown action: ${action}`, nonce));
    outcome.action = action;
    const refused = await this.refuseInvalid(connection, action, fields);
    if (refused !== undefined) {
      outcome.code = refused;
      return;
    }
    if (connection.tokenExpired()) {
      return reply(ImCode.Unauthorized, encodeReply(action, nonce, { code: ImCode.Unauthorized, msg: 'token expired' }), () =>
        connection.close(CLOSE_UNAUTHORIZED, 'token expired'),
      );
    }

    try {
      const body = (await handler(socket, fields)) as ReplyBody | string | undefined;
      if (body === undefined) {
        outcome.code = -1; // the handler answers nothing
        return;
      }
      outcome.code = typeof body === 'string' ? ImCode.Ok : (body.code ?? ImCode.Ok);
      connection.send(typeof body === 'string' ? body : (body.encoded ?? encodeReply(action, nonce, body)));
    } catch (error) {
      const { code, msg } = toCodeAndMsg(error, this.log);
      reply(code, encodeReply(action, nonce, { code, msg, group_id: groupIdOf(fields, action) }));
    }
  }

  // ---------------------------------------------------------------- request contract hook

  /**
   * PROTOCOL §3 "Rules for every request" and the action's JSON Schema (src/contract), checked here,
   * before any handler: the nonce, then strings and nesting anywhere in the frame, then the schema.
   * A refused chat/groupChat whose (sender, nonce) is already stored is answered 831 with the original
   * (PROTOCOL §4 step 1: dedupe first). Returns the reply's code when it answered the frame.
   */
  private async refuseInvalid(connection: Connection, action: string, fields: Record<string, unknown>): Promise<number | undefined> {
    const problem = checkRequest(action, fields, this.config.MAX_NESTING_DEPTH);
    if (!problem) return undefined;
    const nonce = typeof fields.nonce === 'string' ? fields.nonce : undefined;
    let body: ReplyBody = { code: ImCode.BadRequest, msg: problem.msg, group_id: groupIdOf(fields, action) };
    if (problem.stage !== 'nonce' && nonce !== undefined && DEDUPED_ACTIONS.has(action) && this.dedupe) {
      try {
        const sender = { userId: connection.userId, appUserId: connection.user.appUserId, connectionId: connection.id };
        body = (await this.dedupe.duplicateOf(sender, nonce)) ?? body;
      } catch (error) {
        body = { ...toCodeAndMsg(error, this.log), group_id: body.group_id };
      }
    }
    connection.send(encodeReply(action, nonce, body));
    return body.code ?? ImCode.Ok;
  }
}

/** A provider that may be absent (e.g. a test module without messaging). */
function optionalProvider<T>(app: INestApplicationContext, token: abstract new (...args: never[]) => T): T | undefined {
  try {
    return app.get(token, { strict: false });
  } catch {
    return undefined;
  }
}

/** action and nonce of a frame we will not execute, for its 429 reply. */
function peek(text: string): { action?: string; nonce?: string } {
  try {
    const value = JSON.parse(text);
    if (value && typeof value === 'object') {
      return {
        action: typeof value.action === 'string' && value.action ? value.action : undefined,
        nonce: typeof value.nonce === 'string' ? value.nonce : undefined,
      };
    }
  } catch {
    // not JSON: the 429 goes out as an `error` frame
  }
  return {};
}
