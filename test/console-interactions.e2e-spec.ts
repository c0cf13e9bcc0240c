import { execFileSync } from 'child_process';
import { join } from 'path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { startTestServer, TestServer } from './support/server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = join(__dirname, '..');

jest.setTimeout(90_000);

/** The console's reactions, typing line and clear history, two users in Chromium over the real server. */
describe('browser console: reactions, typing, clear history', () => {
  let t: TestServer;
  let browser: Browser;
  const sessions: Array<{ context: BrowserContext; errors: string[] }> = [];

  beforeAll(async () => {
    execFileSync(process.execPath, [join(ROOT, 'console', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' });
    t = await startTestServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });
  beforeEach(() => t.reset());
  afterEach(async () => {
    for (const session of sessions.splice(0)) {
      expect(session.errors).toEqual([]);
      await session.context.close();
    }
  });

  async function signIn(appUserId: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1180, height: 740 } });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const session = { context, errors: [] as string[] };
    page.on('pageerror', (error) => session.errors.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept());
    sessions.push(session);
    const { token } = await t.admin.ensureUserToken(appUserId);
    await page.goto(`${t.baseUrl}/console`);
    await page.fill('#token', token);
    await page.click('#connect');
    await page.locator('#me-name', { hasText: appUserId }).waitFor();
    await page.locator('body[data-connection="open"]').waitFor();
    return page;
  }

  /** A reload signs in again from the session's token: a fresh page state, history read anew. */
  async function reloadSignedIn(page: Page): Promise<void> {
    await page.reload();
    await page.locator('body[data-connection="open"]').waitFor();
    await page.locator('.conv[data-key="u:alice"]').waitFor();
  }

  async function openChatWith(page: Page, appUserId: string): Promise<void> {
    await page.click('#new-chat');
    await page.fill('#chat-user', appUserId);
    await page.press('#chat-user', 'Enter');
    await page.locator('#composer').waitFor();
  }

  async function send(page: Page, text: string): Promise<void> {
    await page.fill('#message-input', text);
    await page.press('#message-input', 'Enter');
    await page.locator('.msg.mine', { hasText: text }).waitFor();
  }

  it('reacts (add, count from the other side, remove), shows "… is typing", clears history on both devices', async () => {
    const alice = await signIn('alice');
    const bob = await signIn('bob');
    const bobOther = await signIn('bob');
    await openChatWith(alice, 'bob');
    await send(alice, 'react to this');
    await bob.click('.conv[data-key="u:alice"]');
    await bobOther.click('.conv[data-key="u:alice"]');
    const bobMessage = bob.locator('.msg', { hasText: 'react to this' });
    await bobMessage.waitFor();

    // bob reacts 👍 from the picker: his chip is "mine"; alice sees the count arrive by push
    await bobMessage.locator('.add-reaction').click();
    await bobMessage.locator('.emoji-picker .pick[data-emoji="👍"]').click();
    await bobMessage.locator('.reaction.me[data-emoji="👍"]', { hasText: '👍 1' }).waitFor();
    const aliceMessage = alice.locator('.msg', { hasText: 'react to this' });
    await aliceMessage.locator('.reaction[data-emoji="👍"]', { hasText: '👍 1' }).waitFor();
    // alice adds hers by clicking the chip: 2 on both sides, bob's other device included
    await aliceMessage.locator('.reaction[data-emoji="👍"]').click();
    await aliceMessage.locator('.reaction.me[data-emoji="👍"]', { hasText: '👍 2' }).waitFor();
    await bobMessage.locator('.reaction[data-emoji="👍"]', { hasText: '👍 2' }).waitFor();
    await bobOther.locator('.msg', { hasText: 'react to this' }).locator('.reaction.me[data-emoji="👍"]', { hasText: '👍 2' }).waitFor();
    // bob removes his: 1, no longer his
    await bobMessage.locator('.reaction.me[data-emoji="👍"]').click();
    await aliceMessage.locator('.reaction[data-emoji="👍"]', { hasText: '👍 1' }).waitFor();
    expect(await t.sql(`SELECT emoji FROM message_reactions`)).toEqual([{ emoji: '👍' }]);
    // a reload shows the state from history
    await reloadSignedIn(bob);
    await bob.click('.conv[data-key="u:alice"]');
    await bob.locator('.msg', { hasText: 'react to this' }).locator('.reaction[data-emoji="👍"]:not(.me)', { hasText: '👍 1' }).waitFor();

    // typing: bob types, alice sees the line; bob's message ends it
    await bob.type('#message-input', 'hel');
    await alice.locator('#typing-line', { hasText: 'is typing…' }).waitFor();
    await bob.press('#message-input', 'Enter');
    await alice.locator('.msg', { hasText: 'hel' }).waitFor();
    await alice.locator('#typing-line:empty').waitFor();

    // clear history on bob's second device: both of bob's views empty, alice keeps hers
    await bobOther.locator('.msg', { hasText: 'hel' }).waitFor();
    await bobOther.click('#clear-history');
    await bobOther.locator('.msg').first().waitFor({ state: 'detached' });
    await bob.locator('.msg').first().waitFor({ state: 'detached' });
    expect(await alice.locator('.msg').count()).toBe(2);
    await reloadSignedIn(bob);
    await bob.click('.conv[data-key="u:alice"]');
    await bob.locator('#composer').waitFor();
    expect(await bob.locator('.msg').count()).toBe(0);
  });
});
