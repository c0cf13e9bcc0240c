import { build } from 'esbuild';
import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { join } from 'path';
import { Browser, chromium, Page } from 'playwright-core';
import sharp from 'sharp';
import { ConnectionRegistry } from '../src/realtime/connection-registry';
import { range, until } from './support/sdk';
import { startTestServer, TestServer } from './support/server';
import { CHROMIUM } from './support/console-browser';

/** What the page keeps per client (window.im[name]). */
interface PageClient {
  messages: Array<{ seq: number; content: string; app_user_id: string; mine: boolean; conversation: Record<string, string> }>;
  states: string[];
  userId: number | null;
  appUserId: string | null;
}

describe('client SDK in headless Chromium (native WebSocket, in-band auth, bundled as an IIFE)', () => {
  let t: TestServer;
  let pages: Server;
  let pagePort: number;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // the SDK as an app would load it in a <script>: one IIFE bundle exposing window.ImSdk
    const bundle = await build({
      entryPoints: [join(__dirname, '../packages/client/src/index.ts')],
      bundle: true,
      format: 'iife',
      globalName: 'ImSdk',
      platform: 'browser',
      target: 'es2020',
      write: false,
    });
    const sdk = bundle.outputFiles[0].text;
    pages = createServer((req, res) => {
      if (req.url === '/im-client.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(sdk);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title><script src="/im-client.js"></script>');
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagePort = (pages.address() as AddressInfo).port;
    t = await startTestServer({ ALLOWED_ORIGINS: `http://localhost:${pagePort}`, RATE_LIMIT_PER_SEC: '0' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await new Promise((resolve) => pages?.close(resolve));
  });
  beforeEach(async () => {
    await t.reset();
    await page.goto(`http://localhost:${pagePort}/`);
  });

  /** Creates and connects an ImClient in the page (no WebSocket option: the browser's own). */
  async function connectInPage(name: string, token: string): Promise<void> {
    await page.evaluate(
      async ({ name, token, url }) => {
        const w = window as any;
        w.im = w.im ?? {};
        const client = new w.ImSdk.ImClient({ url, token, reconnect: { minDelayMs: 50, maxDelayMs: 300 } });
        const record = { client, messages: [] as unknown[], states: [] as string[] };
        client.on('message', (m: any) => record.messages.push({ seq: m.seq, content: m.content, app_user_id: m.app_user_id, mine: m.mine, conversation: m.conversation }));
        client.on('state', (s: string) => record.states.push(s));
        w.im[name] = record;
        await client.connect();
      },
      { name, token, url: `ws://127.0.0.1:${t.port}/` },
    );
  }

  function readClient(name: string): Promise<PageClient> {
    return page.evaluate((name) => {
      const record = (window as any).im[name];
      return { messages: record.messages, states: record.states, userId: record.client.userId, appUserId: record.client.appUserId };
    }, name);
  }

  function sendInPage(name: string, to: string, text: string): Promise<{ seq: number; duplicate: boolean }> {
    return page.evaluate(
      async ({ name, to, text }) => {
        const result = await (window as any).im[name].client.sendText({ user: to }, text);
        return { seq: result.seq, duplicate: result.duplicate };
      },
      { name, to, text },
    );
  }

  it('connects two clients in the page, sends and receives both ways; ImError reaches the page', async () => {
    await connectInPage('alice', (await t.admin.ensureUserToken('alice')).token);
    await connectInPage('bob', (await t.admin.ensureUserToken('bob')).token);
    expect(await readClient('alice')).toMatchObject({ appUserId: 'alice', states: ['connecting', 'open'] });

    expect(await sendInPage('alice', 'bob', 'hello from the browser')).toEqual({ seq: 1, duplicate: false });
    await until(async () => (await readClient('bob')).messages.length === 1, 'bob receives');
    expect((await readClient('bob')).messages[0]).toEqual({ seq: 1, content: 'hello from the browser', app_user_id: 'alice', mine: false, conversation: { user: 'alice' } });
    expect(await sendInPage('bob', 'alice', 'hi back')).toEqual({ seq: 2, duplicate: false });
    await until(async () => (await readClient('alice')).messages.length === 2, 'alice receives');
    expect((await readClient('alice')).messages.map((m) => [m.seq, m.content, m.mine])).toEqual([
      [1, 'hello from the browser', true],
      [2, 'hi back', false],
    ]);

    const error = await page.evaluate(async () => {
      try {
        await (window as any).im.alice.client.sendText({ user: 'nobody' }, 'hi');
        return null;
      } catch (e: any) {
        return { isImError: e instanceof (window as any).ImSdk.ImError, code: e.code, action: e.action };
      }
    });
    expect(error).toEqual({ isImError: true, code: 404, action: 'chat' });
  });

  it('a socket dropped by the server mid-stream: the page reconnects and shows every message once, in order', async () => {
    await connectInPage('bob', (await t.admin.ensureUserToken('bob')).token);
    await connectInPage('alice', (await t.admin.ensureUserToken('alice')).token);
    const bobId = (await readClient('bob')).userId as number;
    const registry = t.server.app.get(ConnectionRegistry);
    const total = 30;
    for (let i = 1; i <= total; i++) {
      await sendInPage('alice', 'bob', `b${i}`);
      if (i === 8 || i === 20) for (const connection of registry.connectionsOf(bobId)) connection.close(1013, 'dropped by the test');
      if (i === 12) await until(async () => (await readClient('bob')).states.at(-1) === 'open', 'bob back');
    }
    await until(async () => (await readClient('bob')).messages.length >= total, 'bob has every message');
    const bob = await readClient('bob');
    expect(bob.messages.map((m) => m.seq)).toEqual(range(1, total));
    expect(bob.messages.map((m) => m.content)).toEqual(range(1, total).map((i) => `b${i}`));
    expect(bob.states.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(1);
  });

  it('uploads a File from the page (another origin: CORS) with sendImage; the thumbnail loads in the page', async () => {
    await connectInPage('alice', (await t.admin.ensureUserToken('alice')).token);
    await t.admin.ensureUserToken('bob');
    const png = await sharp({ create: { width: 300, height: 600, channels: 3, background: '#aa3300' } }).png().toBuffer();
    const result = await page.evaluate(
      async ({ bytes }) => {
        const file = new File([new Uint8Array(bytes)], 'tall.png', { type: 'image/png' });
        const sent = await (window as any).im.alice.client.sendImage({ user: 'bob' }, file);
        const extra = sent.message.extra;
        const thumb = await createImageBitmap(await (await fetch(extra.thumb_url)).blob());
        const original = await fetch(extra.url);
        return { extra, thumb: [thumb.width, thumb.height], type: original.headers.get('content-type'), size: (await original.arrayBuffer()).byteLength };
      },
      { bytes: [...png] },
    );
    expect(result.extra).toMatchObject({ width: 300, height: 600, is_original: 1, thumbWidth: 100, thumbHeight: 200, thumb_url: `${result.extra.url}?thumb=200` });
    expect(result).toMatchObject({ thumb: [100, 200], type: 'image/png', size: png.length });
  });
});
