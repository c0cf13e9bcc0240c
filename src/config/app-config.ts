import 'reflect-metadata';
import { Transform, Type, plainToInstance } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength, Validate, ValidationArguments, ValidatorConstraint, ValidatorConstraintInterface, validateSync } from 'class-validator';

const HTTP_URL = /^https?:\/\/[^\s]+$/;
const PG_URL = /^postgres(ql)?:\/\/[^\s]+$/;
const REDIS_URL = /^rediss?:\/\/[^\s]+$/;
const CONSOLE_PATH_FORMAT = /^(\/[A-Za-z0-9._~-]+)+$/;

/** The property is greater than the setting named in the constraint (e.g. a TTL longer than its refresh period). */
@ValidatorConstraint({ name: 'exceeds' })
class Exceeds implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const other = (args.object as Record<string, unknown>)[args.constraints[0]];
    return typeof value === 'number' && typeof other === 'number' && value > other;
  }

  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be greater than ${args.constraints[0]}`;
  }
}

/**
 * Every setting of the server, read from the environment once at start (PROTOCOL §9).
 * Names are the environment variables; defaults make a fresh checkout start with nothing set.
 */
export class AppConfig {
  @Type(() => Number) @IsInt() @Min(0) @Max(65535)
  PORT = 3000;

  @IsOptional() @Matches(PG_URL, { message: 'DATABASE_URL must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  /** Where the embedded database keeps its files when DATABASE_URL is unset. */
  @IsString() @MinLength(1)
  DATA_DIR = './data';

  @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  DB_POOL_SIZE = 20;

  @IsOptional() @Matches(REDIS_URL, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @IsOptional() @IsString() @MinLength(16, { message: 'ADMIN_TOKEN must be at least 16 characters' })
  ADMIN_TOKEN?: string;

  @IsOptional() @IsString() @MinLength(32, { message: 'TOKEN_SECRET must be at least 32 characters' })
  TOKEN_SECRET?: string;

  @Type(() => Number) @IsInt() @Min(60)
  TOKEN_TTL_SECONDS = 7 * 24 * 3600;

  @Type(() => Number) @IsInt() @Min(0)
  RATE_LIMIT_PER_SEC = 50;

  @Type(() => Number) @IsInt() @Min(0)
  RATE_LIMIT_BURST = 100;

  @Type(() => Number) @IsInt() @Min(1024)
  MAX_FRAME_BYTES = 65536;

  @IsString() @Matches(/^\/[^\s?#]*$/, { message: 'WS_PATH must be a path starting with /' })
  WS_PATH = '/';

  @IsOptional() @Matches(HTTP_URL, { message: 'MEDIA_BASE_URL must be an http or https URL' })
  MEDIA_BASE_URL?: string;

  @IsString() @Matches(/\{url\}/, { message: 'THUMB_URL_TEMPLATE must contain {url}' })
  THUMB_URL_TEMPLATE = '{url}?imageView2/2/w/200/h/200';

  @Type(() => Number) @IsInt() @Min(1)
  MAX_TEXT_CHARS = 5000;

  @Type(() => Number) @IsInt() @Min(64)
  MAX_EXTRA_BYTES = 8192;

  @Type(() => Number) @IsInt() @Min(2)
  MAX_GROUP_MEMBERS = 2000;

  /** How long a sender may recall their message (PROTOCOL §4 Recall); 0 = no limit. Owners, admins and the admin API: always. */
  @Type(() => Number) @IsInt() @Min(0)
  RECALL_WINDOW_SECONDS = 120;

  /** How long a sender may edit their text message (PROTOCOL §4 Edit); 0 = no limit. */
  @Type(() => Number) @IsInt() @Min(0)
  EDIT_WINDOW_SECONDS = 86400;

  /** Admins per group (PROTOCOL §7: 20). */
  @Type(() => Number) @IsInt() @Min(1)
  MAX_GROUP_ADMINS = 20;

  /** At most one typing push per (user, conversation) per this many ms (PROTOCOL §7: 3 s); 0 = no limit. */
  @Type(() => Number) @IsInt() @Min(0)
  TYPING_INTERVAL_MS = 3000;

  /** Groups with more members than this get the typing reply and no push (PROTOCOL §4 Typing: 200). */
  @Type(() => Number) @IsInt() @Min(0)
  TYPING_MAX_GROUP_MEMBERS = 200;

  @Type(() => Number) @IsInt() @Min(10)
  HEARTBEAT_INTERVAL_MS = 30_000;

  @Type(() => Number) @IsInt() @Min(20)
  HEARTBEAT_TIMEOUT_MS = 60_000;

  @IsIn(['error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL = 'log';

  /** `json` (one JSON object per line) or `pretty` (human-readable); unset: pretty on a terminal, json otherwise. */
  @IsOptional() @IsIn(['json', 'pretty'], { message: 'LOG_FORMAT must be json or pretty' })
  LOG_FORMAT?: 'json' | 'pretty';

  /** Serve /metrics on this port (e.g. one only the monitoring network reaches) instead of PORT. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535)
  METRICS_PORT?: number;

  /** Comma-separated exact origins allowed to open WebSockets; unset = any (PROTOCOL §2). */
  @IsOptional() @IsString()
  ALLOWED_ORIGINS?: string;

  @Type(() => Number) @IsInt() @Min(1)
  MAX_CONNECTIONS_PER_USER = 10;

  /** Unsent bytes one connection may hold before it is dropped with 1013. */
  @Type(() => Number) @IsInt() @Min(1024)
  MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

  /** Sockets opened without a token that have not sent `auth` yet, per remote address. */
  @Type(() => Number) @IsInt() @Min(1)
  MAX_UNAUTHENTICATED_PER_ADDRESS = 100;

  /** How long a socket opened without a token has to send `auth`. */
  @Type(() => Number) @IsInt() @Min(100)
  AUTH_TIMEOUT_MS = 10_000;

  /** Deepest nesting of objects and arrays accepted in a frame or an admin body. */
  @Type(() => Number) @IsInt() @Min(2) @Max(1000)
  MAX_NESTING_DEPTH = 16;

  /** Largest admin REST body (larger: 413). */
  @Type(() => Number) @IsInt() @Min(1024)
  ADMIN_BODY_MAX_BYTES = 1024 * 1024;

  /** How long SIGTERM waits for requests already read to be answered before closing sockets anyway. */
  @Type(() => Number) @IsInt() @Min(0)
  SHUTDOWN_TIMEOUT_MS = 10_000;

  /** With REDIS_URL: how often each node re-writes the presence entries of the users it holds (one pipeline per node). */
  @Type(() => Number) @IsInt() @Min(10)
  PRESENCE_REFRESH_MS = 10_000;

  /**
   * With REDIS_URL: how long a presence entry lasts without a refresh; the users of a node that died
   * without cleaning up show offline within this. Must exceed PRESENCE_REFRESH_MS.
   */
  @Type(() => Number) @IsInt() @Min(20) @Validate(Exceeds, ['PRESENCE_REFRESH_MS'])
  PRESENCE_TTL_MS = 30_000;

  /** Local media storage (PROTOCOL §10), used when S3_BUCKET is unset. */
  @IsString() @MinLength(1)
  MEDIA_DIR = './data/media';

  /** Largest upload in bytes (PROTOCOL §10: larger → 413). */
  @Type(() => Number) @IsInt() @Min(1)
  MEDIA_MAX_BYTES = 104_857_600;

  /** S3-compatible media storage: set S3_BUCKET to use it instead of MEDIA_DIR (docs/media.md). */
  @IsOptional() @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: 'S3_BUCKET must be a bucket name (3-63 of a-z 0-9 . -)' })
  S3_BUCKET?: string;

  /** Endpoint of an S3-compatible service (MinIO, Ceph, R2…); unset = AWS. Objects are addressed path-style under it. */
  @IsOptional() @Matches(HTTP_URL, { message: 'S3_ENDPOINT must be an http or https URL' })
  S3_ENDPOINT?: string;

  @IsString() @MinLength(1)
  S3_REGION = 'us-east-1';

  /** Unset: the AWS SDK's default credential chain (environment, instance role…). */
  @IsOptional() @IsString()
  S3_ACCESS_KEY_ID?: string;

  @IsOptional() @IsString()
  S3_SECRET_ACCESS_KEY?: string;

  /** Event webhooks (PROTOCOL §11): where events are POSTed; unset = no events (and no outbox rows). */
  @IsOptional() @Matches(HTTP_URL, { message: 'WEBHOOK_URL must be an http or https URL' })
  WEBHOOK_URL?: string;

  /** Key of the X-IM-Signature HMAC of every webhook call; required when any webhook URL is set. */
  @IsOptional() @IsString() @MinLength(16, { message: 'WEBHOOK_SECRET must be at least 16 characters' })
  WEBHOOK_SECRET?: string;

  /** Offline push webhook (PROTOCOL §11); unset = no offline push. */
  @IsOptional() @Matches(HTTP_URL, { message: 'PUSH_WEBHOOK_URL must be an http or https URL' })
  PUSH_WEBHOOK_URL?: string;

  /** Moderation before a message is stored (PROTOCOL §11); unset = not asked. */
  @IsOptional() @Matches(HTTP_URL, { message: 'BEFORE_SEND_WEBHOOK_URL must be an http or https URL' })
  BEFORE_SEND_WEBHOOK_URL?: string;

  @Type(() => Number) @IsInt() @Min(1)
  BEFORE_SEND_TIMEOUT_MS = 1000;

  /** What a before-send call that fails or times out means: `allow` stores the message, `reject` answers 812. */
  @IsIn(['allow', 'reject'], { message: 'BEFORE_SEND_ON_FAILURE must be allow or reject' })
  BEFORE_SEND_ON_FAILURE: 'allow' | 'reject' = 'allow';

  /** How long one event or push call may take before it counts as failed (and is retried). */
  @Type(() => Number) @IsInt() @Min(100)
  WEBHOOK_TIMEOUT_MS = 10_000;

  /** First retry delay of a failed webhook call; each further failure doubles it (up to WEBHOOK_RETRY_MAX_MS). */
  @Type(() => Number) @IsInt() @Min(1)
  WEBHOOK_RETRY_BASE_MS = 1000;

  @Type(() => Number) @IsInt() @Min(1)
  WEBHOOK_RETRY_MAX_MS = 600_000;

  /** How long after it was written an event is still retried; then it is dropped (logged, counted). */
  @Type(() => Number) @IsInt() @Min(1000)
  WEBHOOK_RETRY_FOR_MS = 86_400_000;

  /**
   * Whether this node delivers webhook calls from the outbox. `false`: it only writes them (its sends
   * and group changes), and other nodes deliver them — e.g. a dedicated worker node beside the socket nodes.
   */
  @Transform(({ value }) => parseBoolean(value)) @IsBoolean({ message: 'WEBHOOK_WORKER must be true or false' })
  WEBHOOK_WORKER = true;

  /** How often each node looks for webhook work written by other nodes (its own sends wake it at once). */
  @Type(() => Number) @IsInt() @Min(10)
  WEBHOOK_POLL_MS = 500;

  /** MEDIA_BASE_URL with its default filled in from PORT. */
  get mediaBaseUrl(): string {
    return (this.MEDIA_BASE_URL ?? `http://localhost:${this.PORT}/media`).replace(/\/+$/, '');
  }

  /** Serve the browser console (console/, built into dist-console/) at CONSOLE_PATH. */
  @Transform(({ value }) => parseBoolean(value)) @IsBoolean({ message: 'CONSOLE_ENABLED must be true or false' })
  CONSOLE_ENABLED = true;

  /** Where the console is served; must not overlap /admin, /docs, /health, /metrics, /media or WS_PATH. */
  @IsString() @Matches(CONSOLE_PATH_FORMAT, { message: 'CONSOLE_PATH must be a path like /console (letters, digits, . _ ~ -; no trailing slash)' })
  CONSOLE_PATH = '/console';

  /**
   * Store search lexemes with every text message and file (docs/search.md). false: messages stored
   * meanwhile are not found by `search`; meant for measuring what indexing costs the send path.
   */
  @Transform(({ value }) => parseBoolean(value)) @IsBoolean({ message: 'SEARCH_INDEX must be true or false' })
  SEARCH_INDEX = true;
}

