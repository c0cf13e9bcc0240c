import { Page } from 'playwright-core';
import { ConsoleBrowser, openChatWith, send } from './support/console-browser';
import { TestServer } from './support/server';

jest.setTimeout(90_000);

/** The console's reactions, typing line and clear history, two users in Chromium over the real server. */
describe('browser console: reactions, typing, clear history', () => {
  let ui: ConsoleBrowser;
  let t: TestServer;

  beforeAll(async () => {
    ui = await ConsoleBrowser.start();
    t = ui.t;
  }, 120_000);
  afterAll(() => ui?.stop());
  beforeEach(() => t.reset());
  afterEach(() => ui.closePages());

  /** Clear history asks confirm(): yes. */
  const signIn = (appUserId: string) => ui.signIn(appUserId, { acceptDialogs: true });

  /** A reload signs in again from the session's token: a fresh page state, history read anew. */
  async function reloadSignedIn(page: Page): Promise<void> {
    await page.reload();
    await page.locator('body[data-connection="open"]').waitFor();
    await page.locator('.conv[data-key="u:alice"]').waitFor();
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
