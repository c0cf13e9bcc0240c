import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { Browser, chromium, Page } from 'playwright-core';
import { startTestServer, TestServer } from './support/server';
import { CHROMIUM } from './support/console-browser';

interface BrowserSocketLog {
  opened: boolean;
  frames: Array<Record<string, any>>;
  close?: { code: number; reason: string };
}

/**
 * Runs in the page: opens a WebSocket with no token (browsers cannot set headers and should not put
 * tokens in URLs), optionally sends `auth`, and records what the page can see.
 */
async function openFromPage(page: Page, url: string, token: string | null, waitMs = 1500): Promise<BrowserSocketLog> {
  return page.evaluate(
    ({ url, token, waitMs }) =>
      new Promise<BrowserSocketLog>((resolve) => {
        const log: BrowserSocketLog = { opened: false, frames: [] };
        const socket = new WebSocket(url);
        const done = () => resolve(log);
        socket.onopen = () => {
          log.opened = true;
          if (token !== null) socket.send(JSON.stringify({ action: 'auth', nonce: 'browser-auth-1', token }));
        };
        socket.onmessage = (event) => log.frames.push(JSON.parse(event.data as string));
        socket.onclose = (event) => {
          log.close = { code: event.code, reason: event.reason };
          done();
        };
        setTimeout(() => {
          if (!log.close) {
            socket.close();
            done();
          }
        }, waitMs);
      }),
    { url, token, waitMs },
  );
}

describe('browsers (PROTOCOL §2): in-band auth and ALLOWED_ORIGINS from headless Chromium', () => {
  let t: TestServer;
  let pages: Server;
  let pagePort: number;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // the app's web page, served from its own origin
    pages = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'));
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagePort = (pages.address() as AddressInfo).port;
    t = await startTestServer({ ALLOWED_ORIGINS: `http://localhost:${pagePort}` });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await new Promise((resolve) => pages?.close(resolve));
  });
  beforeEach(() => t.reset());

  it('authenticates in band from an allowed origin: auth 200, then the sync frame', async () => {
    const { token } = await t.admin.ensureUserToken('webby');
    await page.goto(`http://localhost:${pagePort}/`);
    const log = await openFromPage(page, `ws://127.0.0.1:${t.port}/`, token);
    expect(log.opened).toBe(true);
    expect(log.frames[0]).toMatchObject({ action: 'auth', code: 200, nonce: 'browser-auth-1' });
    expect(log.frames[1]).toMatchObject({ action: 'systemMessage', msg_id: 0 });
    expect(JSON.parse(log.frames[1].data).type).toBe(19);
  });

  it('shows a bad token to the page as an auth 401 reply and close code 4401, not a bare 1006', async () => {
    await page.goto(`http://localhost:${pagePort}/`);
    const log = await openFromPage(page, `ws://127.0.0.1:${t.port}/`, 'not-a-valid-token', 5000);
    expect(log.frames[0]).toMatchObject({ action: 'auth', code: 401 });
    expect(log.close?.code).toBe(4401);
  });

  it('never opens a socket for a page of another origin', async () => {
    const { token } = await t.admin.ensureUserToken('webby');
    await page.goto(`http://127.0.0.1:${pagePort}/`);
    const log = await openFromPage(page, `ws://127.0.0.1:${t.port}/`, token, 5000);
    expect(log.opened).toBe(false);
    expect(log.frames).toEqual([]);
    expect(log.close?.code).toBe(1006);
  });
});
