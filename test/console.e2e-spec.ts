import { join } from 'path';
import { Page } from 'playwright-core';
import sharp from 'sharp';
import { ConnectionRegistry } from '../src/realtime/connection-registry';
import { userIdOf } from './support/groups-fixtures';
import { directConversation, readSeq } from './support/messaging-fixtures';
import { ConsoleBrowser, openChatWith, send } from './support/console-browser';
import { startTestServer, TestServer } from './support/server';

const ROOT = join(__dirname, '..');
/** Where to write docs/console.png when asked (CONSOLE_SCREENSHOT=docs/console.png). */
const SCREENSHOT = process.env.CONSOLE_SCREENSHOT;

// a browser session per user, each step waiting for what the page shows
jest.setTimeout(90_000);

describe('browser console (/console): two users in Chromium, over the real server', () => {
  let ui: ConsoleBrowser;
  let t: TestServer;

  beforeAll(async () => {
    ui = await ConsoleBrowser.start();
    t = ui.t;
  }, 120_000);
  afterAll(() => ui?.stop());
  beforeEach(() => t.reset());
  afterEach(() => ui.closePages());

  const signIn = (appUserId: string) => ui.signIn(appUserId);

  const badge = (page: Page, key: string) => page.locator(`.conv[data-key="${key}"] .badge`);

  it('serves the page, its assets and config.json under /console, and redirects /console to /console/', async () => {
    const redirect = await fetch(`${t.baseUrl}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/console/');
    const page = await fetch(`${t.baseUrl}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('console.js');
    for (const asset of ['console.js', 'console.css', 'icon.svg']) expect((await fetch(`${t.baseUrl}/console/${asset}`)).status).toBe(200);
    expect(await (await fetch(`${t.baseUrl}/console/config.json`)).json()).toEqual({ ws_path: '/' });
    // the neighbours are untouched
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/admin/users/x`)).status).toBe(401);
    expect((await fetch(`${t.baseUrl}/console/missing.js`)).status).toBe(404);
  });

  it('refuses a bad token on the sign-in page', async () => {
    const context = await ui.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.baseUrl}/console/`);
    await page.fill('#token', 'not-a-token');
    await page.click('#connect');
    await page.locator('#login-error').waitFor();
    expect(await page.locator('#token').count()).toBe(1);
    await context.close();
  });

  it('chats both ways: unread badges from pushes and from the sync frame, cleared by reading; read receipts; presence; image and file by URL', async () => {
    const bob = await signIn('bob');
    const alice = await signIn('alice');

    await openChatWith(alice, 'bob');
    // bob is online: the dot in alice's list and header turns green
    await alice.locator('.conv[data-key="u:bob"] .dot.online').waitFor();
    await send(alice, 'hello bob');
    await badge(bob, 'u:alice').filter({ hasText: '1' }).waitFor();
    expect(await bob.locator('.conv[data-key="u:alice"] .conv-preview').textContent()).toBe('hello bob');
    await send(alice, 'are you there?');
    await badge(bob, 'u:alice').filter({ hasText: '2' }).waitFor();
    expect(await alice.locator('.msg.mine .receipt.read').count()).toBe(0);

    // a reload rebuilds the badge from the sync frame (type 19)
    await bob.reload();
    await bob.locator('body[data-connection="open"]').waitFor();
    await badge(bob, 'u:alice').filter({ hasText: '2' }).waitFor();

    // reading clears the badge, moves bob's read position, and alice sees both messages read
    await bob.click('.conv[data-key="u:alice"]');
    await bob.locator('.msg', { hasText: 'are you there?' }).waitFor();
    await badge(bob, 'u:alice').waitFor({ state: 'detached' });
    await alice.locator('.msg.mine .receipt.read').nth(1).waitFor();
    expect(await alice.locator('.msg.mine .receipt.read').allTextContents()).toEqual(['✓✓ read', '✓✓ read']);
    const conversation = await directConversation(t, 'alice', 'bob');
    expect(await readSeq(t, 'bob', conversation!)).toBe(2);

    // bob answers; alice has the conversation open, so no badge, and bob sees his message read
    await send(bob, 'hi alice!');
    await alice.locator('.msg:not(.mine)', { hasText: 'hi alice!' }).waitFor();
    await bob.locator('.msg.mine .receipt.read').waitFor();
    expect(await badge(alice, 'u:bob').count()).toBe(0);

    // an image and a file, both by URL
    await alice.click('#attach');
    await alice.fill('#attach-url', `${t.baseUrl}/console/icon.svg`);
    await alice.click('#attach-send');
    await alice.locator('.msg.mine .image img').waitFor();
    await alice.click('#attach');
    await alice.selectOption('#attach-kind', 'file');
    await alice.fill('#attach-url', `${t.baseUrl}/console/console.css`);
    await alice.fill('#attach-size', '2048');
    await alice.click('#attach-send');
    await alice.locator('.msg.mine .file', { hasText: 'console.css' }).waitFor();
    const image = bob.locator('.msg:not(.mine) .image img');
    await image.waitFor();
    // the thumbnail: THUMB_URL_TEMPLATE over a URL that is not the server's own media
    expect(await image.getAttribute('src')).toBe(`${t.baseUrl}/console/icon.svg?imageView2/2/w/200/h/200`);
    const file = bob.locator('.msg:not(.mine) .file a');
    await file.waitFor();
    expect(await file.textContent()).toContain('console.css');
    expect(await file.getAttribute('href')).toBe(`${t.baseUrl}/console/console.css`);
    // stored as types 3 and 8 with what §4 requires
    const stored = await t.sql<{ type: number; extra: any }>(`SELECT type, extra FROM messages WHERE type IN (3, 8) ORDER BY id`);
    expect(stored.map((row) => row.type)).toEqual([3, 8]);
    expect(stored[0].extra).toMatchObject({ url: `${t.baseUrl}/console/icon.svg`, width: 64, height: 64, is_original: 2 });
    expect(stored[1].extra).toMatchObject({ file_name: 'console.css', file_size: 2048, download_url: `${t.baseUrl}/console/console.css` });

    // bob read everything while it arrived: after a reload there is no badge
    await bob.reload();
    await bob.locator('.conv[data-key="u:alice"]').waitFor();
    expect(await badge(bob, 'u:alice').count()).toBe(0);

    if (SCREENSHOT) {
      await alice.locator('.msg:not(.mine)', { hasText: 'hi alice!' }).waitFor();
      await alice.screenshot({ path: join(ROOT, SCREENSHOT) });
    }
  });

  it('uploads an image and a file from the composer; the recipient sees the server-made thumbnail and a download link', async () => {
    const bob = await signIn('bob');
    const alice = await signIn('alice');
    await openChatWith(alice, 'bob');
    const png = await sharp({ create: { width: 900, height: 300, channels: 3, background: '#2266cc' } }).png().toBuffer();
    await alice.setInputFiles('#upload-file', { name: 'banner.png', mimeType: 'image/png', buffer: png });
    await alice.locator('.msg.mine .image img').waitFor();
    await alice.setInputFiles('#upload-file', { name: 'notes.txt.gz', mimeType: 'application/gzip', buffer: Buffer.alloc(1500, 1) });
    await alice.locator('.msg.mine .file', { hasText: 'notes.txt.gz' }).waitFor();

    await bob.click('.conv[data-key="u:alice"]');
    const image = bob.locator('.msg:not(.mine) .image img');
    await image.waitFor();
    const [stored] = await t.sql<{ extra: any }>(`SELECT extra FROM messages WHERE type = 3`);
    expect(stored.extra).toMatchObject({ width: 900, height: 300, is_original: 1, thumbWidth: 200, thumbHeight: 67, thumb_url: `${stored.extra.url}?thumb=200` });
    expect(await image.getAttribute('src')).toBe(stored.extra.thumb_url);
    // the browser really loaded the thumbnail (200×67 WebP made by the server)
    await bob.waitForFunction(() => (document.querySelector('.msg:not(.mine) .image img') as HTMLImageElement | null)?.naturalWidth === 200);
    expect(await image.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([200, 67]);

    const link = bob.locator('.msg:not(.mine) .file a');
    const [file] = await t.sql<{ extra: any }>(`SELECT extra FROM messages WHERE type = 8`);
    expect(file.extra).toMatchObject({ file_name: 'notes.txt.gz', file_size: 1500, download_url: expect.stringContaining(`/media/${file.extra.etag}?attname=notes.txt.gz`) });
    expect(await link.getAttribute('href')).toBe(file.extra.download_url);
    const download = await fetch(file.extra.download_url);
    expect([download.status, (await download.arrayBuffer()).byteLength]).toEqual([200, 1500]);
  });

  it('after a dropped connection, the badge counts each missed message once (the sync counts, then the SDK catching up)', async () => {
    await t.admin.ensureUserToken('bob');
    const alice = await t.connect('alice');
    const bob = await signIn('bob');
    const say = async (text: string) => expect((await alice.request('chat', { type: 1, content: text, app_user_ids: 'bob' })).code).toBe(200);
    await say('m1');
    await say('m2');
    await badge(bob, 'u:alice').filter({ hasText: /^2$/ }).waitFor();

    const registry = t.server.app.get(ConnectionRegistry);
    for (const connection of registry.connectionsOf(await userIdOf(t, 'bob'))) connection.close(1013, 'dropped by the test');
    await say('m3');
    // reconnected: a second sync frame, and the counts no longer on hold
    await bob.locator('body[data-syncs="2"][data-count-hold="off"]').waitFor();
    await say('m4');
    // m4 is emitted after m3 (the SDK keeps seq order), so whatever m3 did to the count is done
    await bob.locator('.conv[data-key="u:alice"] .conv-preview', { hasText: 'm4' }).waitFor();
    expect(await badge(bob, 'u:alice').textContent()).toBe('4');
    await bob.click('.conv[data-key="u:alice"]');
    await bob.locator('.msg .text', { hasText: 'm4' }).waitFor();
    expect(await bob.locator('.msg .text').allTextContents()).toEqual(['m1', 'm2', 'm3', 'm4']);
    await badge(bob, 'u:alice').waitFor({ state: 'detached' });
  });

  it('reading on another device of the same user clears the badge', async () => {
    await t.admin.ensureUserToken('bob');
    const alice = await t.connect('alice');
    const bob = await signIn('bob');
    const sent = await alice.request('chat', { type: 1, content: 'read me elsewhere', app_user_ids: 'bob' });
    await badge(bob, 'u:alice').filter({ hasText: /^1$/ }).waitFor();
    const phone = await t.connect('bob');
    expect((await phone.request('ack', { msg_id: sent.msg_id, status: 2, app_user_ids: 'alice' })).code).toBe(200);
    await badge(bob, 'u:alice').waitFor({ state: 'detached' });
  });

  it('keeps what is being typed when the open conversation is drawn again (its history arriving, a click on it in the list)', async () => {
    await t.admin.ensureUserToken('bob');
    const carol = await t.connect('carol');
    expect((await carol.request('chat', { type: 1, content: 'earlier', app_user_ids: 'bob' })).code).toBe(200);
    const bob = await signIn('bob');
    await bob.click('.conv[data-key="u:carol"]');
    await bob.locator('.msg', { hasText: 'earlier' }).waitFor();
    await bob.fill('#message-input', 'half a sentence');
    // opening it again redraws the view at once and again when its history page comes back
    await bob.click('.conv[data-key="u:carol"]');
    await bob.locator('.msg', { hasText: 'earlier' }).waitFor();
    expect(await bob.inputValue('#message-input')).toBe('half a sentence');
    await bob.press('#message-input', 'Enter');
    await bob.locator('.msg.mine', { hasText: 'half a sentence' }).waitFor();
  });

  it('pages back through history with before_seq', async () => {
    await t.admin.ensureUserToken('bob');
    const carol = await t.connect('carol');
    for (let i = 1; i <= 45; i++) {
      const reply = await carol.request('chat', { type: 1, content: `m${i}`, app_user_ids: 'bob' });
      expect(reply.code).toBe(200);
    }
    const bob = await signIn('bob');
    await badge(bob, 'u:carol').filter({ hasText: '45' }).waitFor();
    await bob.click('.conv[data-key="u:carol"]');
    await bob.locator('.msg', { hasText: 'm45' }).waitFor();
    expect(await bob.locator('.msg').count()).toBe(30);
    // scrolling up to the "load older" button fetches the page before the oldest seq shown
    await bob.locator('#load-older').scrollIntoViewIfNeeded();
    await bob.locator('.msg .text', { hasText: /^m1$/ }).waitFor();
    expect(await bob.locator('.msg').count()).toBe(45);
    expect(await bob.locator('#load-older').count()).toBe(0);
    const texts = await bob.locator('.msg .text').allTextContents();
    expect(texts).toEqual(Array.from({ length: 45 }, (_, i) => `m${i + 1}`));
    await badge(bob, 'u:carol').waitFor({ state: 'detached' });
    const conversation = await directConversation(t, 'carol', 'bob');
    expect(await readSeq(t, 'bob', conversation!)).toBe(45);
  });

  it('groups: create, chat both ways with unread badges and read receipts, group info with members and presence, invite', async () => {
    const bob = await signIn('bob');
    const alice = await signIn('alice');
    await t.admin.ensureUserToken('carol');

    await alice.click('#new-group');
    await alice.fill('#group-name', 'Team');
    await alice.fill('#group-members', 'bob');
    await alice.press('#group-members', 'Enter');
    await alice.locator('#chat-title', { hasText: 'Team' }).waitFor();
    const key = await alice.locator('.conv.active').getAttribute('data-key');
    expect(key).toMatch(/^g:\d+$/);
    const groupId = key!.slice(2);

    // bob is told he was invited (system message 17): the group appears in his list
    await bob.locator(`.conv[data-key="${key}"]`, { hasText: 'Team' }).waitFor();
    await send(alice, 'hello team');
    await badge(bob, key!).filter({ hasText: '1' }).waitFor();
    await bob.click(`.conv[data-key="${key}"]`);
    await bob.locator('.msg:not(.mine)', { hasText: 'hello team' }).waitFor();
    await badge(bob, key!).waitFor({ state: 'detached' });
    await alice.locator('.msg.mine .receipt.read', { hasText: 'read by 1' }).waitFor();
    expect(await readSeq(t, 'bob', groupId)).toBe(1);

    await send(bob, 'hi from bob');
    await alice.locator('.msg:not(.mine)', { hasText: 'hi from bob' }).waitFor();
    expect(await badge(alice, key!).count()).toBe(0);

    // group info: members with roles and presence; invite carol
    await alice.click('#group-info');
    await alice.locator('#member-list li[data-user="bob"] .dot.online').waitFor();
    expect(await alice.locator('#panel-group-id').textContent()).toBe(groupId);
    expect(await alice.locator('#member-list li[data-user="alice"] .role').textContent()).toBe('owner');
    await alice.fill('#invite-users', 'carol');
    await alice.press('#invite-users', 'Enter');
    await alice.locator('#member-list li[data-user="carol"] .dot.offline').waitFor();
    expect(await alice.locator('#member-list li').count()).toBe(3);
    // bob, in the group, sees carol join
    await bob.locator('.note', { hasText: 'carol' }).waitFor();
    const members = await t.sql(`SELECT user_id FROM conversation_members WHERE conversation_id = $1`, [Number(groupId)]);
    expect(members).toHaveLength(3);

    // admins and mutes in the group view: the owner makes bob an admin, then mutes carol
    await alice.click('#member-list li[data-user="bob"] .role-toggle');
    await alice.locator('#member-list li[data-user="bob"] .role', { hasText: 'admin' }).waitFor();
    await alice.click('#member-list li[data-user="carol"] .mute-member');
    await alice.locator('#member-list li[data-user="carol"] .muted-until').waitFor();
    const [carolRow] = await t.sql(`SELECT muted_until FROM conversation_members WHERE conversation_id = $1 AND user_id = $2`, [Number(groupId), await userIdOf(t, 'carol')]);
    expect(Number(carolRow.muted_until)).toBeGreaterThan(Date.now());
    await bob.locator('.note', { hasText: 'is now an admin' }).waitFor();
    await bob.locator('.note', { hasText: 'muted until' }).waitFor();
    // bob, an admin, sees the invite code and may mute members but has no role buttons
    await bob.click('#group-info');
    await bob.locator('#invite-code').waitFor();
    expect(await bob.locator('#member-list li[data-user="carol"] .mute-member').textContent()).toBe('unmute');
    expect(await bob.locator('.role-toggle').count()).toBe(0);

    // "read by N" under my own group message; a click lists who read it
    await alice.click('.msg.mine .read-by');
    await alice.locator('#read-count', { hasText: 'Read (1)' }).waitFor();
    await alice.locator('#read-list li[data-user="bob"]').waitFor();
    // the count also comes from history (a fresh page load)
    await alice.reload();
    await alice.locator('body[data-connection="open"]').waitFor();
    await alice.click(`.conv[data-key="${key}"]`);
    await alice.locator('.msg.mine .receipt.read', { hasText: 'read by 1' }).waitFor();
  });

  it('replies, @mention autocomplete, edit and recall of own messages; edited and recalled states on the other side', async () => {
    const bob = await signIn('bob');
    const alice = await signIn('alice');
    alice.on('dialog', (dialog) => void dialog.accept());
    await alice.click('#new-group');
    await alice.fill('#group-name', 'Team');
    await alice.fill('#group-members', 'bob');
    await alice.press('#group-members', 'Enter');
    await alice.locator('#chat-title', { hasText: 'Team' }).waitFor();
    const key = (await alice.locator('.conv.active').getAttribute('data-key'))!;

    // @mention: typing "@bo" offers bob; picking him completes the text and the message mentions him
    await alice.fill('#message-input', 'hello @bo');
    await alice.locator('#message-input').dispatchEvent('input');
    await alice.click('.mention-option[data-id="bob"]');
    expect(await alice.inputValue('#message-input')).toBe('hello @bob ');
    await alice.press('#message-input', 'Enter');
    await alice.locator('.msg.mine', { hasText: 'hello @bob' }).waitFor();
    const [stored] = await t.sql(`SELECT mention_ids FROM messages WHERE content = 'hello @bob '`);
    expect(stored.mention_ids).toEqual([await userIdOf(t, 'bob')]);

    // bob replies: the quote shows above his text, on both sides
    await bob.click(`.conv[data-key="${key}"]`);
    await bob.locator('.msg:not(.mine) .act-reply').click();
    await bob.locator('#reply-bar', { hasText: 'Replying to' }).waitFor();
    await send(bob, 'yes?');
    await bob.locator('.msg.mine .quote', { hasText: 'hello @bob' }).waitFor();
    await alice.locator('.msg:not(.mine) .quote', { hasText: 'hello @bob' }).waitFor();

    // alice edits her message: bob sees the new text marked (edited)
    await alice.locator('.msg.mine .act-edit').click();
    await alice.fill('#message-input', 'hello bob, fixed');
    await alice.press('#message-input', 'Enter');
    await bob.locator('.msg:not(.mine)', { hasText: 'hello bob, fixed' }).locator('.edited').waitFor();

    // alice recalls it: bob sees it recalled, and no action is offered on it any more
    await alice.locator('.msg.mine .act-recall').click();
    await alice.locator('.msg.mine', { hasText: 'message recalled' }).waitFor();
    await bob.locator('.msg:not(.mine)', { hasText: 'message recalled' }).waitFor();
    expect(await bob.locator('.msg:not(.mine)', { hasText: 'message recalled' }).locator('.actions').count()).toBe(0);
    // read again through history, bob's quote of it reads [recalled]
    await bob.reload();
    await bob.locator('body[data-connection="open"]').waitFor();
    await bob.click(`.conv[data-key="${key}"]`);
    await bob.locator('.msg.mine .quote', { hasText: '[recalled]' }).waitFor();
  });

  it('the conversation list: a pinned section, a mute toggle that hides the badge, both synced to another device and to a new one', async () => {
    const bob = await signIn('bob');
    const carol = await signIn('carol');
    const alice = await signIn('alice');
    const aliceOther = await signIn('alice');
    await openChatWith(bob, 'alice');
    await send(bob, 'from bob');
    await openChatWith(carol, 'alice');
    await send(carol, 'from carol');
    await badge(alice, 'u:bob').filter({ hasText: '1' }).waitFor();
    await badge(alice, 'u:carol').filter({ hasText: '1' }).waitFor();
    expect(await alice.locator('.conv').evaluateAll((items) => items.map((item) => item.getAttribute('data-key')))).toEqual(['u:carol', 'u:bob']);

    // pin bob: a pinned section, bob first
    await alice.click('.conv[data-key="u:bob"] .pin-toggle');
    await alice.locator('#pinned-section').waitFor();
    expect(await alice.locator('.conv').evaluateAll((items) => items.map((item) => item.getAttribute('data-key')))).toEqual(['u:bob', 'u:carol']);
    // mute carol: no badge, a quiet dot; the count is still there (unread counts unchanged)
    await alice.click('.conv[data-key="u:carol"] .mute-toggle');
    await alice.locator('.conv[data-key="u:carol"] .quiet-dot').waitFor();
    expect(await badge(alice, 'u:carol').count()).toBe(0);
    expect(await readSeq(t, 'alice', (await directConversation(t, 'alice', 'carol'))!)).toBe(0);

    // the other device follows (type 24)
    await aliceOther.locator('.conv.pinned[data-key="u:bob"]').waitFor();
    await aliceOther.locator('.conv.muted-conv[data-key="u:carol"] .quiet-dot').waitFor();

    // a new device (empty cache) lists both from `conversations`, with the settings
    const fresh = await signIn('alice');
    await fresh.locator('#pinned-section').waitFor();
    await fresh.locator('.conv.pinned[data-key="u:bob"]').waitFor();
    await fresh.locator('.conv.muted-conv[data-key="u:carol"]').waitFor();
    const rows = await t.sql(`SELECT muted, pinned FROM conversation_members WHERE user_id = $1 ORDER BY conversation_id`, [await userIdOf(t, 'alice')]);
    expect(rows).toEqual([
      { muted: false, pinned: true },
      { muted: true, pinned: false },
    ]);
  });
});

describe('browser console settings', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('CONSOLE_ENABLED=false serves nothing there', async () => {
    t = await startTestServer({ CONSOLE_ENABLED: 'false' });
    expect((await fetch(`${t.baseUrl}/console/`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/console/config.json`)).status).toBe(404);
  });

  it('CONSOLE_PATH moves it, and config.json names WS_PATH', async () => {
    t = await startTestServer({ CONSOLE_PATH: '/ops/chat', WS_PATH: '/ws' });
    expect((await fetch(`${t.baseUrl}/ops/chat/`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/console/`)).status).toBe(404);
    expect(await (await fetch(`${t.baseUrl}/ops/chat/config.json`)).json()).toEqual({ ws_path: '/ws' });
  });
});
