import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { MediaStorage, UploadRequest, UploadTicket } from './media-types';

/**
 * S3-compatible storage (S3_BUCKET set): the client PUTs straight to the bucket with a presigned URL
 * (AWS SDK v3 presigner, signature V4) whose signature covers Content-Type and Content-Length, so the
 * bucket refuses another type or size; nothing passes through this server. `url` is the object's URL:
 * path-style under S3_ENDPOINT when set (MinIO, Ceph, R2…), else the bucket's virtual-host URL on AWS.
 */
@Injectable()
export class S3MediaStore extends MediaStorage {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(private readonly config: AppConfig) {
    super();
    this.bucket = config.S3_BUCKET!;
    this.client = new S3Client({
      region: config.S3_REGION,
      ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT, forcePathStyle: true } : {}),
      ...(config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY } }
        : {}),
      // the default (a CRC32 of the request body in the URL) would sign the checksum of an empty body
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  }

  async createUpload(request: UploadRequest): Promise<UploadTicket> {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: request.key, ContentType: request.contentType, ContentLength: request.size });
    const expiresIn = Math.max(1, Math.round((request.expiresAt - Date.now()) / 1000));
    const uploadUrl = await getSignedUrl(this.client, command, { expiresIn, signableHeaders: new Set(['content-type', 'content-length']) });
    return {
      upload_url: uploadUrl,
      method: 'PUT',
      // Content-Length is signed too; every HTTP client sends it from the body (browsers may not set it by hand)
      headers: { 'Content-Type': request.contentType },
      url: this.objectUrl(request.key),
      expires_at: request.expiresAt,
      key: request.key,
    };
  }

  objectUrl(key: string): string {
    if (this.config.S3_ENDPOINT) return `${this.config.S3_ENDPOINT.replace(/\/+$/, '')}/${this.bucket}/${key}`;
    return `https://${this.bucket}.s3.${this.config.S3_REGION}.amazonaws.com/${key}`;
  }

  destroy(): void {
    this.client.destroy();
  }
}
