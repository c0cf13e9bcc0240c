import { randomBytes } from 'crypto';

/** Keys are made by the server only: 24 random bytes in base64url (32 characters, no path characters). */
export const MEDIA_KEY = /^[A-Za-z0-9_-]{32}$/;
/** How long an upload URL stays valid (PROTOCOL §10: 15 minutes). */
export const UPLOAD_TTL_MS = 15 * 60 * 1000;
/** The one thumbnail size served (PROTOCOL §4: fit into 200×200). */
export const THUMB_SIZE = 200;

const MEDIA_TYPE = /^([a-z0-9][a-z0-9!#$&^_.+-]{0,63})\/([a-z0-9][a-z0-9!#$&^_.+-]{0,126})$/;
const ALLOWED_TOP_TYPES = new Set(['image', 'audio', 'video', 'application']);

export function newMediaKey(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The essence of a Content-Type (`type/subtype`, lower case, parameters dropped), or undefined when the
 * value is not a media type at all.
 */
export function mediaTypeEssence(value: string): string | undefined {
  const essence = value.split(';')[0].trim().toLowerCase();
  return MEDIA_TYPE.test(essence) ? essence : undefined;
}

/** Uploads are limited to images, audio, video and application/* (PROTOCOL §10). */
export function isAllowedMediaType(essence: string): boolean {
  return ALLOWED_TOP_TYPES.has(essence.split('/')[0]);
}

export function isImageType(essence: string): boolean {
  return essence.startsWith('image/');
}

/** What POST /media/uploads answers (PROTOCOL §10). */
export interface UploadTicket {
  upload_url: string;
  method: 'PUT';
  headers: Record<string, string>;
  url: string;
  expires_at: number;
  /** The generated key: also a file message's `etag`, so the default `download_url` serves it. */
  key: string;
}

/** A validated upload request. */
export interface UploadRequest {
  key: string;
  contentType: string;
  size: number;
  fileName?: string;
  expiresAt: number;
}

/** Where media is kept: the local directory or an S3-compatible bucket. */
export abstract class MediaStorage {
  abstract readonly kind: 'local' | 's3';
  abstract createUpload(request: UploadRequest): Promise<UploadTicket>;
  /** The URL a client reads the object at. */
  abstract objectUrl(key: string): string;
}

/**
 * The local thumbnail URL of an image URL served by this server (`{MEDIA_BASE_URL}/{key}`), or
 * undefined for any other URL (those get THUMB_URL_TEMPLATE). Used by the send path (type 3).
 */
export function localThumbUrl(mediaBaseUrl: string, url: string): string | undefined {
  if (!url.startsWith(`${mediaBaseUrl}/`)) return undefined;
  const key = url.slice(mediaBaseUrl.length + 1).split(/[?#]/)[0];
  return MEDIA_KEY.test(key) ? `${mediaBaseUrl}/${key}?thumb=${THUMB_SIZE}` : undefined;
}
