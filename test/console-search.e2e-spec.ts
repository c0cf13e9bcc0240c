import { ConsoleBrowser } from './support/console-browser';
import { TestServer } from './support/server';

jest.setTimeout(90_000);

/** The console's search box (console/src/search.ts) in Chromium, over the real server. */
describe('browser console: search box', () => {
  let ui: ConsoleBrowser;
  let t: TestServer;

  beforeAll(async () => {
    ui = await ConsoleBrowser.start();
    t = ui.t;
  }, 120_000);
  afterAll(() => ui?.stop());
  beforeEach(() => t.reset());
  afterEach(() => ui.closePages());

  it('shows matching messages with the matches marked, pages with More, opens the conversation, and returns to the list', async () => {
    const alice = await t.connect('alice');
    await t.connect('bob');
    for (const content of ['秋の夜、鈴虫が鳴く', 'The Meeting moved; meetings are long', 'unrelated']) {
      expect((await alice.request('chat', { type: 1, content, app_user_ids: 'bob' })).code).toBe(200);
    }
    for (let i = 0; i < 22; i++) expect((await alice.request('chat', { type: 1, content: `report ${i}`, app_user_ids: 'bob' })).code).toBe(200);

    const page = await ui.signIn('bob');

    await page.fill('#search-input', '鈴虫');
    await page.press('#search-input', 'Enter');
    await page.locator('.search-hit').first().waitFor();
    expect(await page.locator('.search-hit').count()).toBe(1);
    expect(await page.locator('.search-hit mark').allTextContents()).toEqual(['鈴虫']);
    expect(await page.locator('.search-hit .search-text').textContent()).toBe('秋の夜、鈴虫が鳴く');
    expect(await page.locator('#conv-list').isHidden()).toBe(true);

    await page.fill('#search-input', 'MEETING');
    await page.press('#search-input', 'Enter');
    await page.locator('.search-hit .search-text', { hasText: 'The Meeting moved' }).waitFor();
    expect(await page.locator('.search-hit mark').allTextContents()).toEqual(['Meeting', 'meeting']);

    await page.fill('#search-input', 'zzz');
    await page.press('#search-input', 'Enter');
    await page.locator('.search-empty', { hasText: 'No messages found.' }).waitFor();

    // 22 matches: a page of 20, then More
    await page.fill('#search-input', 'report');
    await page.press('#search-input', 'Enter');
    await page.locator('.search-more button').waitFor();
    expect(await page.locator('.search-hit').count()).toBe(20);
    await page.click('.search-more button');
    await page.locator('.search-hit', { hasText: 'report 0' }).waitFor();
    expect(await page.locator('.search-hit').count()).toBe(22);
    expect(await page.locator('.search-more').count()).toBe(0);

    // a result opens its conversation; the list is back
    await page.click('.search-hit >> nth=0');
    await page.locator('#chat-title').waitFor();
    expect(await page.locator('#search-results').isHidden()).toBe(true);
    expect(await page.locator('#conv-list').isVisible()).toBe(true);
    expect(await page.locator('#search-input').inputValue()).toBe('');
  });
});
