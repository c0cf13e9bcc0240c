// Media uploads (PROTOCOL §10): ask the server for an upload ticket with the client token, send the
// bytes where it says (this server, or an S3 bucket), get the URL to put into a message. Browser and
// Node alike: only fetch, Blob and streams, no Node built-ins.

/** What can be uploaded: a browser File/Blob, bytes (any Uint8Array, ArrayBuffer or typed array), or a stream of bytes (web ReadableStream, a Node Readable or any async iterable; `size` required). */
export type MediaInput = Blob | ArrayBuffer | ArrayBufferView | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface UploadOptions {
  /** the media type (image/*, audio/*, video/*, application/*); default: a Blob's type, else application/octet-stream */
  contentType?: string;
  /** file name (default: a File's name) */
  fileName?: string;
  /** bytes; required for streams, read from everything else */
  size?: number;
}

/** The result of an upload. `url` goes into extra.url, voice_url, video_url, cover_url or download_url. */
export interface UploadedMedia {
  url: string;
  /** the server-generated key; a file message's `etag` */
  key: string;
  size: number;
  contentType: string;
  fileName?: string;
}

export interface UploadTicket {
  upload_url: string;
  method: 'PUT';
  headers: Record<string, string>;
  url: string;
  expires_at: number;
  key: string;
}

/** A failed upload step: `status` is the HTTP status (0 when the request did not get an answer). */
export class MediaUploadError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'MediaUploadError';
    this.status = status;
    Object.setPrototypeOf(this, MediaUploadError.prototype);
  }
}

export interface UploadContext {
  /** http(s)://host:port of the server (the WebSocket URL's origin by default) */
  httpUrl: string;
  token: () => Promise<string>;
  /** a fresh token after a 401 (getToken), or undefined when there is none */
  refreshToken?: () => Promise<string | undefined>;
  fetch?: typeof fetch;
}

const isBlob = (value: unknown): value is Blob => typeof Blob !== 'undefined' && value instanceof Blob;
const isStream = (value: unknown): value is ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> =>
  typeof value === 'object' && value !== null && (typeof (value as ReadableStream).getReader === 'function' || typeof (value as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function');

/** Whether `value` is something uploadMedia takes (used to tell a file from a message's extra). */
export function isMediaInput(value: unknown): value is MediaInput {
  return isBlob(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value) || isStream(value);
}

/** The http(s) origin of a ws(s) URL. */
export function httpOriginOf(wsUrl: string): string {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  return url.origin;
}

function bytesOf(input: ArrayBuffer | ArrayBufferView): Uint8Array {
  return input instanceof ArrayBuffer ? new Uint8Array(input) : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
}

/** Uploads `input` and resolves with where it can be read. Throws MediaUploadError (401, 413, 415, 403…). */
export async function uploadMedia(context: UploadContext, input: MediaInput, options: UploadOptions = {}): Promise<UploadedMedia> {
  const doFetch = context.fetch ?? globalThis.fetch;
  if (!doFetch) throw new MediaUploadError(0, 'no fetch: pass options.fetch');
  let size: number;
  let body: BodyInit | AsyncIterable<Uint8Array>;
  let contentType = options.contentType;
  let fileName = options.fileName;
  if (isBlob(input)) {
    size = input.size;
    contentType ??= input.type || undefined;
    fileName ??= typeof (input as File).name === 'string' && (input as File).name ? (input as File).name : undefined;
    body = input;
  } else if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    const bytes = bytesOf(input);
    size = bytes.byteLength;
    body = bytes as unknown as BodyInit;
  } else if (isStream(input)) {
    if (!Number.isSafeInteger(options.size) || (options.size as number) < 0) throw new MediaUploadError(400, 'uploadMedia: options.size (bytes) is required for a stream');
    size = options.size as number;
    body = input as BodyInit;
  } else {
    throw new MediaUploadError(400, 'uploadMedia: expected a File, Blob, bytes or a stream');
  }
  contentType ??= 'application/octet-stream';

  const ask = async (token: string) =>
    doFetch(`${context.httpUrl}/media/uploads`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content_type: contentType, size, ...(fileName !== undefined ? { file_name: fileName } : {}) }),
    });
  let answer = await ask(await context.token()).catch((error: Error) => {
    throw new MediaUploadError(0, `upload request failed: ${error.message}`);
  });
  if (answer.status === 401 && context.refreshToken) {
    const fresh = await context.refreshToken();
    if (fresh) answer = await ask(fresh);
  }
  if (answer.status !== 200) throw new MediaUploadError(answer.status, `upload refused: ${await errorText(answer)}`);
  const ticket = (await answer.json()) as UploadTicket;

  const init: RequestInit & { duplex?: 'half' } = { method: ticket.method, headers: ticket.headers, body: body as BodyInit };
  // a stream body needs half-duplex (fetch sends it chunked; S3 wants a length: give it bytes or a Blob)
  if (isStream(input)) init.duplex = 'half';
  const put = await doFetch(ticket.upload_url, init).catch((error: Error) => {
    throw new MediaUploadError(0, `upload failed: ${error.message}`);
  });
  if (put.status < 200 || put.status > 299) throw new MediaUploadError(put.status, `upload failed: ${await errorText(put)}`);
  return { url: ticket.url, key: ticket.key, size, contentType: ticket.headers['Content-Type'] ?? contentType, ...(fileName !== undefined ? { fileName } : {}) };
}

