import { HttpException, Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ImError } from '../common/im-error';
import { codePoints } from '../messaging/message-rules';
import { isAllowedMediaType, MediaStorage, mediaTypeEssence, newMediaKey, UploadTicket, UPLOAD_TTL_MS } from './media-types';

const UNSTORABLE = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Upload requests (PROTOCOL §10): the body's rules, then a new key and the storage's upload URL. */
@Injectable()
export class MediaService {
  constructor(
    private readonly storage: MediaStorage,
    private readonly config: AppConfig,
  ) {}

  /** `{content_type, size, file_name?}` → the upload ticket; 400 naming the field, 413 too large, 415 a refused type. */
  async requestUpload(body: Record<string, unknown>): Promise<UploadTicket> {
    const { content_type: rawType, size, file_name: fileName } = body;
    if (typeof rawType !== 'string') throw ImError.badRequest('content_type must be a string such as image/jpeg');
    const contentType = mediaTypeEssence(rawType);
    if (!contentType) throw ImError.badRequest('content_type must be a media type such as image/jpeg');
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw ImError.badRequest('size must be a non-negative integer (bytes)');
    if (fileName !== undefined && (typeof fileName !== 'string' || codePoints(fileName) < 1 || codePoints(fileName) > 255 || UNSTORABLE.test(fileName))) {
      throw ImError.badRequest('file_name must be a string of 1 to 255 characters without control characters');
    }
    if (!isAllowedMediaType(contentType)) throw new HttpException(`content_type ${contentType} is not accepted: only image/*, audio/*, video/* and application/*`, 415);
    if ((size as number) > this.config.MEDIA_MAX_BYTES) throw new HttpException(`size must be at most ${this.config.MEDIA_MAX_BYTES} bytes (MEDIA_MAX_BYTES)`, 413);
    return this.storage.createUpload({ key: newMediaKey(), contentType, size: size as number, fileName: fileName as string | undefined, expiresAt: Date.now() + UPLOAD_TTL_MS });
  }
}

