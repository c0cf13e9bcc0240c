import { Body, CanActivate, Controller, ExecutionContext, Get, HttpCode, Injectable, Param, Post, Put, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Request, Response } from 'express';
import { ImError } from '../common/im-error';
import { ApiBodyErrors, ApiError, ErrorDto } from '../openapi/api-errors';
import { ClientAuthenticator } from '../users/client-authenticator';
import { LocalMediaStore, UploadQuery } from './local-media.store';
import { MediaService } from './media.service';
import { StoredMediaDto, UploadRequestBody, UploadTicketDto } from './media.dto';
import { MEDIA_KEY, MediaStorage, THUMB_SIZE } from './media-types';
import { sendMedia } from './media-response';
import { Thumbnails } from './thumbnails';

/** `Authorization: Bearer <client token>` of an enabled user (the token of the WebSocket). */
@Injectable()
export class ClientTokenGuard implements CanActivate {
  constructor(private readonly authenticator: ClientAuthenticator) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !(await this.authenticator.authenticateToken(match[1]))) throw ImError.unauthorized('client bearer token required (Authorization: Bearer <token>)');
    return true;
  }
}

const KEY_PARAM = { name: 'key', description: 'the key POST /media/uploads generated (32 characters of A-Z a-z 0-9 _ -)', example: 'Vb2nq1bGfYw0m6rQ2m3y8xXn8i3mQ8zP' };
const err = (status: number, description: string, msg: string) => ApiResponse({ status, description, type: ErrorDto, example: { code: status, msg } });

/** Media (PROTOCOL §10): upload tickets, the signed PUT of local storage, reading files and thumbnails. */
@ApiTags('media')
@ApiBodyErrors()
@Controller('media')
export class MediaController {
  constructor(
    private readonly media: MediaService,
    private readonly storage: MediaStorage,
    private readonly local: LocalMediaStore,
    private readonly thumbnails: Thumbnails,
  ) {}

  @Post('uploads')
  @HttpCode(200)
  @UseGuards(ClientTokenGuard)
  @ApiOperation({ summary: 'ask where to upload a file (client token); the answer holds the signed upload URL and the URL to send', security: [{ client: [] }] })
  @ApiBody({ type: UploadRequestBody })
  @ApiOkResponse({ type: UploadTicketDto })
  @err(400, 'bad body; msg names the field', 'size must be a non-negative integer (bytes)')
  @ApiError(401, 'no or bad client token')
  @err(413, 'size is over MEDIA_MAX_BYTES (or the JSON body over ADMIN_BODY_MAX_BYTES)', 'size must be at most 104857600 bytes (MEDIA_MAX_BYTES)')
  @err(415, 'content_type is not image/*, audio/*, video/* or application/* (or the body is not JSON)', 'content_type text/html is not accepted: only image/*, audio/*, video/* and application/*')
  @ApiError(500)
  async requestUpload(@Body() body: Record<string, unknown>): Promise<UploadTicketDto> {
    return this.media.requestUpload(body);
  }

  @Put(':key')
  @ApiOperation({ summary: 'local storage: upload the bytes to the signed upload_url (once per key)', security: [] })
  @ApiParam(KEY_PARAM)
  @ApiQuery({ name: 'sig', description: 'signature over key, size, type and expires (with size, type, expires: copy upload_url as given)' })
  @ApiConsumes('*/*')
  @ApiHeader({ name: 'Content-Type', required: true, description: 'exactly the content_type announced' })
  @ApiBody({ description: 'the file\'s bytes, exactly `size` of them', required: true, schema: { type: 'string', format: 'binary' } })
  @ApiOkResponse({ type: StoredMediaDto, description: 'stored; GET url serves it from now on' })
  @err(400, 'the body is shorter than announced, or was cut off', 'request body has 1000 bytes, shorter than the announced size 245760')
  @err(404, 'not a media key, or S3 storage is configured (upload to the bucket)', 'no such upload')
  @err(403, 'forged, incomplete or expired upload URL', 'upload URL signature is not valid')
  @err(409, 'the key is already stored (an upload URL is used once)', 'this upload URL was already used: the file is stored')
  @err(413, 'the body (or Content-Length) is longer than announced', 'request body is longer than the announced size 245760')
  @err(415, 'Content-Type differs from the announced content_type', 'Content-Type must be image/jpeg as announced (got "image/png")')
  @ApiError(500)
  async upload(@Param('key') key: string, @Query() query: UploadQuery, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<StoredMediaDto> {
    if (this.storage.kind !== 'local') throw ImError.notFound('uploads go to the S3 bucket (use the upload_url of POST /media/uploads)');
    try {
      const stored = await this.local.receive(key, query, req);
      return { url: this.local.objectUrl(key), key, size: stored.size, content_type: stored.content_type, etag: stored.sha256 };
    } catch (error) {
      // the rest of a refused body is not worth reading: close the connection after the answer
      if (!req.complete) res.setHeader('Connection', 'close');
      throw error;
    }
  }

  @Get(':key')
  @ApiOperation({ summary: 'read a file (public; Range, ETag/If-None-Match, immutable caching); ?thumb=200 an image\'s thumbnail', security: [] })
  @ApiParam(KEY_PARAM)
  @ApiQuery({ name: 'thumb', required: false, description: `images: a WebP thumbnail fitting into ${THUMB_SIZE}×${THUMB_SIZE}, never upscaled (only ${THUMB_SIZE})`, schema: { type: 'integer', enum: [THUMB_SIZE] } })
  @ApiQuery({ name: 'attname', required: false, description: 'download name: answers with Content-Disposition: attachment' })
  @ApiHeader({ name: 'Range', required: false, description: 'one byte range, e.g. bytes=0-1023' })
  @ApiOkResponse({ description: 'the bytes, with their Content-Type (as uploaded; image/webp for a thumbnail) and ETag', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } })
  @ApiResponse({ status: 206, description: 'the requested range (Content-Range)', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } })
  @ApiResponse({ status: 302, description: 'S3 storage: redirect to the object\'s URL' })
  @ApiResponse({ status: 304, description: 'If-None-Match matched the ETag' })
  @err(400, 'thumb is not 200, or the file is not an image', 'thumb must be 200')
  @err(404, 'no such file', 'no such media')
  @err(416, 'the range is outside the file (Content-Range: bytes */size)', 'range not satisfiable')
  @ApiError(500)
  async read(@Param('key') key: string, @Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (this.storage.kind !== 'local') {
      if (!MEDIA_KEY.test(key)) throw ImError.notFound('no such media');
      return void res.redirect(302, this.storage.objectUrl(key));
    }
    const media = await this.local.find(key);
    if (!media) throw ImError.notFound('no such media');
    const attname = typeof query.attname === 'string' && query.attname !== '' ? query.attname : undefined;
    if (query.thumb === undefined) {
      return sendMedia(req, res, this.local.pathOf(key), { contentType: media.content_type, etag: media.sha256, downloadName: attname ?? media.file_name, attachment: attname !== undefined });
    }
    if (query.thumb !== String(THUMB_SIZE)) throw ImError.badRequest(`thumb must be ${THUMB_SIZE}`);
    const path = await this.thumbnails.pathFor(media, THUMB_SIZE);
    return sendMedia(req, res, path, { contentType: 'image/webp', etag: `${media.sha256}-t${THUMB_SIZE}` });
  }
}

