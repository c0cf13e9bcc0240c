import { execFileSync } from 'child_process';
import { join } from 'path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { startTestServer, TestServer } from './server';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = join(__dirname, '..', '..');

/**
 * The browser console under test, over a real server: console/ is built first (the console the server
 * serves is the one built from the sources now), then a test server and headless Chromium start.
 * `signIn` opens a fresh browser profile signed in as a user; `closePages` (afterEach) closes them and
 * fails when anything a page did threw.
 */
export class ConsoleBrowser {
  private readonly sessions: Array<{ context: BrowserContext; errors: string[] }> = [];

  private constructor(
    readonly t: TestServer,
    readonly browser: Browser,
  ) {}

  static async start(): Promise<ConsoleBrowser> {
    execFileSync(process.execPath, [join(ROOT, 'console', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' });
    const t = await startTestServer();
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    return new ConsoleBrowser(t, browser);
  }

  /** A fresh browser profile signed in as `appUserId` with a pasted token. `acceptDialogs`: confirm() answers yes. */
  async signIn(appUserId: string, options: { acceptDialogs?: boolean } = {}): Promise<Page> {
    const context = await this.browser.newContext({ viewport: { width: 1180, height: 740 } });
    // fail with Playwright's message before Jest's test timeout
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const session = { context, errors: [] as string[] };
    page.on('pageerror', (error) => session.errors.push(error.message));
    if (options.acceptDialogs) page.on('dialog', (dialog) => void dialog.accept());
    this.sessions.push(session);
    const { token } = await this.t.admin.ensureUserToken(appUserId);
    await page.goto(`${this.t.baseUrl}/console`);
    await page.fill('#token', token);
    await page.click('#connect');
    await page.locator('#me-name', { hasText: appUserId }).waitFor();
    await page.locator('body[data-connection="open"]').waitFor();
    return page;
  }

  /** Closes every page signed in since the last call; nothing they did may have thrown. */
  async closePages(): Promise<void> {
    for (const session of this.sessions.splice(0)) {
      expect(session.errors).toEqual([]);
      await session.context.close();
    }
  }

  async stop(): Promise<void> {
    await this.browser.close();
    await this.t.close();
  }
}

/** Opens (or starts) the one-to-one conversation with `appUserId`. */
export async function openChatWith(page: Page, appUserId: string): Promise<void> {
  await page.click('#new-chat');
  await page.fill('#chat-user', appUserId);
  await page.press('#chat-user', 'Enter');
  await page.locator('#chat-title').waitFor();
  await page.locator('#composer').waitFor();
}

/** Types and sends a text; waits until it shows as the user's own message. */
export async function send(page: Page, text: string): Promise<void> {
  await page.fill('#message-input', text);
  await page.press('#message-input', 'Enter');
  await page.locator('.msg.mine', { hasText: text }).waitFor();
}
