import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class UploadRequestBody {
  @ApiProperty({ description: 'the file\'s media type: image/*, audio/*, video/* or application/* (others: 415); parameters are dropped', example: 'image/jpeg' })
  content_type: string;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'exact size in bytes; at most MEDIA_MAX_BYTES (larger: 413)', example: 245760 })
  size: number;

  @ApiPropertyOptional({ minLength: 1, maxLength: 255, description: 'the original file name (local storage: the default download name)', example: 'holiday.jpg' })
  file_name?: string;
}

export class UploadTicketDto {
  @ApiProperty({ description: 'where to send the bytes, within 15 minutes (signed)', example: 'http://localhost:3000/media/Vb2nq1bGfYw0m6rQ2m3y8xXn8i3mQ8zP?size=245760&type=image%2Fjpeg&expires=1764900000000&sig=…' })
  upload_url: string;

  @ApiProperty({ enum: ['PUT'], example: 'PUT' })
  method: string;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, description: 'headers to send with the bytes, exactly', example: { 'Content-Type': 'image/jpeg' } })
  headers: Record<string, string>;

  @ApiProperty({ description: 'where the file will be read: put it into extra.url, voice_url, video_url, cover_url or download_url', example: 'http://localhost:3000/media/Vb2nq1bGfYw0m6rQ2m3y8xXn8i3mQ8zP' })
  url: string;

  @ApiProperty({ type: 'integer', description: 'ms since the epoch after which upload_url is refused', example: 1764900000000 })
  expires_at: number;

  @ApiProperty({ description: 'the generated key (also usable as a file message\'s etag: the default download_url then serves the file)', example: 'Vb2nq1bGfYw0m6rQ2m3y8xXn8i3mQ8zP' })
  key: string;
}

export class StoredMediaDto {
  @ApiProperty({ example: 'http://localhost:3000/media/Vb2nq1bGfYw0m6rQ2m3y8xXn8i3mQ8zP' }) url: string;
  @ApiProperty({ example: 'Vb2nq1bGfYw0m6rQ2m3y8xXn8i3mQ8zP' }) key: string;
  @ApiProperty({ type: 'integer', example: 245760 }) size: number;
  @ApiProperty({ example: 'image/jpeg' }) content_type: string;
  @ApiProperty({ description: 'hex SHA-256 of the bytes; the ETag of GET', example: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' }) etag: string;
}
