import { ImError } from '../common/im-error';

/** Types a client may send (PROTOCOL §4); 10–19 are server-made. */
export const CLIENT_MESSAGE_TYPES = [1, 2, 3, 4, 5, 6, 7, 8] as const;
export const THUMB_BOX = 200;

export const APP_USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
const HTTP_URL = /^https?:\/\/[^\s/?#]+[^\s]*$/i;
/** A lone UTF-16 surrogate or NUL: PostgreSQL text/jsonb cannot hold them. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export interface MessageLimits {
  maxTextChars: number;
  maxExtraBytes: number;
  thumbUrlTemplate: string;
  mediaBaseUrl: string;
  /** The thumbnail URL this server serves for an image URL it serves itself (local media), else undefined. */
  localThumbUrl?: (url: string) => string | undefined;
}

/** A message body after validation: content and extra as they will be stored (server fields filled later). */
export interface ValidatedMessage {
  type: number;
  content: string;
  extra: Record<string, unknown>;
}

export function codePoints(value: string): number {
  let count = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

export function isHttpUrl(value: unknown): value is string {
  return typeof value === 'string' && HTTP_URL.test(value) && !UNSTORABLE.test(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkStorable(value: unknown, path: string): void {
  if (typeof value === 'string') {
    if (UNSTORABLE.test(value)) throw ImError.badRequest(`${path} contains a NUL character or an unpaired surrogate`);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkStorable(item, `${path}[${i}]`));
  } else if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (UNSTORABLE.test(key)) throw ImError.badRequest(`${path} has a key with a NUL character or an unpaired surrogate`);
      checkStorable(item, `${path}.${key}`);
    }
  }
}

/** The recipient of a one-to-one request: `app_user_ids` as a string (or an array holding exactly one). */
export function recipientOf(request: Record<string, unknown>, field = 'app_user_ids'): string {
  let value = request[field];
  if (Array.isArray(value) && value.length === 1) value = value[0];
  if (typeof value !== 'string' || !APP_USER_ID.test(value)) {
    throw ImError.badRequest(`${field} must be the app_user_id of one user (1-64 characters of [A-Za-z0-9_.@-])`);
  }
  return value;
}

/** A group_id: a JSON string of digits. Too large to exist → 404 (no such group). */
export function groupIdOf(request: Record<string, unknown>, field = 'group_id'): number {
  const value = request[field];
  if (typeof value !== 'string' || !/^\d{1,30}$/.test(value)) throw ImError.badRequest(`${field} must be a string of digits`);
  const id = Number(value);
  if (!Number.isSafeInteger(id) || id <= 0 || id > 9_000_000_000_000_000) throw ImError.notFound(`no such group: ${value}`);
  return id;
}

function positiveInt(extra: Record<string, unknown>, key: string): number {
  const value = extra[key];
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw ImError.badRequest(`extra.${key} must be a positive integer`);
  return value as number;
}

function url(extra: Record<string, unknown>, key: string): string {
  if (!isHttpUrl(extra[key])) throw ImError.badRequest(`extra.${key} must be an http or https URL`);
  return extra[key] as string;
}

function optionalUrl(extra: Record<string, unknown>, key: string): boolean {
  const value = extra[key];
  if (value === undefined || value === null || value === '') return false;
  url(extra, key);
  return true;
}

function numberIn(extra: Record<string, unknown>, key: string, min: number, max: number): number {
  const value = extra[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw ImError.badRequest(`extra.${key} must be a number from ${min} to ${max}`);
  }
  return value;
}

function stringOfLength(extra: Record<string, unknown>, key: string, min: number, max: number): string {
  const value = extra[key];
  if (typeof value !== 'string' || codePoints(value) < min || codePoints(value) > max) {
    throw ImError.badRequest(`extra.${key} must be a string of ${min} to ${max} characters`);
  }
  return value;
}

/**
 * Thumbnail size (PROTOCOL §4): scale = min(1, 200/w, 200/h), each side = max(1, round(side × scale)),
 * halves rounded up. Integer arithmetic, so no floating-point rounding surprises.
 */
export function thumbSize(width: number, height: number): { thumbWidth: number; thumbHeight: number } {
  const longest = Math.max(width, height);
  if (longest <= THUMB_BOX) return { thumbWidth: width, thumbHeight: height };
  const fit = (side: number) => Math.max(1, Math.floor((side * 2 * THUMB_BOX + longest) / (2 * longest)));
  return { thumbWidth: fit(width), thumbHeight: fit(height) };
}

/**
 * Validates a chat/groupChat body (type, content, extra and the type's fields) and fills in the
 * server fields that need no database (thumbnails, thumb_url, download_url). The card's nickname and
 * head (type 6) are filled by the caller. Throws 400 naming the first bad field.
 */