async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { msg?: unknown };
    if (typeof parsed.msg === 'string') return `${response.status} ${parsed.msg}`;
  } catch {
    // not JSON (S3 answers XML)
  }
  return `${response.status} ${text.slice(0, 200)}`;
}

/**
 * Width and height of a PNG, GIF, JPEG or WebP from its first bytes (no decoding), or undefined for
 * anything else. JPEG EXIF orientation is not applied: the size is the stored pixel grid's.
 */
export function imageSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const at = (i: number) => bytes[i] ?? 0;
  const u16be = (i: number) => (at(i) << 8) | at(i + 1);
  const u16le = (i: number) => at(i) | (at(i + 1) << 8);
  const u24le = (i: number) => at(i) | (at(i + 1) << 8) | (at(i + 2) << 16);
  const u32be = (i: number) => ((at(i) << 24) >>> 0) + ((at(i + 1) << 16) | (at(i + 2) << 8) | at(i + 3));
  const ascii = (i: number, text: string) => [...text].every((c, k) => at(i + k) === c.charCodeAt(0));
  if (ascii(1, 'PNG') && ascii(12, 'IHDR')) return { width: u32be(16), height: u32be(20) };
  if (ascii(0, 'GIF8')) return { width: u16le(6), height: u16le(8) };
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) {
    if (ascii(12, 'VP8 ')) return { width: u16le(26) & 0x3fff, height: u16le(28) & 0x3fff };
    if (ascii(12, 'VP8L')) {
      const bits = at(21) | (at(22) << 8) | (at(23) << 16) | (at(24) << 24);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (ascii(12, 'VP8X')) return { width: u24le(24) + 1, height: u24le(27) + 1 };
    return undefined;
  }
  if (at(0) === 0xff && at(1) === 0xd8) {
    let i = 2;
    while (i + 9 < bytes.length) {
      if (at(i) !== 0xff) return undefined;
      const marker = at(i + 1);
      if (marker === 0xff) {
        i++;
        continue;
      }
      // SOF0–SOF15 except DHT (C4), JPG (C8), DAC (CC)
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { width: u16be(i + 7), height: u16be(i + 5) };
      i += 2 + u16be(i + 2);
    }
  }
  return undefined;
}

/** The first bytes of an input whose bytes are at hand (Blob or bytes), for imageSize; undefined for streams. */
export async function headOf(input: MediaInput, length = 512 * 1024): Promise<Uint8Array | undefined> {
  if (isBlob(input)) return new Uint8Array(await input.slice(0, length).arrayBuffer());
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) return bytesOf(input).subarray(0, length);
  return undefined;
}

/** image/png, image/gif, image/webp or image/jpeg from the first bytes, else undefined. */
export function imageTypeOf(bytes: Uint8Array): string | undefined {
  const text = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (text(1, 4) === 'PNG') return 'image/png';
  if (text(0, 4) === 'GIF8') return 'image/gif';
  if (text(0, 4) === 'RIFF' && text(8, 12) === 'WEBP') return 'image/webp';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg';
  return undefined;
}

interface SendOptions {
  /** the message's content (optional for media types) */
  content?: string;
  /** more extra fields (e.g. reply_to) merged under the media fields */
  extra?: Record<string, unknown>;
}

/** sendImage(conversation, file, options): width/height are read from PNG, GIF, JPEG and WebP headers when not given. */
export interface ImageUploadOptions extends UploadOptions, SendOptions {
  width?: number;
  height?: number;
  /** 1 original (default), 2 compressed */
  isOriginal?: 1 | 2;
}
/** sendVoice(conversation, file, options): the duration in whole seconds (1–600) is the caller's. */
export interface VoiceUploadOptions extends UploadOptions, SendOptions {
  duration: number;
}
/** sendVideo(conversation, file, options): the caller gives the size, the length and a cover (an image file, uploaded too, or a URL). */
export interface VideoUploadOptions extends UploadOptions, SendOptions {
  width: number;
  height: number;
  videoTotalTime: number;
  cover: MediaInput | string;
  coverContentType?: string;
}
/** sendFile(conversation, file, options): file_name is options.fileName, a File's name, or "file". */
export interface FileUploadOptions extends UploadOptions, SendOptions {}
