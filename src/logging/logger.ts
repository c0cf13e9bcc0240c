import { LoggerService, LogLevel } from '@nestjs/common';
import pino, { Logger as Pino } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';

/** Nest's levels, most severe first; LOG_LEVEL keeps this one and every more severe one. */
const NEST_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const PINO_LEVEL: Record<LogLevel, pino.Level> = { fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

/**
 * Secrets that can appear inside a message text: the password of a database or Redis URL, a token in a
 * query string (WebSocket upgrades carry ?token=), a bearer token. Replaced before a line is written.
 */
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, '$1[redacted]@'],
  [/([?&](?:token|access_token|password|secret)=)[^&\s"']+/gi, '$1[redacted]'],
  [/\b(Bearer\s+)[^\s"',]+/gi, '$1[redacted]'],
];

export function scrubSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Structured fields that are never written, whatever a caller passes. */
const REDACT_PATHS = ['token', 'password', 'secret', 'authorization', 'databaseUrl', 'headers.authorization', 'req.headers.authorization', '*.token', '*.password'];

/**
 * The process's one logger (pino): JSON lines (`LOG_FORMAT=json`, the default when stdout is not a
 * terminal) or human-readable lines (`pretty`, the default on a terminal). Each line has `level`
 * (a name), `time`, `context` (the part of the server) and `msg`.
 */
export function createRootLogger(level: string, format: LogFormat | undefined, destination?: NodeJS.WritableStream): Pino {
  const chosen = format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const options: pino.LoggerOptions = {
    level: PINO_LEVEL[(NEST_LEVELS.includes(level as LogLevel) ? level : 'log') as LogLevel],
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (chosen === 'pretty') {
    const stream = pretty({
      sync: true,
      colorize: destination ? false : Boolean(process.stdout.isTTY),
      destination: (destination as any) ?? 1,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,context',
      messageFormat: '[{context}] {msg}',
      singleLine: true,
    });
    return pino(options, stream);
  }
  return pino(options, (destination as any) ?? pino.destination({ dest: 1, sync: true }));
}

/** Nest's own start-up chatter (every module, route and gateway subscription): debug, so the log says what matters. */
const FRAMEWORK_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'WebSocketsController', 'NestApplication']);

/** Nest's LoggerService over pino: `new Logger('Context')` everywhere in the server writes through this. */
export class PinoNestLogger implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    this.write(typeof context === 'string' && FRAMEWORK_CONTEXTS.has(context) ? 'debug' : 'info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest, true);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest, true);
  }

  /** Nest passes the context last; error() may pass a stack before it. */
  private write(level: pino.Level, message: unknown, rest: unknown[], mayHaveStack = false): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const params = [...rest];
    const context = params.length > 0 && typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    if (mayHaveStack && typeof params[0] === 'string' && params[0].includes('\n')) fields.stack = scrubSecrets(params.shift() as string);
    let text: string;
    if (message instanceof Error) {
      text = message.message;
      fields.stack = scrubSecrets(message.stack ?? '');
    } else if (message !== null && typeof message === 'object') {
      Object.assign(fields, message);
      text = typeof (message as { msg?: unknown }).msg === 'string' ? (message as { msg: string }).msg : '';
      delete fields.msg;
    } else {
      text = String(message);
    }
    this.pino[level](fields, scrubSecrets(text));
  }
}

/** Builds the logger from LOG_LEVEL / LOG_FORMAT and makes it the one Nest's `Logger` writes to. */
export function installLogger(level: string, format: LogFormat | undefined, destination?: NodeJS.WritableStream): PinoNestLogger {
  return new PinoNestLogger(createRootLogger(level, format, destination));
}
