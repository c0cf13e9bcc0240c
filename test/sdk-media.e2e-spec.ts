import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { openAsBlob } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Readable } from 'stream';
import sharp from 'sharp';
import { imageSize, MediaUploadError } from '../packages/client/src';
import { sdkClient, until } from './support/sdk';
import { startTestServer, TestServer } from './support/server';

/**
 * The SDK's uploads against the real server: uploadMedia with bytes, Blobs (a file opened with
 * fs.openAsBlob) and Node streams, and the send helpers that upload then send; refusals surface as
 * MediaUploadError with the HTTP status; an expired token is refreshed once through getToken.
 */
describe('client SDK: media uploads', () => {
  let t: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'im-sdk-media-'));
    t = await startTestServer({ MEDIA_DIR: join(dir, 'media'), RATE_LIMIT_PER_SEC: '0' });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => t.reset());

  it('uploadMedia takes a Buffer, a Blob and a Node Readable (with size); each URL serves the bytes with their type', async () => {
    const { client } = await sdkClient(t, 'alice', { connect: false });
    const bytes = Buffer.from('hello media');
    const fromBuffer = await client.uploadMedia(bytes, { contentType: 'application/pdf', fileName: 'a.pdf' });
    expect(fromBuffer).toMatchObject({ size: bytes.length, contentType: 'application/pdf', fileName: 'a.pdf', url: expect.stringMatching(/\/media\/[A-Za-z0-9_-]{32}$/) });
    const fromBlob = await client.uploadMedia(new Blob([bytes], { type: 'audio/mpeg' }));
    const streamed = await client.uploadMedia(Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]), { size: bytes.length, contentType: 'video/mp4' });
    for (const [media, type] of [[fromBuffer, 'application/pdf'], [fromBlob, 'audio/mpeg'], [streamed, 'video/mp4']] as const) {
      const answer = await fetch(media.url);
      expect({ type: answer.headers.get('content-type'), same: Buffer.from(await answer.arrayBuffer()).equals(bytes) }).toEqual({ type, same: true });
    }
    await expect(client.uploadMedia(Readable.from([bytes]))).rejects.toThrow(/options.size/);
    client.close();
  });

  it('refusals are MediaUploadError with the status: 415, 413 (stream longer than said), 401 after getToken fails to help', async () => {
    const { client } = await sdkClient(t, 'alice', { connect: false });
    const refused = await client.uploadMedia(Buffer.from('<html>'), { contentType: 'text/html' }).catch((error) => error);
    expect(refused).toBeInstanceOf(MediaUploadError);
    expect([refused.status, refused.message]).toEqual([415, 'upload refused: 415 content_type text/html is not accepted: only image/*, audio/*, video/* and application/*']);
    const longer = await client.uploadMedia(Readable.from([Buffer.alloc(20)]), { size: 10 }).catch((error) => error);
    expect(longer.status).toBe(413);
    const { client: stale } = await sdkClient(t, 'alice', { token: 'expired-or-forged', connect: false });
    expect((await stale.uploadMedia(Buffer.from('x')).catch((error) => error)).status).toBe(401);
    client.close();
    stale.close();
  });

  it('a 401 is retried once with a fresh token from getToken', async () => {
    let calls = 0;
    const { client } = await sdkClient(t, 'alice', {
      connect: false,
      getToken: async () => (++calls === 1 ? 'not-a-token' : (await t.admin.ensureUserToken('alice')).token),
    });
    const media = await client.uploadMedia(Buffer.from('abc'), { contentType: 'application/octet-stream' });
    expect([calls, (await fetch(media.url)).status]).toEqual([2, 200]);
    client.close();
  });

  it('sendImage(file) reads width/height from the file, uploads, sends; the recipient gets the local thumbnail', async () => {
    const png = await sharp({ create: { width: 640, height: 960, channels: 4, background: '#123456' } }).png().toBuffer();
    expect(imageSize(png)).toEqual({ width: 640, height: 960 });
    const alice = await sdkClient(t, 'alice');
    const bob = await sdkClient(t, 'bob');
    const sent = await alice.client.sendImage({ user: 'bob' }, png);
    expect(sent.message.extra).toMatchObject({ width: 640, height: 960, is_original: 1, thumbWidth: 133, thumbHeight: 200 });
    await until(() => bob.messages.length === 1, 'bob gets the image');
    const extra = bob.messages[0].extra as Record<string, any>;
    expect(extra.thumb_url).toBe(`${extra.url}?thumb=200`);
    const thumb = await sharp(Buffer.from(await (await fetch(extra.thumb_url)).arrayBuffer())).metadata();
    expect([thumb.width, thumb.height]).toEqual([133, 200]);
    expect((await fetch(extra.url)).headers.get('content-type')).toBe('image/png');

    // an unreadable image needs its size from the caller
    await expect(alice.client.sendImage({ user: 'bob' }, Buffer.from('not an image'))).rejects.toThrow(/width and height/);
    const given = await alice.client.sendImage({ user: 'bob' }, Buffer.from('raw'), { width: 10, height: 20, contentType: 'image/x-raw', isOriginal: 2 });
    expect(given.message.extra).toMatchObject({ width: 10, height: 20, is_original: 2 });
    alice.client.close();
    bob.client.close();
  });

  it('sendFile (a file opened as a Blob), sendVoice (a stream) and sendVideo (with a cover file) upload then send', async () => {
    const alice = await sdkClient(t, 'alice');
    await t.admin.ensureUserToken('bob');
    const path = join(dir, 'notes.pdf');
    writeFileSync(path, Buffer.alloc(3000, 0x41));
    const file = await alice.client.sendFile({ user: 'bob' }, await openAsBlob(path, { type: 'application/pdf' }), { fileName: 'notes.pdf' });
    const fileExtra = file.message.extra as Record<string, any>;
    expect(fileExtra).toMatchObject({ file_name: 'notes.pdf', file_size: 3000, etag: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) });
    const download = await fetch(fileExtra.download_url);
    expect([download.status, download.headers.get('content-disposition'), (await download.arrayBuffer()).byteLength]).toEqual([200, `attachment; filename="notes.pdf"; filename*=UTF-8''notes.pdf`, 3000]);

    const voice = await alice.client.sendVoice({ user: 'bob' }, Readable.from([Buffer.alloc(500, 1)]), { size: 500, contentType: 'audio/aac', duration: 3 });
    expect(voice.message.extra).toMatchObject({ duration: 3, voice_url: expect.stringMatching(/\/media\//) });
    expect((await fetch((voice.message.extra as any).voice_url)).headers.get('content-type')).toBe('audio/aac');

    const cover = await sharp({ create: { width: 32, height: 18, channels: 3, background: '#000' } }).jpeg().toBuffer();
    const video = await alice.client.sendVideo({ user: 'bob' }, new Blob([Buffer.alloc(2048, 2)], { type: 'video/mp4' }), { cover, coverContentType: 'image/jpeg', width: 1920, height: 1080, videoTotalTime: 12 });
    const videoExtra = video.message.extra as Record<string, any>;
    expect(videoExtra).toMatchObject({ width: 1920, height: 1080, videoTotalTime: 12, thumbWidth: 200, thumbHeight: 113 });
    expect((await fetch(videoExtra.cover_url)).headers.get('content-type')).toBe('image/jpeg');
    expect((await fetch(videoExtra.video_url)).headers.get('content-type')).toBe('video/mp4');
    alice.client.close();
  });
});
