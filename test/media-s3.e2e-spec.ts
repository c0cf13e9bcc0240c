import { mkdtempSync, rmSync } from 'fs';
import { Server } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';
import S3rver from 's3rver';
import { Readable } from 'stream';
import { MediaUploadError } from '../packages/client/src';
import { requestUpload } from './support/media';
import { sdkClient } from './support/sdk';
import { startVerifyingS3Proxy } from './support/s3-verifier';
import { startTestServer, TestServer } from './support/server';
import { dataOf } from './support/ws-client';

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * S3-compatible storage (S3_BUCKET set): the ticket is a presigned PUT of the AWS SDK v3, the bytes go
 * straight to the bucket, `url` is the object's path-style URL under S3_ENDPOINT. The bucket is s3rver
 * (an S3 emulator from npm) behind a proxy that checks signatures with the SDK's SignatureV4.
 */
describe('media: S3-compatible storage', () => {
  let t: TestServer;
  let dir: string;
  let s3: S3rver;
  let proxy: { server: Server; port: number; refused: string[] };
  let token: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'im-s3-'));
    s3 = new S3rver({ port: 0, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: 'im-media', configs: [] }] });
    const { port } = await s3.run();
    proxy = await startVerifyingS3Proxy({ port }, CREDENTIALS, 'eu-west-1');
    t = await startTestServer({
      S3_BUCKET: 'im-media',
      S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
      S3_REGION: 'eu-west-1',
      S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    });
    token = (await t.admin.ensureUserToken('alice')).token;
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => proxy?.server.close(resolve));
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('presigned PUT straight to the bucket; url is the object; the bucket serves it; an image message keeps THUMB_URL_TEMPLATE', async () => {
    const bytes = Buffer.from('fake jpeg bytes for the bucket');
    const { status, body: ticket } = await requestUpload(t.baseUrl, token, { content_type: 'image/jpeg', size: bytes.length });
    expect(status).toBe(200);
    const endpoint = `http://127.0.0.1:${proxy.port}`;
    expect(ticket).toMatchObject({ method: 'PUT', headers: { 'Content-Type': 'image/jpeg' }, url: `${endpoint}/im-media/${ticket.key}` });
    const signed = new URL(ticket.upload_url);
    expect(`${signed.origin}${signed.pathname}`).toBe(ticket.url);
    expect(signed.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    expect(Number(signed.searchParams.get('X-Amz-Expires'))).toBeGreaterThan(14 * 60);
    expect(signed.searchParams.has('x-amz-checksum-crc32')).toBe(false);

    const put = await fetch(ticket.upload_url, { method: 'PUT', headers: ticket.headers, body: bytes });
    expect(put.status).toBe(200);
    expect(proxy.refused).toEqual([]);
    const get = await fetch(ticket.url);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);

    // the server's own /media/{key} sends readers to the bucket (so a file message's default download_url works)
    const redirect = await fetch(`${t.baseUrl}/media/${ticket.key}`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([302, ticket.url]);

    const alice = await t.connect('alice');
    await t.admin.ensureUserToken('bob');
    const reply = await alice.request('chat', { app_user_ids: 'bob', type: 3, extra: { url: ticket.url, width: 640, height: 480, is_original: 2 } });
    expect(dataOf(reply).extra.thumb_url).toBe(`${ticket.url}?imageView2/2/w/200/h/200`);
  });

  it('the signature binds type and size: another Content-Type, a longer or shorter body, a forged signature are refused by the bucket', async () => {
    const { body: ticket } = await requestUpload(t.baseUrl, token, { content_type: 'application/pdf', size: 100 });
    const attempts: Array<[string, RequestInit, string?]> = [
      ['another type', { headers: { 'Content-Type': 'image/png' }, body: Buffer.alloc(100) }],
      ['longer', { headers: ticket.headers, body: Buffer.alloc(101) }],
      ['shorter', { headers: ticket.headers, body: Buffer.alloc(99) }],
      ['forged', { headers: ticket.headers, body: Buffer.alloc(100) }, ticket.upload_url.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000')],
    ];
    for (const [what, init, url] of attempts) {
      const response = await fetch(url ?? ticket.upload_url, { method: 'PUT', ...init });
      expect({ what, status: response.status }).toEqual({ what, status: 403 });
    }
    expect(proxy.refused).toHaveLength(4);
    expect((await fetch(ticket.url)).status).toBe(404);
    expect((await fetch(ticket.upload_url, { method: 'PUT', headers: ticket.headers, body: Buffer.alloc(100) })).status).toBe(200);
  });

  it('the SDK uploads bytes and Blobs to the bucket; a stream (sent chunked, without a length) is refused by it', async () => {
    const { client } = await sdkClient(t, 'alice', { connect: false });
    const blob = await client.uploadMedia(new Blob([Buffer.from('blob bytes')], { type: 'audio/mpeg' }));
    expect(blob.url).toBe(`http://127.0.0.1:${proxy.port}/im-media/${blob.key}`);
    const bytes = await client.uploadMedia(Buffer.from('buffer bytes'), { contentType: 'application/zip' });
    for (const [media, body, type] of [[blob, 'blob bytes', 'audio/mpeg'], [bytes, 'buffer bytes', 'application/zip']] as const) {
      const answer = await fetch(media.url);
      expect([answer.status, answer.headers.get('content-type'), await answer.text()]).toEqual([200, type, body]);
    }
    const refused = await client.uploadMedia(Readable.from([Buffer.from('streamed')]), { size: 8, contentType: 'video/mp4' }).catch((error) => error);
    expect(refused).toBeInstanceOf(MediaUploadError);
    expect(refused.status).toBe(403);
    client.close();
  });

  it('there is no local PUT when S3 is configured; refusals of the ticket are the same as with local storage', async () => {
    const put = await fetch(`${t.baseUrl}/media/${'C'.repeat(32)}?sig=x`, { method: 'PUT', headers: { 'Content-Type': 'image/png' }, body: 'x' });
    expect(put.status).toBe(404);
    expect((await requestUpload(t.baseUrl, token, { content_type: 'text/html', size: 1 })).status).toBe(415);
    expect((await requestUpload(t.baseUrl, token, { content_type: 'image/png', size: 104857601 })).status).toBe(413);
    expect((await requestUpload(t.baseUrl, undefined, { content_type: 'image/png', size: 1 })).status).toBe(401);
  });
});