/** First path segments served by something else. */
const RESERVED_SEGMENTS = ['admin', 'docs', 'docs-json', 'health', 'metrics', 'media'];

function parseBoolean(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  return value;
}

/** A CONSOLE_PATH that would shadow another route or the WebSocket endpoint, as a reason; undefined when fine. */
function consolePathClash(config: AppConfig): string | undefined {
  const first = config.CONSOLE_PATH.split('/')[1];
  if (RESERVED_SEGMENTS.includes(first)) return `CONSOLE_PATH must not be under /${first}`;
  const wsPath = config.WS_PATH.replace(/\/+$/, '') || '/';
  if (wsPath === config.CONSOLE_PATH || wsPath.startsWith(`${config.CONSOLE_PATH}/`)) return 'CONSOLE_PATH must not contain WS_PATH';
  return undefined;
}

export class ConfigError extends Error {}

/** Reads and validates the environment; throws a ConfigError whose message names the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const known = Object.keys(new AppConfig());
  const raw: Record<string, string> = {};
  for (const key of [...known, 'DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'TOKEN_SECRET', 'MEDIA_BASE_URL', 'ALLOWED_ORIGINS', 'LOG_FORMAT', 'METRICS_PORT', 'S3_BUCKET', 'S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'WEBHOOK_URL', 'WEBHOOK_SECRET', 'PUSH_WEBHOOK_URL', 'BEFORE_SEND_WEBHOOK_URL']) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const config = plainToInstance(AppConfig, raw, { exposeDefaultValues: true });
  const errors = validateSync(config, { forbidUnknownValues: false });
  if (errors.length > 0) {
    const first = errors[0];
    const constraints = first.constraints ?? {};
    // a type error ("must be an integer") says more than a range error on NaN
    const reason = constraints.isInt ?? Object.values(constraints)[0] ?? 'is invalid';
    throw new ConfigError(`Invalid configuration: ${first.property}=${JSON.stringify(raw[first.property])}: ${reason}`);
  }
  const hook = config.WEBHOOK_URL ? 'WEBHOOK_URL' : config.PUSH_WEBHOOK_URL ? 'PUSH_WEBHOOK_URL' : config.BEFORE_SEND_WEBHOOK_URL ? 'BEFORE_SEND_WEBHOOK_URL' : undefined;
  if (hook && !config.WEBHOOK_SECRET) throw new ConfigError(`Invalid configuration: WEBHOOK_SECRET is required when ${hook} is set (it signs every call)`);
  const clash = config.CONSOLE_ENABLED ? consolePathClash(config) : undefined;
  if (clash) throw new ConfigError(`Invalid configuration: CONSOLE_PATH=${JSON.stringify(config.CONSOLE_PATH)}: ${clash}`);
  if ((config.S3_ACCESS_KEY_ID === undefined) !== (config.S3_SECRET_ACCESS_KEY === undefined)) {
    throw new ConfigError('Invalid configuration: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
  }
  return config;
}
