import { createGroup } from './support/messaging-fixtures';
import { startTestServer, TestServer } from './support/server';
import { dataOf, WsClient } from './support/ws-client';

const IMAGE = { url: 'https://cdn.example.com/x.jpg', width: 1200, height: 800, is_original: 1 };
const VIDEO = { video_url: 'https://cdn.example.com/v.mp4', cover_url: 'http://cdn.example.com/v.jpg', videoTotalTime: 12, width: 1080, height: 1920 };
const FILE = { file_name: 'report 2024.pdf', file_size: 12345, etag: 'Fh/8x+y' };

describe('messaging: message types and validation', () => {
  let t: TestServer;
  let alice: WsClient;
  let bob: WsClient;

  beforeAll(async () => {
    t = await startTestServer({
      RATE_LIMIT_PER_SEC: '0',
      MEDIA_BASE_URL: 'https://files.example.com/dl/',
      THUMB_URL_TEMPLATE: '{url}?imageView2/2/w/200/h/200',
    });
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await t.reset();
    alice = await t.connect('alice', { waitSync: true });
    bob = await t.connect('bob', { waitSync: true });
  });

  async function send(fields: Record<string, unknown>) {
    return alice.request('chat', { app_user_ids: 'bob', content: '', ...fields });
  }

  /** Sends a valid message and returns the data bob receives (same as the sendResult's). */
  async function accepted(fields: Record<string, unknown>) {
    const reply = await send(fields);
    expect(reply).toMatchObject({ code: 200 });
    const push = await bob.push('chat', (f) => f.msg_id === reply.msg_id);
    expect(push.data).toBe(reply.data);
    return dataOf(reply);
  }

  async function rejected(fields: Record<string, unknown>, msg: RegExp) {
    const reply = await send(fields);
    expect(reply).toMatchObject({ code: 400, action: 'sendResult' });
    expect(reply.msg).toMatch(msg);
    expect(reply.data).toBeUndefined();
  }

  describe('accepted, with the server-filled fields', () => {
    it('1 text: content kept as sent; extra absent or null becomes {}', async () => {
      expect(await accepted({ type: 1, content: 'hi' })).toMatchObject({ type: 1, content: 'hi', extra: {} });
      expect((await accepted({ type: 1, content: 'hi', extra: null })).extra).toEqual({});
      expect((await accepted({ type: 1, content: 'hi', extra: { mention: ['x'], n: 1.5 } })).extra).toEqual({ mention: ['x'], n: 1.5 });
      expect((await accepted({ type: 1, content: '𝒜'.repeat(5000) })).content).toHaveLength(10000);
    });

    it('2 voice', async () => {
      const extra = { voice_url: 'https://cdn.example.com/a.amr', duration: 600 };
      expect(await accepted({ type: 2, extra })).toMatchObject({ type: 2, content: '', extra });
      expect((await accepted({ type: 2, extra: { ...extra, duration: 1 } })).extra.duration).toBe(1);
    });

    it('3 image: thumb_url from the template, thumbnail fitted into 200×200, never upscaled', async () => {
      expect((await accepted({ type: 3, extra: IMAGE })).extra).toEqual({
        ...IMAGE,
        thumb_url: 'https://cdn.example.com/x.jpg?imageView2/2/w/200/h/200',
        thumbWidth: 200,
        thumbHeight: 133,
      });
      const kept = await accepted({ type: 3, extra: { ...IMAGE, width: 100, height: 50, thumb_url: 'https://cdn.example.com/t.jpg' } });
      expect(kept.extra).toMatchObject({ thumb_url: 'https://cdn.example.com/t.jpg', thumbWidth: 100, thumbHeight: 50 });
      // halves round up: 400×101 → 200×50.5 → 51; 10000×1 → 200×1 (min 1)
      expect((await accepted({ type: 3, extra: { ...IMAGE, width: 400, height: 101 } })).extra).toMatchObject({ thumbWidth: 200, thumbHeight: 51 });
      expect((await accepted({ type: 3, extra: { ...IMAGE, width: 10000, height: 1 } })).extra).toMatchObject({ thumbWidth: 200, thumbHeight: 1 });
      expect((await accepted({ type: 3, extra: { ...IMAGE, width: 300, height: 900 } })).extra).toMatchObject({ thumbWidth: 67, thumbHeight: 200 });
    });

    it('4 location, address optional', async () => {
      expect((await accepted({ type: 4, extra: { latitude: -90, longitude: 180 } })).extra).toEqual({ latitude: -90, longitude: 180 });
      expect((await accepted({ type: 4, extra: { latitude: 39.9, longitude: 116.4, address: 'Beijing' } })).extra.address).toBe('Beijing');
    });

    it('5 red packet: any non-empty extra', async () => {
      expect((await accepted({ type: 5, extra: { amount: 100, greeting: '恭喜发财' } })).extra).toEqual({ amount: 100, greeting: '恭喜发财' });
    });

    it("6 business card: the person's nickname and head filled in", async () => {
      await t.admin.putUser('carol', 'Carol', 'https://cdn.example.com/c.jpg');
      const data = await accepted({ type: 6, extra: { app_user_id: 'carol', nickname: 'spoofed' } });
      expect(data.extra).toEqual({ app_user_id: 'carol', nickname: 'Carol', head: 'https://cdn.example.com/c.jpg' });
    });

    it('7 video: thumbnail size from the video size', async () => {
      expect((await accepted({ type: 7, extra: VIDEO })).extra).toEqual({ ...VIDEO, thumbWidth: 113, thumbHeight: 200 });
    });

    it('8 file: download_url from MEDIA_BASE_URL + etag with the file name, or the one the client gave', async () => {
      expect((await accepted({ type: 8, extra: FILE })).extra).toEqual({
        ...FILE,
        download_url: 'https://files.example.com/dl/Fh%2F8x%2By?attname=report%202024.pdf',
      });
      const own = await accepted({ type: 8, extra: { ...FILE, file_size: 0, download_url: 'https://mine.example.com/f' } });
      expect(own.extra.download_url).toBe('https://mine.example.com/f');
    });

    it('non-text types keep an optional content as sent', async () => {
      expect((await accepted({ type: 5, content: '[red packet]', extra: { a: 1 } })).content).toBe('[red packet]');
      const reply = await alice.request('chat', { app_user_ids: 'bob', type: 5, extra: { a: 1 } });
      expect(dataOf(reply).content).toBe('');
    });

    it('the same rules and fields apply to groupChat', async () => {
      const group = await createGroup(t, 'alice', ['bob']);
      const reply = await alice.request('groupChat', { group_id: group, type: 8, extra: FILE });
      expect(dataOf(reply).extra.download_url).toMatch(/^https:\/\/files\.example\.com\/dl\//);
      const bad = await alice.request('groupChat', { group_id: group, type: 2, extra: { voice_url: 'ftp://x/y', duration: 3 } });
      expect(bad).toMatchObject({ code: 400, group_id: group, msg: expect.stringMatching(/extra\.voice_url/) });
    });
  });

  describe('rejected with 400 naming the field, nothing stored', () => {
    afterEach(async () => {
      expect(await t.sql(`SELECT * FROM messages`)).toEqual([]);
    });

    it('recipient and type', async () => {
      await rejected({ type: 1, content: 'x', app_user_ids: undefined }, /app_user_ids/);
      await rejected({ type: 1, content: 'x', app_user_ids: 42 }, /app_user_ids/);
      for (const type of [0, 9, 10, 19, '1', 1.5, null, undefined]) await rejected({ type, content: 'x' }, /type/);
    });

    it('content', async () => {
      await rejected({ type: 1, content: '' }, /content/);
      await rejected({ type: 1, content: undefined }, /content/);
      await rejected({ type: 1, content: 5 }, /content/);
      await rejected({ type: 1, content: '𝒜'.repeat(5001) }, /content/);
      await rejected({ type: 1, content: 'a\u0000b' }, /content/);
      await rejected({ type: 5, content: 7, extra: { a: 1 } }, /content/);
    });

    it('extra: not an object, or over 8 KiB serialized', async () => {
      await rejected({ type: 1, content: 'x', extra: 'text' }, /extra/);
      await rejected({ type: 1, content: 'x', extra: [1] }, /extra/);
      await rejected({ type: 1, content: 'x', extra: 3 }, /extra/);
      const big = { s: 'é'.repeat(4090) }; // 8,180 bytes of UTF-8 + {"s":""} = 8,188
      expect((await send({ type: 1, content: 'x', extra: big })).code).toBe(200);
      await t.sql(`DELETE FROM messages`);
      await rejected({ type: 1, content: 'x', extra: { s: 'é'.repeat(4093) } }, /extra/);
    });

    it('2 voice', async () => {
      const ok = { voice_url: 'https://cdn/a.amr', duration: 3 };
      await rejected({ type: 2, extra: { ...ok, voice_url: undefined } }, /extra\.voice_url/);
      await rejected({ type: 2, extra: { ...ok, voice_url: 'javascript:alert(1)' } }, /extra\.voice_url/);
      await rejected({ type: 2, extra: { ...ok, voice_url: 'ftp://cdn/a' } }, /extra\.voice_url/);
      for (const duration of [0, 601, 2.5, '3', undefined]) await rejected({ type: 2, extra: { ...ok, duration } }, /extra\.duration/);
    });

    it('3 image', async () => {
      await rejected({ type: 3 }, /extra\.url/);
      await rejected({ type: 3, extra: { ...IMAGE, url: 'not a url' } }, /extra\.url/);
      for (const width of [0, -1, 1.5, '100']) await rejected({ type: 3, extra: { ...IMAGE, width } }, /extra\.width/);
      await rejected({ type: 3, extra: { ...IMAGE, height: 0 } }, /extra\.height/);
      for (const is_original of [0, 3, '1', undefined]) await rejected({ type: 3, extra: { ...IMAGE, is_original } }, /extra\.is_original/);
      await rejected({ type: 3, extra: { ...IMAGE, thumb_url: 'data:x' } }, /extra\.thumb_url/);
    });

    it('4 location', async () => {
      for (const latitude of [-90.01, 91, '10', undefined]) await rejected({ type: 4, extra: { latitude, longitude: 0 } }, /extra\.latitude/);
      for (const longitude of [-180.5, 181, null]) await rejected({ type: 4, extra: { latitude: 0, longitude } }, /extra\.longitude/);
      await rejected({ type: 4, extra: { latitude: 0, longitude: 0, address: 5 } }, /extra\.address/);
    });

    it('5 red packet', async () => {
      await rejected({ type: 5 }, /extra/);
      await rejected({ type: 5, extra: {} }, /extra/);
    });

    it('6 business card: missing id 400, unknown person 404', async () => {
      await rejected({ type: 6, extra: {} }, /extra\.app_user_id/);
      const reply = await send({ type: 6, extra: { app_user_id: 'nobody' } });
      expect(reply).toMatchObject({ code: 404, msg: expect.stringMatching(/nobody/) });
    });

    it('7 video', async () => {
      await rejected({ type: 7, extra: { ...VIDEO, video_url: 'x' } }, /extra\.video_url/);
      await rejected({ type: 7, extra: { ...VIDEO, cover_url: undefined } }, /extra\.cover_url/);
      await rejected({ type: 7, extra: { ...VIDEO, videoTotalTime: 0 } }, /extra\.videoTotalTime/);
      await rejected({ type: 7, extra: { ...VIDEO, width: undefined } }, /extra\.width/);
      await rejected({ type: 7, extra: { ...VIDEO, height: -5 } }, /extra\.height/);
    });

    it('8 file', async () => {
      await rejected({ type: 8, extra: { ...FILE, file_name: '' } }, /extra\.file_name/);
      await rejected({ type: 8, extra: { ...FILE, file_name: 'a'.repeat(256) } }, /extra\.file_name/);
      await rejected({ type: 8, extra: { ...FILE, file_size: -1 } }, /extra\.file_size/);
      await rejected({ type: 8, extra: { ...FILE, file_size: 1.5 } }, /extra\.file_size/);
      await rejected({ type: 8, extra: { ...FILE, etag: '' } }, /extra\.etag/);
      await rejected({ type: 8, extra: { ...FILE, etag: 'e'.repeat(129) } }, /extra\.etag/);
      await rejected({ type: 8, extra: { ...FILE, download_url: 'nope' } }, /extra\.download_url/);
    });

    it('validation comes before the recipient check (400, not 404)', async () => {
      const reply = await alice.request('chat', { app_user_ids: 'nobody', type: 42 });
      expect(reply.code).toBe(400);
    });
  });
});
