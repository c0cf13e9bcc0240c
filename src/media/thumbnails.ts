import { HttpException, Injectable, Logger } from '@nestjs/common';
import { mkdir, rename, rm, stat } from 'fs/promises';
import { dirname } from 'path';
import sharp from 'sharp';
import { LocalMediaStore, StoredMedia } from './local-media.store';
import { isImageType, THUMB_SIZE } from './media-types';

/** Largest image (in pixels) a thumbnail is made of: a decompression bomb is refused, not decoded. */
const MAX_INPUT_PIXELS = 100_000_000;

/**
 * Thumbnails of stored images (GET /media/{key}?thumb=200): WebP fitting into 200×200, aspect kept,
 * never upscaled, EXIF orientation applied; made once with sharp (libvips) and cached on disk beside the
 * originals. Concurrent requests for the same thumbnail share one rendering.
 */
@Injectable()
export class Thumbnails {
  private readonly logger = new Logger('Thumbnails');
  private readonly rendering = new Map<string, Promise<string>>();

  constructor(private readonly store: LocalMediaStore) {}

  /** The path of the cached thumbnail of `media`, made now when missing. */
  async pathFor(media: StoredMedia, size = THUMB_SIZE): Promise<string> {
    if (!isImageType(media.content_type)) throw new HttpException(`thumbnails exist only for images (this file is ${media.content_type})`, 400);
    const path = this.store.thumbPath(media.key, size);
    if (await exists(path)) return path;
    let pending = this.rendering.get(path);
    if (!pending) {
      pending = this.render(media, size, path).finally(() => this.rendering.delete(path));
      this.rendering.set(path, pending);
    }
    return pending;
  }

  private async render(media: StoredMedia, size: number, path: string): Promise<string> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await sharp(this.store.pathOf(media.key), { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
        .rotate()
        .resize(size, size, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toFile(tmp);
      await rename(tmp, path);
      return path;
    } catch (error) {
      await rm(tmp, { force: true });
      this.logger.warn(`no thumbnail for ${media.key} (${media.content_type}): ${(error as Error).message}`);
      throw new HttpException(`cannot make a thumbnail of this ${media.content_type} file (not a decodable image)`, 415);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