export function validateMessage(request: Record<string, unknown>, limits: MessageLimits): ValidatedMessage {
  const type = request.type;
  if (!Number.isInteger(type) || !CLIENT_MESSAGE_TYPES.includes(type as 1)) {
    throw ImError.badRequest('type must be an integer from 1 to 8');
  }

  let content = request.content;
  if (type === 1) {
    if (typeof content !== 'string' || content.length === 0) throw ImError.badRequest('content must be a non-empty string');
  } else if (content === undefined || content === null) {
    content = '';
  } else if (typeof content !== 'string') {
    throw ImError.badRequest('content must be a string');
  }
  const text = content as string;
  if (text.length > limits.maxTextChars && codePoints(text) > limits.maxTextChars) {
    throw ImError.badRequest(`content must be at most ${limits.maxTextChars} characters`);
  }
  if (UNSTORABLE.test(text)) throw ImError.badRequest('content contains a NUL character or an unpaired surrogate');

  const raw = request.extra;
  if (raw !== undefined && raw !== null && !isPlainObject(raw)) throw ImError.badRequest('extra must be a JSON object');
  const extra: Record<string, unknown> = raw ? { ...(raw as Record<string, unknown>) } : {};
  if (raw) {
    const bytes = Buffer.byteLength(JSON.stringify(raw), 'utf8');
    if (bytes > limits.maxExtraBytes) throw ImError.badRequest(`extra must be at most ${limits.maxExtraBytes} bytes serialized`);
    checkStorable(raw, 'extra');
  }

  switch (type) {
    case 2: {
      url(extra, 'voice_url');
      const duration = extra.duration;
      if (!Number.isInteger(duration) || (duration as number) < 1 || (duration as number) > 600) {
        throw ImError.badRequest('extra.duration must be an integer from 1 to 600 (seconds)');
      }
      break;
    }
    case 3: {
      const imageUrl = url(extra, 'url');
      const width = positiveInt(extra, 'width');
      const height = positiveInt(extra, 'height');
      if (extra.is_original !== 1 && extra.is_original !== 2) throw ImError.badRequest('extra.is_original must be 1 or 2');
      if (!optionalUrl(extra, 'thumb_url')) extra.thumb_url = limits.localThumbUrl?.(imageUrl) ?? limits.thumbUrlTemplate.split('{url}').join(imageUrl);
      Object.assign(extra, thumbSize(width, height));
      break;
    }
    case 4: {
      numberIn(extra, 'latitude', -90, 90);
      numberIn(extra, 'longitude', -180, 180);
      if (extra.address !== undefined && extra.address !== null && typeof extra.address !== 'string') {
        throw ImError.badRequest('extra.address must be a string');
      }
      break;
    }
    case 5:
      if (Object.keys(extra).length === 0) throw ImError.badRequest('extra must be a non-empty object for a red packet (type 5)');
      break;
    case 6:
      if (typeof extra.app_user_id !== 'string' || !APP_USER_ID.test(extra.app_user_id)) {
        throw ImError.badRequest('extra.app_user_id must be the app_user_id of the person shown');
      }
      break;
    case 7: {
      url(extra, 'video_url');
      url(extra, 'cover_url');
      positiveInt(extra, 'videoTotalTime');
      const width = positiveInt(extra, 'width');
      const height = positiveInt(extra, 'height');
      Object.assign(extra, thumbSize(width, height));
      break;
    }
    case 8: {
      const fileName = stringOfLength(extra, 'file_name', 1, 255);
      const size = extra.file_size;
      if (!Number.isSafeInteger(size) || (size as number) < 0) throw ImError.badRequest('extra.file_size must be a non-negative integer (bytes)');
      const etag = stringOfLength(extra, 'etag', 1, 128);
      if (!optionalUrl(extra, 'download_url')) {
        extra.download_url = `${limits.mediaBaseUrl}/${encodeURIComponent(etag)}?attname=${encodeURIComponent(fileName)}`;
      }
      break;
    }
  }
  return { type: type as number, content: text, extra };
}

/** Exactly one of `app_user_ids` (one-to-one) and `group_id`: the conversation a request is about. */
export function conversationTarget(request: Record<string, unknown>): { peer?: string; groupId?: number } {
  const hasPeer = request.app_user_ids !== undefined && request.app_user_ids !== null;
  const hasGroup = request.group_id !== undefined && request.group_id !== null;
  if (hasPeer === hasGroup) throw ImError.badRequest('app_user_ids or group_id is required (exactly one of them)');
  return hasGroup ? { groupId: groupIdOf(request) } : { peer: recipientOf(request) };
}
