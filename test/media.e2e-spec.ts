import { createHash, createHmac } from 'crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { rawRequest, requestUpload, upload } from './support/media';
import { startTestServer, TestServer } from './support/server';
import { dataOf } from './support/ws-client';

/**
 * Media, local storage (PROTOCOL §10) on the real server: upload tickets with a client token, the signed
 * PUT and every way it refuses, reading with Range/ETag, thumbnails made by sharp, thumb_url of images
 * sent with a local URL, and keys that cannot reach outside MEDIA_DIR.
 */
describe('media: local storage', () => {
  let t: TestServer;
  let dir: string;
  let token: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'im-media-'));
    // what a crash left behind: an upload's temporary file from two hours ago, and one from just now
    mkdirSync(join(dir, 'tmp'));
    writeFileSync(join(dir, 'tmp', 'stale'), 'x');
    utimesSync(join(dir, 'tmp', 'stale'), new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
    writeFileSync(join(dir, 'tmp', 'recent'), 'x');
    t = await startTestServer({ MEDIA_DIR: dir, MEDIA_MAX_BYTES: String(10 * 1024 * 1024) });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await t.reset();
    token = (await t.admin.ensureUserToken('alice')).token;
  });

  const png = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#3a7' } }).png().toBuffer();

  /** A signature made with the server's own media secret (for an URL the server would have issued, e.g. one already expired). */
  async function signedUrl(key: string, size: number, type: string, expires: number): Promise<string> {
    const [{ value }] = await t.sql<{ value: string }>(`SELECT value FROM server_settings WHERE key = 'media_secret'`);
    const sig = createHmac('sha256', value).update(`${key}\n${size}\n${type}\n${expires}\n`).digest('base64url');
    return `${t.baseUrl}/media/${key}?${new URLSearchParams({ size: String(size), type, expires: String(expires), sig })}`;
  }

  it('a start removes temporary files older than an hour (uploads a crash interrupted), not recent ones', () => {
    expect(readdirSync(join(dir, 'tmp'))).toEqual(['recent']);
    rmSync(join(dir, 'tmp', 'recent'));
  });

  it('upload → send an image → the recipient fetches its thumbnail, fitted into 200×200 (sharp), cached on disk', async () => {
    const image = await png(1200, 800);
    const ticket = await upload(t.baseUrl, token, image, 'image/png', 'beach.png');
    expect(ticket).toMatchObject({ method: 'PUT', headers: { 'Content-Type': 'image/png' }, url: `${t.baseUrl.replace('127.0.0.1', 'localhost')}/media/${ticket.key}` });
    expect(ticket.expires_at).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(ticket.expires_at).toBeLessThanOrEqual(Date.now() + 15 * 60_000);

    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    const reply = await alice.request('chat', { app_user_ids: 'bob', type: 3, extra: { url: ticket.url, width: 1200, height: 800, is_original: 1 } });
    expect(reply.code).toBe(200);
    const push = await bob.push('chat');
    const extra = dataOf(push).extra;
    expect(extra).toMatchObject({ url: ticket.url, thumb_url: `${ticket.url}?thumb=200`, thumbWidth: 200, thumbHeight: 133 });

    const thumb = await fetch(extra.thumb_url);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'webp', width: extra.thumbWidth, height: extra.thumbHeight });
    expect(readdirSync(join(dir, 'thumbs', ticket.key.slice(0, 2)))).toEqual([`${ticket.key}.200.webp`]);
    const again = await fetch(extra.thumb_url);
    expect(Buffer.from(await again.arrayBuffer()).length).toBe(Number(thumb.headers.get('content-length')));

    // the original, byte for byte, with its type, a strong ETag (SHA-256) and immutable caching
    const original = await fetch(ticket.url);
    expect(original.status).toBe(200);
    expect(Buffer.from(await original.arrayBuffer()).equals(image)).toBe(true);
    expect(original.headers.get('content-type')).toBe('image/png');
    expect(original.headers.get('etag')).toBe(`"${createHash('sha256').update(image).digest('hex')}"`);
    expect(original.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(original.headers.get('x-content-type-options')).toBe('nosniff');
    expect(original.headers.get('content-disposition')).toBe(`inline; filename="beach.png"; filename*=UTF-8''beach.png`);
  });

  it('a small image is never upscaled; an image elsewhere gets THUMB_URL_TEMPLATE', async () => {
    const ticket = await upload(t.baseUrl, token, await png(150, 90), 'image/png');
    const alice = await t.connect('alice');
    await t.admin.ensureUserToken('bob');
    const local = await alice.request('chat', { app_user_ids: 'bob', type: 3, extra: { url: ticket.url, width: 150, height: 90, is_original: 2 } });
    expect(dataOf(local).extra).toMatchObject({ thumb_url: `${ticket.url}?thumb=200`, thumbWidth: 150, thumbHeight: 90 });
    const meta = await sharp(Buffer.from(await (await fetch(`${ticket.url}?thumb=200`)).arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([150, 90]);

    const remote = await alice.request('chat', { app_user_ids: 'bob', type: 3, extra: { url: 'https://cdn.example.com/x.jpg', width: 10, height: 10, is_original: 2 } });
    expect(dataOf(remote).extra.thumb_url).toBe('https://cdn.example.com/x.jpg?imageView2/2/w/200/h/200');
    // a URL under the media base whose path is no key is not ours either
    const odd = await alice.request('chat', { app_user_ids: 'bob', type: 3, extra: { url: `${ticket.url}/../x`, width: 10, height: 10, is_original: 2 } });
    expect(dataOf(odd).extra.thumb_url).toBe(`${ticket.url}/../x?imageView2/2/w/200/h/200`);
  });

  it('a file message with etag = the key gets a download_url that serves the file as an attachment', async () => {
    const pdf = Buffer.from('%PDF-1.4 not really a pdf');
    const ticket = await upload(t.baseUrl, token, pdf, 'application/pdf', 'report.pdf');
    const alice = await t.connect('alice');
    await t.admin.ensureUserToken('bob');
    const reply = await alice.request('chat', { app_user_ids: 'bob', type: 8, extra: { file_name: 'Q3 report €.pdf', file_size: pdf.length, etag: ticket.key } });
    const downloadUrl = dataOf(reply).extra.download_url;
    expect(downloadUrl).toBe(`${ticket.url}?attname=${encodeURIComponent('Q3 report €.pdf')}`);
    const download = await fetch(downloadUrl);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="Q3 report _.pdf"; filename*=UTF-8''${encodeURIComponent('Q3 report €.pdf')}`);
    expect(Buffer.from(await download.arrayBuffer()).equals(pdf)).toBe(true);
    // not an image: no thumbnail
    expect(await (await fetch(`${ticket.url}?thumb=200`)).json()).toEqual({ code: 400, msg: 'thumbnails exist only for images (this file is application/pdf)' });
  });

  it('POST /media/uploads refuses: 401 without or with a bad token, 413 over MEDIA_MAX_BYTES, 415 other types, 400 naming the field', async () => {
    const ok = { content_type: 'image/jpeg', size: 10 };
    expect(await requestUpload(t.baseUrl, undefined, ok)).toEqual({ status: 401, body: { code: 401, msg: expect.stringMatching(/client bearer token/) } });
    expect((await requestUpload(t.baseUrl, 'not-a-token', ok)).status).toBe(401);
    // the admin token is not a client token
    expect((await requestUpload(t.baseUrl, 'test-admin-token-0123456789', ok)).status).toBe(401);
    await t.admin.call('POST', '/admin/users/alice/disable');
    expect((await requestUpload(t.baseUrl, token, ok)).status).toBe(401);
    await t.admin.call('POST', '/admin/users/alice/enable');

    expect(await requestUpload(t.baseUrl, token, { content_type: 'video/mp4', size: 10 * 1024 * 1024 + 1 })).toEqual({
      status: 413,
      body: { code: 413, msg: `size must be at most ${10 * 1024 * 1024} bytes (MEDIA_MAX_BYTES)` },
    });
    for (const type of ['text/html', 'text/plain', 'multipart/form-data', 'font/woff2']) {
      expect(await requestUpload(t.baseUrl, token, { content_type: type, size: 1 })).toEqual({ status: 415, body: { code: 415, msg: expect.stringContaining(`content_type ${type} is not accepted`) } });
    }
    const bad: Array<[unknown, RegExp]> = [
      [{ size: 1 }, /^content_type must be/],
      [{ content_type: 7, size: 1 }, /^content_type must be/],
      [{ content_type: 'jpeg', size: 1 }, /^content_type must be a media type/],
      [{ content_type: 'image/png' }, /^size must be/],
      [{ content_type: 'image/png', size: '12' }, /^size must be/],
      [{ content_type: 'image/png', size: -1 }, /^size must be/],
      [{ content_type: 'image/png', size: 1.5 }, /^size must be/],
      [{ content_type: 'image/png', size: 1, file_name: '' }, /^file_name must be/],
      [{ content_type: 'image/png', size: 1, file_name: 'x'.repeat(256) }, /^file_name must be/],
      [{ content_type: 'image/png', size: 1, file_name: 'a\nb' }, /^file_name must be/],
    ];
    for (const [body, msg] of bad) {
      expect({ body, answer: await requestUpload(t.baseUrl, token, body) }).toEqual({ body, answer: { status: 400, body: { code: 400, msg: expect.stringMatching(msg) } } });
    }
    // parameters are dropped: the ticket is for the type itself
    const withParams = await requestUpload(t.baseUrl, token, { content_type: 'Audio/OGG; codecs=opus', size: 3 });
    expect(withParams.body.headers).toEqual({ 'Content-Type': 'audio/ogg' });
  });

  it('the signed PUT refuses a body longer or shorter than announced, another Content-Type, an expired or forged signature, a second upload', async () => {
    const bytes = Buffer.alloc(1000, 7);
    const ticket = (await requestUpload(t.baseUrl, token, { content_type: 'application/octet-stream', size: 1000 })).body;
    const put = (headers: Record<string, string | number>, body: Buffer | Buffer[], url = ticket.upload_url) => rawRequest(url, { method: 'PUT', headers, body });
    const type = { 'content-type': 'application/octet-stream' };
    const json = (r: { body: Buffer }) => JSON.parse(r.body.toString());

    expect(json(await put({ ...type, 'content-length': 1001 }, Buffer.alloc(1001)))).toEqual({ code: 413, msg: 'Content-Length 1001 differs from the announced size 1000' });
    expect(json(await put({ ...type, 'content-length': 999 }, Buffer.alloc(999)))).toEqual({ code: 400, msg: 'Content-Length 999 differs from the announced size 1000' });
    // chunked (no Content-Length): counted while streaming
    expect(json(await put({ ...type, 'transfer-encoding': 'chunked' }, [Buffer.alloc(600), Buffer.alloc(600)]))).toEqual({ code: 413, msg: 'request body is longer than the announced size 1000' });
    expect(json(await put({ ...type, 'transfer-encoding': 'chunked' }, [Buffer.alloc(600)]))).toEqual({ code: 400, msg: 'request body has 600 bytes, shorter than the announced size 1000' });
    expect(json(await put({ 'content-type': 'image/png', 'content-length': 1000 }, bytes))).toEqual({ code: 415, msg: 'Content-Type must be application/octet-stream as announced (got "image/png")' });
    expect((await put({ 'content-length': 1000 }, bytes)).status).toBe(415);

    const url = new URL(ticket.upload_url);
    const forged = new URL(url);
    forged.searchParams.set('sig', `${url.searchParams.get('sig')!.slice(0, -2)}AA`);
    expect(json(await put({ ...type, 'content-length': 1000 }, bytes, forged.toString()))).toEqual({ code: 403, msg: 'upload URL signature is not valid' });
    const bigger = new URL(url);
    bigger.searchParams.set('size', '2000');
    expect((await put({ ...type, 'content-length': 2000 }, Buffer.alloc(2000), bigger.toString())).status).toBe(403);
    const renamed = new URL(url);
    renamed.searchParams.set('name', 'evil.html');
    expect((await put({ ...type, 'content-length': 1000 }, bytes, renamed.toString())).status).toBe(403);
    const otherType = new URL(url);
    otherType.searchParams.set('type', 'image/png');
    expect((await put({ 'content-type': 'image/png', 'content-length': 1000 }, bytes, otherType.toString())).status).toBe(403);
    const unsigned = new URL(url);
    unsigned.searchParams.delete('sig');
    expect(json(await put({ ...type, 'content-length': 1000 }, bytes, unsigned.toString()))).toEqual({ code: 403, msg: expect.stringMatching(/^upload URL is incomplete/) });
    // another key with this key's signature
    const otherKey = ticket.upload_url.replace(ticket.key, 'A'.repeat(32));
    expect((await put({ ...type, 'content-length': 1000 }, bytes, otherKey)).status).toBe(403);
    const expired = await signedUrl(ticket.key, 1000, 'application/octet-stream', Date.now() - 1);
    expect(json(await put({ ...type, 'content-length': 1000 }, bytes, expired))).toEqual({ code: 403, msg: expect.stringMatching(/^upload URL has expired/) });

    // nothing of the refused bodies was kept
    expect((await fetch(ticket.url)).status).toBe(404);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);

    const stored = await put({ ...type, 'content-length': 1000 }, bytes);
    expect(json(stored)).toEqual({ url: ticket.url, key: ticket.key, size: 1000, content_type: 'application/octet-stream', etag: createHash('sha256').update(bytes).digest('hex') });
    expect(json(await put({ ...type, 'content-length': 1000 }, Buffer.alloc(1000, 9)))).toEqual({ code: 409, msg: 'this upload URL was already used: the file is stored' });
    expect(Buffer.from(await (await fetch(ticket.url)).arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('a body cut off mid-way stores nothing and leaves no temporary file; the URL still works afterwards', async () => {
    const bytes = Buffer.alloc(64 * 1024, 1);
    const ticket = (await requestUpload(t.baseUrl, token, { content_type: 'video/mp4', size: bytes.length })).body;
    await rawRequest(ticket.upload_url, { method: 'PUT', headers: { 'content-type': 'video/mp4', 'content-length': bytes.length }, body: bytes, abortAfter: 20_000 }).catch(() => undefined);
    // the server notices the reset and removes its temporary file
    for (let i = 0; i < 50 && readdirSync(join(dir, 'tmp')).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect((await fetch(ticket.url)).status).toBe(404);
    const retry = await fetch(ticket.upload_url, { method: 'PUT', headers: ticket.headers, body: bytes });
    expect(retry.status).toBe(200);
  });

  it('GET serves Range requests (206, suffix, 416), If-None-Match (304), HEAD; unknown keys are 404', async () => {
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const ticket = await upload(t.baseUrl, token, bytes, 'audio/mpeg');
    const range = await rawRequest(ticket.url, { headers: { range: 'bytes=100-199' } });
    expect(range.status).toBe(206);
    expect(range.headers['content-range']).toBe('bytes 100-199/5000');
    expect(range.headers['content-type']).toBe('audio/mpeg');
    expect(range.body.equals(bytes.subarray(100, 200))).toBe(true);
    const suffix = await rawRequest(ticket.url, { headers: { range: 'bytes=-10' } });
    expect([suffix.status, suffix.headers['content-range']]).toEqual([206, 'bytes 4990-4999/5000']);
    expect(suffix.body.equals(bytes.subarray(4990))).toBe(true);
    const outside = await rawRequest(ticket.url, { headers: { range: 'bytes=5000-6000' } });
    expect([outside.status, outside.headers['content-range'], JSON.parse(outside.body.toString())]).toEqual([416, 'bytes */5000', { code: 416, msg: 'range not satisfiable' }]);

    const full = await rawRequest(ticket.url);
    expect([full.status, full.headers['accept-ranges'], full.body.length]).toEqual([200, 'bytes', 5000]);
    const etag = full.headers.etag!;
    const notModified = await rawRequest(ticket.url, { headers: { 'if-none-match': etag } });
    expect([notModified.status, notModified.body.length]).toEqual([304, 0]);
    expect((await rawRequest(ticket.url, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    // If-Range with a stale validator: the whole file
    const stale = await rawRequest(ticket.url, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
    expect([stale.status, stale.body.length]).toEqual([200, 5000]);
    const head = await rawRequest(ticket.url, { method: 'HEAD' });
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '5000', 0]);

    expect(await (await fetch(`${t.baseUrl}/media/${'B'.repeat(32)}`)).json()).toEqual({ code: 404, msg: 'no such media' });
    expect((await fetch(`${ticket.url}?thumb=100`)).status).toBe(400);
  });

  it('a stored "image" that is not one gets 415 for its thumbnail', async () => {
    const ticket = await upload(t.baseUrl, token, Buffer.from('this is no png'), 'image/png');
    expect(await (await fetch(`${ticket.url}?thumb=200`)).json()).toEqual({ code: 415, msg: 'cannot make a thumbnail of this image/png file (not a decodable image)' });
  });

  it('keys are the server\'s: path traversal reaches nothing outside MEDIA_DIR, a key in the request body is ignored', async () => {
    const ticket = (await requestUpload(t.baseUrl, token, { content_type: 'image/png', size: 4, key: '../../etc/passwd', file_name: '../../x' })).body;
    expect(ticket.key).toMatch(/^[A-Za-z0-9_-]{32}$/);
    for (const path of ['..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..', '.%2e', '../../etc/passwd', 'objects', `${ticket.key.slice(0, 2)}%2F${ticket.key}`, `${ticket.key}.json`, `%2e%2e%2fobjects%2f${ticket.key.slice(0, 2)}%2f${ticket.key}.json`]) {
      const get = await rawRequest(t.baseUrl, { rawPath: `/media/${path}` });
      expect({ path, status: get.status, body: JSON.parse(get.body.toString()) }).toEqual({ path, status: 404, body: { code: 404, msg: expect.stringMatching(/^no such media|^Cannot GET/) } });
      const put = await rawRequest(t.baseUrl, {
        rawPath: `/media/${path}?${new URL(ticket.upload_url).searchParams}`,
        method: 'PUT',
        headers: { 'content-type': 'image/png', 'content-length': 4 },
        body: Buffer.from('abcd'),
      });
      expect({ path, status: put.status }).toEqual({ path, status: 404 });
    }
    expect(existsSync(join(dir, '..', 'x'))).toBe(false);
  });

  it('answers CORS preflights for a web app on another origin', async () => {
    const preflight = await rawRequest(`${t.baseUrl}/media/uploads`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers).toMatchObject({ 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, HEAD, PUT, POST', 'access-control-allow-headers': 'Authorization, Content-Type, Range, If-None-Match' });
  });
});
