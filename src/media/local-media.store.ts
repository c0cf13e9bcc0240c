import { HttpException, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { createHash } from 'crypto';
import { createWriteStream } from 'fs';
import { link, mkdir, readdir, readFile, rm, stat, writeFile } from 'fs/promises';
import { IncomingMessage } from 'http';
import { join, resolve } from 'path';
import { Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { AppConfig } from '../config/app-config';
import { ImError } from '../common/im-error';
import { MediaSigner } from './media-signer';
import { MEDIA_KEY, MediaStorage, mediaTypeEssence, UploadRequest, UploadTicket } from './media-types';

const STALE_TMP_MS = 60 * 60 * 1000;

/** What is kept beside each stored file (`<key>.json`). */
export interface StoredMedia {
  key: string;
  content_type: string;
  size: number;
  /** hex SHA-256 of the bytes; the HTTP ETag */
  sha256: string;
  file_name?: string;
  created_at: number;
}

/** The query of a signed upload URL. */
export interface UploadQuery {
  size?: string;
  type?: string;
  expires?: string;
  sig?: string;
  name?: string;
}

/**
 * Local media storage under MEDIA_DIR (the default): `objects/<2 chars>/<key>` with `<key>.json` beside
 * it, temporary files in `tmp/`, thumbnails in `thumbs/` (same file system, so a finished file appears
 * with one link). Keys come only from newMediaKey and are checked against MEDIA_KEY before any path is built.
 */
@Injectable()
export class LocalMediaStore extends MediaStorage implements OnModuleInit {
  readonly kind = 'local' as const;
  private readonly logger = new Logger('LocalMediaStore');
  readonly root: string;

  constructor(
    private readonly config: AppConfig,
    private readonly signer: MediaSigner,
  ) {
    super();
    this.root = resolve(config.MEDIA_DIR);
  }

  /**
   * Temporary files of uploads a crash interrupted: removed when older than an hour (no upload runs
   * that long: URLs last 15 minutes and Node ends a request after 5; other nodes may share MEDIA_DIR).
   */
  async onModuleInit(): Promise<void> {
    if (this.config.S3_BUCKET) return;
    const dir = join(this.root, 'tmp');
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(dir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > STALE_TMP_MS) await rm(path, { force: true });
    }
  }

  async createUpload(request: UploadRequest): Promise<UploadTicket> {
    const { key, size, contentType, expiresAt } = request;
    const sig = this.signer.sign(key, size, contentType, expiresAt, request.fileName);
    const query = new URLSearchParams({ size: String(size), type: contentType, expires: String(expiresAt), sig });
    if (request.fileName !== undefined) query.set('name', request.fileName);
    return { upload_url: `${this.objectUrl(key)}?${query}`, method: 'PUT', headers: { 'Content-Type': contentType }, url: this.objectUrl(key), expires_at: expiresAt, key };
  }

  objectUrl(key: string): string {
    return `${this.config.mediaBaseUrl}/${key}`;
  }

  /**
   * The signed PUT: checks the signature, expiry and Content-Type before reading a byte, then streams
   * the body to a temporary file (hashing it on the way), refuses it when it is longer or shorter than
   * signed, and publishes it with link(2), which fails when the key is already stored (409: a key is
   * written once; its URL may already be in messages and caches).
   */
  async receive(key: string, query: UploadQuery, req: IncomingMessage): Promise<StoredMedia> {
    const upload = this.checkSignedUpload(key, query, req);
    const announced = req.headers['content-length'];
    if (announced !== undefined && Number(announced) !== upload.size) {
      throw new HttpException(`Content-Length ${announced} differs from the announced size ${upload.size}`, Number(announced) > upload.size ? 413 : 400);
    }
    if (await this.find(key)) throw new HttpException('this upload URL was already used: the file is stored', 409);

    await mkdir(join(this.root, 'tmp'), { recursive: true });
    const tmp = join(this.root, 'tmp', `${key}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`);
    const hash = createHash('sha256');
    let received = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        if (received > upload.size) return done(new HttpException(`request body is longer than the announced size ${upload.size}`, 413));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(req, counter, createWriteStream(tmp, { flags: 'wx' }));
      if (received !== upload.size) throw new HttpException(`request body has ${received} bytes, shorter than the announced size ${upload.size}`, 400);
      const stored: StoredMedia = { key, content_type: upload.contentType, size: received, sha256: hash.digest('hex'), created_at: Date.now(), ...(upload.fileName ? { file_name: upload.fileName } : {}) };
      await this.publish(tmp, stored);
      return stored;
    } catch (error) {
      if (error instanceof HttpException) throw error;
      // the client went away mid-body (aborted, reset): nothing is stored
      if (req.destroyed || (error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as { code?: string }).code === 'ECONNRESET') {
        throw new HttpException(`request body ended after ${received} of ${upload.size} bytes`, 400);
      }
      throw error;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private checkSignedUpload(key: string, query: UploadQuery, req: IncomingMessage): UploadRequest {
    if (!MEDIA_KEY.test(key)) throw ImError.notFound('no such upload');
    const size = Number(query.size);
    const expiresAt = Number(query.expires);
    if (typeof query.sig !== 'string' || typeof query.type !== 'string' || !Number.isSafeInteger(size) || !Number.isSafeInteger(expiresAt)) {
      throw new HttpException('upload URL is incomplete: size, type, expires and sig are required (use the upload_url of POST /media/uploads)', 403);
    }
    const fileName = typeof query.name === 'string' && query.name !== '' ? query.name : undefined;
    if (!this.signer.verify(key, size, query.type, expiresAt, fileName, query.sig)) throw new HttpException('upload URL signature is not valid', 403);
    if (Date.now() > expiresAt) throw new HttpException('upload URL has expired (valid 15 minutes): ask POST /media/uploads for a new one', 403);
    const sent = mediaTypeEssence(req.headers['content-type'] ?? '');
    if (sent !== query.type) {
      throw new HttpException(`Content-Type must be ${query.type} as announced (got ${req.headers['content-type'] ? JSON.stringify(req.headers['content-type']) : 'none'})`, 415);
    }
    return { key, size, contentType: query.type, expiresAt, fileName };
  }

  /** Metadata first (claims the key: link fails with EEXIST), then the bytes: a file present is complete. */
  private async publish(tmp: string, stored: StoredMedia): Promise<void> {
    const dir = this.objectDir(stored.key);
    await mkdir(dir, { recursive: true });
    const metaTmp = `${tmp}.json`;
    await writeFile(metaTmp, JSON.stringify(stored), { flag: 'wx' });
    try {
      await link(metaTmp, join(dir, `${stored.key}.json`));
    } catch (error) {
      if ((error as { code?: string }).code === 'EEXIST') throw new HttpException('this upload URL was already used: the file is stored', 409);
      throw error;
    } finally {
      await rm(metaTmp, { force: true });
    }
    await link(tmp, this.pathOf(stored.key));
  }

  /** The stored file's metadata, or undefined when the key has no complete file (never uploaded, or not yet). */
  async find(key: string): Promise<StoredMedia | undefined> {
    if (!MEDIA_KEY.test(key)) return undefined;
    try {
      await stat(this.pathOf(key));
      return JSON.parse(await readFile(join(this.objectDir(key), `${key}.json`), 'utf8')) as StoredMedia;
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      this.logger.warn(`cannot read media ${key}: ${(error as Error).message}`);
      throw error;
    }
  }

  pathOf(key: string): string {
    if (!MEDIA_KEY.test(key)) throw ImError.notFound('no such media');
    return join(this.objectDir(key), key);
  }

  thumbPath(key: string, size: number): string {
    if (!MEDIA_KEY.test(key)) throw ImError.notFound('no such media');
    return join(this.root, 'thumbs', key.slice(0, 2), `${key}.${size}.webp`);
  }

  private objectDir(key: string): string {
    return join(this.root, 'objects', key.slice(0, 2));
  }
}

