import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageMappingProperties } from '@nestjs/websockets';
import { IncomingMessage } from 'http';
import { Observable } from 'rxjs';
import { RawData, Server, WebSocket } from 'ws';
import { ImCode } from '../common/im-error';
import { AppConfig } from '../config/app-config';
import { CLOSE_UNAUTHORIZED } from '../users/users.service';
import { ClientAuthenticator } from '../users/client-authenticator';
import { AuthenticatedUser, Connection } from './connection';
import { ConnectionLifecycle } from './connection-lifecycle';
import { encodeError, encodeReply, ReplyBody } from './frames';
import { toCodeAndMsg } from './ws-error.filter';

export type ImSocket = WebSocket & { connection?: Connection };
type Handler = (request: unknown, action: string) => Promise<unknown> | unknown;
type UpgradeRequest = IncomingMessage & { imUser?: AuthenticatedUser };

const ROUTES = Symbol('routes');
const NONCE_MAX = 64;

/**
 * The WebSocket transport: authentication during the upgrade, frame size limit, parsing and routing
 * by `action` (every bad frame answered, never dropped), rate limiting, and replies.
 */
export class ImWsAdapter extends WsAdapter {
  private readonly log = new Logger('ImWsAdapter');
  private readonly config: AppConfig;
  private readonly authenticator: ClientAuthenticator;
  private readonly lifecycle: ConnectionLifecycle;

  constructor(app: INestApplicationContext) {
    super(app);
    this.config = app.get(AppConfig);
    this.authenticator = app.get(ClientAuthenticator);
    this.lifecycle = app.get(ConnectionLifecycle);
  }

  create(port: number, options: Record<string, unknown> = {}): Server {
    const server: Server = super.create(port, {
      ...options,
      path: this.config.WS_PATH,
      maxPayload: this.config.MAX_FRAME_BYTES,
      perMessageDeflate: false,
      verifyClient: (info: { req: UpgradeRequest }, done: (ok: boolean, code?: number, message?: string) => void) => {
        this.authenticator.authenticate(info.req).then(
          (user) => {
            if (!user) return done(false, 401, 'Unauthorized');
            info.req.imUser = user;
            done(true);
          },
          (error) => {
            this.log.error(`upgrade authentication failed: ${(error as Error).message}`);
            done(false, 503, 'Service Unavailable');
          },
        );
      },
    });
    server.on('connection', (socket: ImSocket, request: UpgradeRequest) => this.onConnection(socket, request));
    return server;
  }

  /** Socket-level errors (e.g. an oversized frame, answered by ws with 1009) are the client's, not ours. */
  bindErrorHandler(server: Server): Server {
    server.on('connection', (socket: WebSocket) => socket.on('error', (error) => this.log.debug(`socket error: ${error.message}`)));
    server.on('error', (error) => this.log.error(error));
    return server;
  }

  private onConnection(socket: ImSocket, request: UpgradeRequest): void {
    const connection = new Connection(socket, request.imUser!, this.config.RATE_LIMIT_PER_SEC, this.config.RATE_LIMIT_BURST);
    socket.connection = connection;
    socket.on('pong', () => (connection.lastSeen = Date.now()));
    socket.once('close', () => this.lifecycle.close(connection));
    void this.lifecycle.open(connection);
  }

  /** Called once per gateway for each socket: all gateways' handlers share one router. */
  bindMessageHandlers(socket: ImSocket, handlers: MessageMappingProperties[], transform: (data: any) => Observable<any>): void {
    const holder = socket as ImSocket & { [ROUTES]?: Map<string, Handler> };
    let routes = holder[ROUTES];
    if (!routes) {
      const table = new Map<string, Handler>();
      holder[ROUTES] = routes = table;
      socket.on('message', (data: RawData, isBinary: boolean) => void this.onFrame(socket, table, data, isBinary));
    }
    for (const { message, callback } of handlers) routes.set(String(message), callback as Handler);
  }

  private async onFrame(socket: ImSocket, routes: Map<string, Handler>, data: RawData, isBinary: boolean): Promise<void> {
    const connection = socket.connection;
    if (!connection) return;
    connection.lastSeen = Date.now();
    const text = isBinary ? '' : data.toString();

    if (!connection.takeRequestToken()) {
      const { action, nonce } = peek(text);
      connection.send(
        action ? encodeReply(action, nonce, { code: ImCode.TooManyRequests, msg: 'too many requests' }) : encodeError(ImCode.TooManyRequests, 'too many requests', nonce),
      );
      return;
    }

    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      return connection.send(encodeError(ImCode.BadRequest, isBinary ? 'frame must be a JSON text frame' : 'frame is not valid JSON'));
    }
    if (request === null || typeof request !== 'object' || Array.isArray(request)) {
      return connection.send(encodeError(ImCode.BadRequest, 'frame must be a JSON object'));
    }
    const fields = request as Record<string, unknown>;
    const nonce = typeof fields.nonce === 'string' ? fields.nonce : undefined;
    if (typeof fields.action !== 'string' || fields.action === '') {
      return connection.send(encodeError(ImCode.BadRequest, 'action is required', nonce));
    }
    const action = fields.action;
    const handler = routes.get(action);
    if (!handler) return connection.send(encodeError(ImCode.BadRequest, `unknown action: ${action}`, nonce));
    if (nonce === undefined || nonce.length === 0 || nonce.length > NONCE_MAX) {
      return connection.send(encodeReply(action, nonce, { code: ImCode.BadRequest, msg: 'nonce must be a string of 1 to 64 characters' }));
    }
    if (connection.tokenExpired()) {
      connection.send(encodeReply(action, nonce, { code: ImCode.Unauthorized, msg: 'token expired' }), () =>
        connection.close(CLOSE_UNAUTHORIZED, 'token expired'),
      );
      return;
    }

    try {
      const body = (await handler(fields, action)) as ReplyBody | string | undefined;
      if (body === undefined) return; // the handler failed and its error filter already replied
      connection.send(typeof body === 'string' ? body : encodeReply(action, nonce, body));
    } catch (error) {
      const { code, msg } = toCodeAndMsg(error, this.log);
      connection.send(encodeReply(action, nonce, { code, msg }));
    }
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
