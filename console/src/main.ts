import { $, formatBytes, formatTime, h, safeUrl } from './dom';
import { searchBox } from './search';
// the client SDK (packages/client, `@im-server/client`), bundled from its source
import { AckEvent, ChatMessage, Conversation, ConversationItem, EditEvent, GroupInfo, GroupMember, HistoryClearedEvent, ImClient, ImError, moderationReason, ReactionEvent, RecallEvent, SyncData, SystemMessage, TypingEvent } from '../../packages/client/src';
import { applyReaction, reactionBar, TypingIndicator } from './interactions';
import { applyEdit, applyRecall, editedMark, insertMention, mentionPrefix, mentionsIn, mentionSuggestions, messageActions, quoteOf } from './lifecycle';

/** How often presence is asked for the contacts on screen. */
const PRESENCE_POLL_MS = 15_000;
const PAGE_SIZE = 30;
const TOKEN_KEY = 'im-console-token';

interface ConvEntry {
  key: string;
  kind: 'direct' | 'group';
  id: string;
  title: string;
  preview: string;
  time: number;
  unread: number;
  /** Groups the user left or that were dissolved stay listed, read-only. */
  gone?: boolean;
  /** Per-user settings (setConversation): a muted conversation shows no badge; pinned ones are listed first. */
  muted?: boolean;
  pinned?: boolean;
}

interface ViewState {
  key: string;
  messages: ChatMessage[];
  hasMore: boolean;
  loadingOlder: boolean;
  notes: Array<{ time: number; text: string }>;
}

interface Stored {
  convs: ConvEntry[];
  /** direct: peer → highest msg_id they read; group: group id → reader → highest msg_id. */
  directReads: Record<string, number>;
  groupReads: Record<string, Record<string, number>>;
}

const state = {
  client: undefined as ImClient | undefined,
  me: '',
  convs: new Map<string, ConvEntry>(),
  view: undefined as ViewState | undefined,
  online: new Map<string, boolean>(),
  directReads: {} as Record<string, number>,
  groupReads: {} as Record<string, Record<string, number>>,
  /** Highest msg_id acked with status 2 per conversation in this session. */
  acked: new Map<string, number>(),
  /** A sync frame arrived on this client before (the next one follows a reconnect). */
  synced: false,
  /**
   * After a later sync frame the SDK emits the messages missed meanwhile as `message` events; the sync
   * counts already hold them. Messages stored at or before `countFloor` (server time) are not counted
   * again; while the floor is being asked for (`ping`), messages wait in `floorPending`.
   */
  countFloor: 0,
  floorPending: undefined as ChatMessage[] | undefined,
  group: undefined as GroupInfo | undefined,
  /** issue 13: the message the composer replies to or edits, and each open group's members (for @mentions). */
  replyTo: undefined as ChatMessage | undefined,
  editing: undefined as ChatMessage | undefined,
  members: new Map<string, GroupMember[]>(),
  presenceTimer: undefined as ReturnType<typeof setInterval> | undefined,
};

// ---------- conversations ----------

const keyOf = (conv: Conversation): string => ('group' in conv ? `g:${conv.group}` : `u:${conv.user}`);
const convOf = (key: string): Conversation => (key.startsWith('g:') ? { group: key.slice(2) } : { user: key.slice(2) });


function preview(message: Pick<ChatMessage, 'type' | 'content' | 'extra' | 'recalled'>): string {
  const extra = message.extra as Record<string, any>;
  if (message.recalled) return '[recalled]';
  switch (message.type) {
    case 1:
      return message.content.slice(0, 100);
    case 2:
      return '[voice]';
    case 3:
      return '[image]';
    case 4:
      return '[location]';
    case 5:
      return '[red packet]';
    case 6:
      return '[card]';
    case 7:
      return '[video]';
    case 8:
      return `[file] ${extra?.file_name ?? ''}`.trim();
    default:
      return `[type ${message.type}]`;
  }
}

function upsertConv(key: string, fields: Partial<ConvEntry>): ConvEntry {
  const existing = state.convs.get(key);
  const entry: ConvEntry = existing ?? { key, kind: key.startsWith('g:') ? 'group' : 'direct', id: key.slice(2), title: key.slice(2), preview: '', time: 0, unread: 0 };
  Object.assign(entry, fields);
  state.convs.set(key, entry);
  return entry;
}

function storageKey(): string {
  return `im-console:${state.me}`;
}

function load(): void {
  try {
    const stored = JSON.parse(localStorage.getItem(storageKey()) ?? 'null') as Stored | null;
    if (!stored) return;
    for (const entry of stored.convs ?? []) if (!state.convs.has(entry.key)) state.convs.set(entry.key, { ...entry, unread: 0 });
    state.directReads = stored.directReads ?? {};
    state.groupReads = stored.groupReads ?? {};
  } catch {
    // a broken cache is just dropped
  }
}

function save(): void {
  if (!state.me) return;
  const convs = sortedConvs().slice(0, 200);
  const stored: Stored = { convs, directReads: state.directReads, groupReads: state.groupReads };
  localStorage.setItem(storageKey(), JSON.stringify(stored));
}

function sortedConvs(): ConvEntry[] {
  return [...state.convs.values()].sort((a, b) => Number(Boolean(b.pinned)) - Number(Boolean(a.pinned)) || b.time - a.time);
}

// ---------- rendering ----------

function renderLogin(error = ''): void {
  document.body.replaceChildren(
    h(
      'main',
      { class: 'login' },
      h(
        'form',
        { id: 'login-form', onsubmit: (event: Event) => (event.preventDefault(), void signIn(($('#token') as HTMLTextAreaElement).value.trim())) },
        h('h1', {}, 'IM console'),
        h('p', { class: 'muted' }, 'Paste a user token (POST /admin/users/{app_user_id}/tokens).'),
        h('textarea', { id: 'token', rows: 5, placeholder: 'eyJ…', required: true, autofocus: true }),
        h('button', { id: 'connect', type: 'submit' }, 'Sign in'),
        error ? h('p', { class: 'error', id: 'login-error' }, error) : null,
      ),
    ),
  );
}

function renderShell(): void {
  document.body.replaceChildren(
    h(
      'div',
      { class: 'app' },
      h(
        'aside',
        { class: 'sidebar' },
        h(
          'header',
          { class: 'me' },
          h('span', { id: 'conn-state', class: 'dot', title: 'connection' }),
          h('strong', { id: 'me-name' }, state.me || '…'),
          h('button', { class: 'link', id: 'sign-out', onclick: signOut }, 'Sign out'),
        ),
        h(
          'div',
          { class: 'actions' },
          h('button', { id: 'new-chat', onclick: () => toggleForm('chat-form') }, 'New chat'),
          h('button', { id: 'new-group', onclick: () => toggleForm('group-form') }, 'New group'),
          h('button', { id: 'join-group', onclick: () => toggleForm('join-form') }, 'Join group'),
        ),
        h(
          'form',
          { id: 'chat-form', class: 'mini-form', hidden: true, onsubmit: onNewChat },
          h('input', { id: 'chat-user', placeholder: 'app_user_id', required: true }),
          h('button', { type: 'submit' }, 'Open'),
        ),
        h(
          'form',
          { id: 'group-form', class: 'mini-form', hidden: true, onsubmit: onNewGroup },
          h('input', { id: 'group-name', placeholder: 'group name', required: true, maxlength: 64 }),
          h('input', { id: 'group-members', placeholder: 'members: alice, bob' }),
          h('button', { type: 'submit' }, 'Create'),
        ),
        h(
          'form',
          { id: 'join-form', class: 'mini-form', hidden: true, onsubmit: onJoinGroup },
          h('input', { id: 'join-id', placeholder: 'group id', required: true, pattern: '[0-9]+' }),
          h('input', { id: 'join-code', placeholder: 'invite code', required: true }),
          h('button', { type: 'submit' }, 'Join'),
        ),
        searchBox({
          client,
          open: (conversation) => void openConversation(keyOf(conversation)),
          titleOf: (conversation) => state.convs.get(keyOf(conversation))?.title ?? ('group' in conversation ? `#${conversation.group}` : conversation.user),
          errorText,
        }),
        h('ul', { id: 'conv-list', class: 'conv-list' }),
      ),
      h('section', { id: 'chat', class: 'chat' }, h('div', { class: 'empty muted' }, 'Pick a conversation, or start one.')),
      h('aside', { id: 'group-panel', class: 'group-panel', hidden: true }),
      h('div', { id: 'toast', class: 'toast', hidden: true }),
    ),
  );
  renderState();
}

function toggleForm(id: string): void {
  for (const form of ['chat-form', 'group-form', 'join-form']) {
    const element = $(`#${form}`);
    element.hidden = form === id ? !element.hidden : true;
    if (form === id && !element.hidden) element.querySelector('input')?.focus();
  }
}

function renderState(): void {
  const dot = document.getElementById('conn-state');
  if (!dot) return;
  const value = state.client?.state ?? 'closed';
  dot.className = `dot state-${value}`;
  dot.title = value;
  document.body.dataset.connection = value;
}

function toast(text: string): void {
  const element = document.getElementById('toast');
  if (!element) return;
  element.textContent = text;
  element.hidden = false;
  clearTimeout((toast as any).timer);
  (toast as any).timer = setTimeout(() => (element.hidden = true), 5000);
}

function presenceDot(appUserId: string): HTMLElement {
  const online = appUserId === state.me ? state.client?.state === 'open' : state.online.get(appUserId);
  return h('span', { class: `dot presence ${online ? 'online' : 'offline'}`, 'data-user': appUserId, title: online ? 'online' : 'offline' });
}

function renderList(): void {
  const list = document.getElementById('conv-list');
  if (!list) return;
  const entries = sortedConvs();
  const pinned = entries.filter((entry) => entry.pinned);
  const rest = entries.filter((entry) => !entry.pinned);
  const items: HTMLElement[] = [];
  if (pinned.length > 0) {
    items.push(h('li', { class: 'conv-section muted', id: 'pinned-section' }, 'Pinned'), ...pinned.map(convItem));
    if (rest.length > 0) items.push(h('li', { class: 'conv-section muted' }, 'All'));
  }
  items.push(...rest.map(convItem));
  list.replaceChildren(...items);
}

function convItem(entry: ConvEntry): HTMLElement {
  const toggle = (event: Event, settings: { muted?: boolean; pinned?: boolean }) => {
    event.stopPropagation();
    void setConversation(entry.key, settings);
  };
  return h(
    'li',
    {
      class: `conv${state.view?.key === entry.key ? ' active' : ''}${entry.gone ? ' gone' : ''}${entry.pinned ? ' pinned' : ''}${entry.muted ? ' muted-conv' : ''}`,
      'data-key': entry.key,
      onclick: () => void openConversation(entry.key),
    },
    entry.kind === 'direct' ? presenceDot(entry.id) : h('span', { class: 'avatar-group', title: 'group' }, '#'),
    h('div', { class: 'conv-main' }, h('div', { class: 'conv-title' }, entry.title), h('div', { class: 'conv-preview muted' }, entry.preview)),
    h(
      'div',
      { class: 'conv-side' },
      h('span', { class: 'conv-time muted' }, formatTime(entry.time)),
      // a muted conversation shows no badge (PROTOCOL §6): a quiet dot when it has unread messages
      entry.unread > 0 ? (entry.muted ? h('span', { class: 'quiet-dot', title: `${entry.unread} unread (muted)` }) : h('span', { class: 'badge' }, entry.unread > 99 ? '99+' : entry.unread)) : null,
      entry.gone
        ? null
        : h(
            'span',
            { class: 'conv-tools' },
            h('button', { class: 'link pin-toggle', title: entry.pinned ? 'Unpin' : 'Pin', onclick: (event: Event) => toggle(event, { pinned: !entry.pinned }) }, entry.pinned ? 'unpin' : 'pin'),
            h('button', { class: 'link mute-toggle', title: entry.muted ? 'Unmute' : 'Mute', onclick: (event: Event) => toggle(event, { muted: !entry.muted }) }, entry.muted ? 'unmute' : 'mute'),
          ),
    ),
  );
}

async function setConversation(key: string, settings: { muted?: boolean; pinned?: boolean }): Promise<void> {
  try {
    const result = await client().setConversation(convOf(key), settings);
    upsertConv(key, { muted: result.muted, pinned: result.pinned });
    renderList();
    save();
  } catch (error) {
    toast(`settings: ${errorText(error)}`);
  }
}

/** The full conversation list (every conversation with a message, pinned ones included), asked once per sign-in. */
async function loadConversations(): Promise<void> {
  try {
    let page = await client().conversations({ limit: 100 });
    for (let pages = 0; ; pages++) {
      for (const item of page.conversations) upsertFromItem(item);
      const last = page.conversations.filter((item) => !item.pinned).pop();
      if (!page.has_more || !last || pages >= 4) break;
      page = await client().conversations({ limit: 100, before_time: last.time });
    }
    renderList();
    save();
  } catch (error) {
    toast(`conversations: ${errorText(error)}`);
  }
}

function upsertFromItem(item: ConversationItem): void {
  // counts come from the sync frame (and live messages): only titles, previews and settings here
  if (item.kind === 'direct') {
    upsertConv(`u:${item.app_user_id}`, { title: item.nickname || item.app_user_id, preview: item.last_message, time: item.time, muted: item.muted, pinned: item.pinned });
  } else {
    upsertConv(`g:${item.group_id}`, { title: item.group_name || item.group_id, preview: item.last_message, time: item.time, muted: item.muted, pinned: item.pinned, gone: false });
  }
}

function receiptOf(message: ChatMessage): HTMLElement | null {
  if (!message.mine) return null;
  if (message.group_id) {
    // read_count from history, raised by the receipts seen since
    const seen = Object.values(state.groupReads[message.group_id] ?? {}).filter((msgId) => msgId >= message.msg_id).length;
    const readers = Math.max(seen, message.read_count ?? 0);
    const groupId = message.group_id;
    return h(
      'button',
      { class: `receipt link read-by${readers > 0 ? ' read' : ''}`, title: 'Who has read it', onclick: () => void showReadBy(groupId, message.msg_id) },
      readers > 0 ? `✓✓ read by ${readers}` : '✓ sent',
    );
  }
  const read = (state.directReads[message.to_app_user_id ?? ''] ?? 0) >= message.msg_id;
  return h('span', { class: `receipt${read ? ' read' : ''}` }, read ? '✓✓ read' : '✓ sent');
}

function messageBody(message: ChatMessage): HTMLElement {
  const extra = (message.extra ?? {}) as Record<string, any>;
  if (message.recalled) return h('div', { class: 'body muted' }, 'message recalled');
  if (message.type === 1) return h('div', { class: 'body text' }, message.content);
  if (message.type === 3) {
    const url = safeUrl(extra.url);
    // the thumbnail (the server's own for uploaded images); the original when there is none or it fails
    const thumb = safeUrl(extra.thumb_url) ?? url;
    const width = Number(extra.thumbWidth) || 200;
    const height = Number(extra.thumbHeight) || 200;
    const img = thumb ? h('img', { src: thumb, width, height, alt: 'image', loading: 'lazy', class: 'thumb' }) : undefined;
    if (img && url && thumb !== url) (img as HTMLImageElement).onerror = () => ((img as HTMLImageElement).onerror = null, ((img as HTMLImageElement).src = url));
    return h('div', { class: 'body image' }, url && img ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, img) : '[image]');
  }
  if (message.type === 8) {
    const url = safeUrl(extra.download_url);
    const name = String(extra.file_name ?? 'file');
    const extension = /\.([A-Za-z0-9]{1,4})$/.exec(name)?.[1].toUpperCase() ?? 'FILE';
    return h(
      'div',
      { class: 'body file' },
      h('span', { class: 'file-icon', 'aria-hidden': 'true' }, extension),
      url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, name) : name,
      h('span', { class: 'muted' }, ` ${formatBytes(Number(extra.file_size))}`),
    );
  }
  return h('div', { class: 'body muted' }, preview(message));
}

function renderMessages(keepOffsetFromBottom?: number): void {
  const list = document.getElementById('messages');
  const view = state.view;
  if (!list || !view) return;
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const items: Node[] = [];
  if (view.hasMore) items.push(h('button', { id: 'load-older', class: 'link load-older', onclick: () => void loadOlder() }, view.loadingOlder ? 'Loading…' : 'Load older messages'));
  let lastDay = '';
  for (const message of view.messages) {
    const day = new Date(message.time).toDateString();
    if (day !== lastDay) {
      items.push(h('div', { class: 'day muted' }, new Date(message.time).toLocaleDateString()));
      lastDay = day;
    }
    const mine = message.mine;
    items.push(
      h(
        'div',
        { class: `msg${mine ? ' mine' : ''}`, 'data-msg-id': message.msg_id, 'data-seq': message.seq },
        !mine && message.group_id ? h('div', { class: 'sender muted' }, message.nickname || message.app_user_id) : null,
        message.recalled ? null : quoteOf(message),
        messageBody(message),
        message.recalled ? null : reactionBar(message, (emoji, op) => void onReact(message, emoji, op)),
        h('div', { class: 'meta muted' }, h('span', {}, formatTime(message.time)), editedMark(message), receiptOf(message), messageActions(message, canModerate(message), MESSAGE_HANDLERS)),
      ),
    );
  }
  for (const note of view.notes) items.push(h('div', { class: 'note muted' }, note.text));
  list.replaceChildren(...items);
  if (keepOffsetFromBottom !== undefined) list.scrollTop = list.scrollHeight - keepOffsetFromBottom;
  else if (nearBottom) list.scrollTop = list.scrollHeight;
}

function renderChat(): void {
  const section = document.getElementById('chat');
  const view = state.view;
  if (!section || !view) return;
  const entry = state.convs.get(view.key)!;
  // a re-render of the same conversation (history arrived, group edited) keeps what is being typed
  const previous = section.dataset.key === view.key ? document.getElementById('message-input') as HTMLTextAreaElement | null : null;
  const draft = previous?.value ?? '';
  section.dataset.key = view.key;
  section.replaceChildren(
    h(
      'header',
      { class: 'chat-header' },
      entry.kind === 'direct' ? presenceDot(entry.id) : h('span', { class: 'avatar-group' }, '#'),
      h('h2', { id: 'chat-title' }, entry.title),
      h('span', { class: 'muted' }, entry.kind === 'direct' ? `@${entry.id}` : `group ${entry.id}`),
      entry.kind === 'group' ? h('button', { id: 'group-info', class: 'link', onclick: () => void showGroupPanel(entry.id) }, 'Group info') : null,
      entry.gone ? null : h('button', { id: 'clear-history', class: 'link', title: 'Hide every message so far, on all your devices', onclick: () => void onClearHistory() }, 'Clear history'),
    ),
    h('div', { id: 'messages', class: 'messages' }),
    h('div', { id: 'typing-line', class: 'typing-line muted', 'aria-live': 'polite' }, typingIndicator.line(view.key)),
    entry.gone
      ? h('div', { class: 'composer muted' }, 'You are no longer a member of this group.')
      : h(
          'form',
          { id: 'composer', class: 'composer', onsubmit: onSend },
          h('button', { type: 'button', id: 'attach', class: 'icon', title: 'Image or file by URL', onclick: () => ($('#attach-form').hidden = !$('#attach-form').hidden) }, '+'),
          h('button', { type: 'button', id: 'upload', class: 'icon', title: 'Upload an image or a file', onclick: () => $<HTMLInputElement>('#upload-file').click() }, '⇪'),
          h('input', { id: 'upload-file', type: 'file', hidden: true, onchange: onUploadFile }),
          h('div', { id: 'reply-bar', class: 'reply-bar muted', hidden: true }),
          h('div', { id: 'mention-box', class: 'mention-box', hidden: true }),
          h('textarea', { id: 'message-input', rows: 1, placeholder: 'Message', onkeydown: onComposerKey, oninput: onComposerInput }),
          h('button', { type: 'submit', id: 'send' }, 'Send'),
        ),
    h(
      'form',
      { id: 'attach-form', class: 'attach-form', hidden: true, onsubmit: onSendAttachment },
      h('select', { id: 'attach-kind', onchange: onAttachKind }, h('option', { value: 'image' }, 'Image'), h('option', { value: 'file' }, 'File')),
      h('input', { id: 'attach-url', type: 'url', placeholder: 'https://…', required: true, onchange: onAttachUrl }),
      h('input', { id: 'attach-width', type: 'number', min: 1, placeholder: 'width', class: 'image-only' }),
      h('input', { id: 'attach-height', type: 'number', min: 1, placeholder: 'height', class: 'image-only' }),
      h('input', { id: 'attach-name', placeholder: 'file name', class: 'file-only', hidden: true }),
      h('input', { id: 'attach-size', type: 'number', min: 0, placeholder: 'size (bytes)', class: 'file-only', hidden: true }),
      h('button', { type: 'submit', id: 'attach-send' }, 'Send'),
    ),
  );
  renderMessages();
  const list = $('#messages');
  list.scrollTop = list.scrollHeight;
  list.addEventListener('scroll', () => {
    if (list.scrollTop < 40 && state.view?.hasMore && !state.view.loadingOlder) void loadOlder();
  });
  const input = document.getElementById('message-input') as HTMLTextAreaElement | null;
  if (input) {
    input.value = draft;
    input.focus();
  }
  // and what it replies to or edits
  if (state.replyTo || state.editing) setComposerTarget(state.replyTo, state.editing);
}

/** The read-by list of one of my group messages, in the side panel. */
async function showReadBy(groupId: string, msgId: number): Promise<void> {
  const panel = $('#group-panel');
  panel.hidden = false;
  panel.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  try {
    const result = await client().readBy(groupId, msgId, 500);
    const person = (reader: { app_user_id: string; nickname: string }) =>
      h('li', { 'data-user': reader.app_user_id }, h('span', {}, reader.nickname || reader.app_user_id), h('span', { class: 'muted' }, ` @${reader.app_user_id}`));
    panel.replaceChildren(
      h('header', { class: 'panel-header' }, h('h3', {}, 'Read by'), h('button', { class: 'link', id: 'close-panel', onclick: () => (panel.hidden = true) }, '×')),
      h('h4', { id: 'read-count' }, `Read (${result.read_count})`),
      h('ul', { id: 'read-list', class: 'member-list' }, ...result.read.map(person)),
      h('h4', { id: 'unread-count' }, `Not yet (${result.unread_count})`),
      h('ul', { id: 'unread-list', class: 'member-list' }, ...result.unread.map(person)),
    );
  } catch (error) {
    panel.replaceChildren(h('p', { class: 'error' }, errorText(error)));
  }
}

async function showGroupPanel(groupId: string): Promise<void> {
  const panel = $('#group-panel');
  panel.hidden = false;
  panel.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  try {
    state.group = await client().groupInfo(groupId);
  } catch (error) {
    panel.replaceChildren(h('p', { class: 'error' }, errorText(error)));
    return;
  }
  upsertConv(`g:${groupId}`, { title: state.group.group_name });
  renderGroupPanel();
  renderList();
  void pollPresence();
}

/** A group first seen through a message: its name comes from groupInfo. */
async function fetchGroupTitle(groupId: string): Promise<void> {
  try {
    const group = await client().groupInfo(groupId);
    upsertConv(`g:${groupId}`, { title: group.group_name });
    renderList();
    if (state.view?.key === `g:${groupId}`) {
      const title = document.getElementById('chat-title');
      if (title) title.textContent = group.group_name;
    }
    save();
  } catch {
    // the id stays as the title
  }
}

/** What I may do to a member (PROTOCOL §5): the owner sets roles; owner and admins mute (admins not admins; never the owner). */
function memberTools(group: GroupInfo, mine: GroupMember | undefined, member: GroupMember): HTMLElement | null {
  if (!mine || member.app_user_id === state.me || member.role === 'owner') return null;
  const buttons: HTMLElement[] = [];
  if (mine.role === 'owner') {
    const next = member.role === 'admin' ? 'member' : 'admin';
    buttons.push(h('button', { class: 'link role-toggle', onclick: () => void groupAction(() => client().setGroupRole(group.group_id, member.app_user_id, next)) }, next === 'admin' ? 'make admin' : 'remove admin'));
  }
  if (mine.role === 'owner' || (mine.role === 'admin' && member.role === 'member')) {
    const muted = member.muted_until > Date.now();
    buttons.push(
      h('button', { class: 'link mute-member', onclick: () => void groupAction(() => client().muteMember(group.group_id, member.app_user_id, muted ? 0 : 60)) }, muted ? 'unmute' : 'mute 1 h'),
    );
  }
  return buttons.length > 0 ? h('span', { class: 'member-tools' }, ...buttons) : null;
}

async function groupAction(action: () => Promise<GroupInfo>): Promise<void> {
  try {
    state.group = await action();
    renderGroupPanel();
  } catch (error) {
    toast(`group: ${errorText(error)}`);
  }
}

function renderGroupPanel(): void {
  const panel = document.getElementById('group-panel');
  const group = state.group;
  if (!panel || !group || panel.hidden) return;
  const mine = group.member_list.find((member) => member.app_user_id === state.me);
  const parts: Array<HTMLElement | null> = [
    h('header', { class: 'panel-header' }, h('h3', {}, group.group_name), h('button', { class: 'link', id: 'close-panel', onclick: () => (panel.hidden = true) }, '×')),
    h('dl', {}, h('dt', {}, 'Group id'), h('dd', { id: 'panel-group-id' }, group.group_id), ...(group.notice ? [h('dt', {}, 'Notice'), h('dd', {}, group.notice)] : [])),
    group.invite_code !== undefined
      ? h('div', { class: 'invite-code' }, h('span', { class: 'muted' }, 'Invite code '), h('code', { id: 'invite-code' }, group.invite_code))
      : null,
    h('h4', {}, `Members (${group.member_list.length})`),
    h(
      'ul',
      { id: 'member-list', class: 'member-list' },
      ...group.member_list.map((member) =>
        h(
          'li',
          { 'data-user': member.app_user_id },
          presenceDot(member.app_user_id),
          h('span', {}, member.nickname || member.app_user_id),
          h('span', { class: 'muted' }, ` @${member.app_user_id}`),
          member.role !== 'member' ? h('span', { class: 'role' }, member.role) : null,
          member.muted_until > Date.now() ? h('span', { class: 'muted-until', title: new Date(member.muted_until).toLocaleString() }, `muted until ${formatTime(member.muted_until)}`) : null,
          memberTools(group, mine, member),
        ),
      ),
    ),
    h(
      'form',
      { id: 'invite-form', class: 'mini-form', onsubmit: onInvite },
      h('input', { id: 'invite-users', placeholder: 'invite: carol, dave', required: true }),
      h('button', { type: 'submit' }, 'Invite'),
    ),
    mine && mine.role !== 'owner' ? h('button', { id: 'leave-group', class: 'danger', onclick: onLeave }, 'Leave group') : null,
  ];
  panel.replaceChildren(...parts.filter((part): part is HTMLElement => part !== null));
}

function updatePresenceDots(): void {
  for (const dot of document.querySelectorAll<HTMLElement>('.dot.presence')) {
    const user = dot.dataset.user ?? '';
    const online = user === state.me ? state.client?.state === 'open' : state.online.get(user) === true;
    dot.classList.toggle('online', online);
    dot.classList.toggle('offline', !online);
    dot.title = online ? 'online' : 'offline';
  }
}

// ---------- actions ----------

function client(): ImClient {
  if (!state.client) throw new Error('not connected');
  return state.client;
}

function splitIds(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((id) => id.trim())
    .filter(Boolean);
}

async function openConversation(key: string): Promise<void> {
  if (!state.convs.has(key)) upsertConv(key, {});
  const view: ViewState = { key, messages: [], hasMore: false, loadingOlder: false, notes: [] };
  state.view = view;
  state.replyTo = state.editing = undefined;
  if (key.startsWith('g:')) void loadMembers(key.slice(2));
  const panel = document.getElementById('group-panel');
  if (panel) panel.hidden = true;
  renderList();
  renderChat();
  try {
    const page = await client().history(convOf(key), { limit: PAGE_SIZE });
    if (state.view !== view) return;
    mergeMessages(view, page.messages);
    view.hasMore = page.has_more;
    const entry = state.convs.get(key)!;
    const newest = view.messages[view.messages.length - 1];
    if (newest) {
      const title = entry.kind === 'direct' ? view.messages.find((message) => message.app_user_id === entry.id)?.nickname : undefined;
      upsertConv(key, { preview: preview(newest), time: Math.max(entry.time, newest.time), ...(title ? { title } : {}) });
    }
    renderChat();
    markRead();
  } catch (error) {
    toast(`history: ${errorText(error)}`);
  }
  void pollPresence();
}

function mergeMessages(view: ViewState, messages: ChatMessage[]): void {
  const byId = new Map(view.messages.map((message) => [message.msg_id, message]));
  for (const message of messages) byId.set(message.msg_id, { ...byId.get(message.msg_id), ...message });
  view.messages = [...byId.values()].sort((a, b) => a.seq - b.seq);
}

async function loadOlder(): Promise<void> {
  const view = state.view;
  if (!view || view.loadingOlder || !view.hasMore) return;
  view.loadingOlder = true;
  const list = $('#messages');
  const offset = list.scrollHeight - list.scrollTop;
  renderMessages(offset);
  try {
    const oldest = view.messages[0]?.seq;
    const page = await client().history(convOf(view.key), oldest ? { before_seq: oldest, limit: PAGE_SIZE } : { limit: PAGE_SIZE });
    mergeMessages(view, page.messages);
    view.hasMore = page.has_more;
  } catch (error) {
    toast(`history: ${errorText(error)}`);
  } finally {
    view.loadingOlder = false;
  }
  if (state.view === view) renderMessages(list.scrollHeight > 0 ? offset : undefined);
}

/** The user sees the open conversation: ack (status 2) its newest message from someone else; the badge clears. */
function markRead(): void {
  const view = state.view;
  if (!view || document.visibilityState !== 'visible') return;
  const entry = state.convs.get(view.key);
  if (entry) entry.unread = 0;
  renderList();
  save();
  const newest = [...view.messages].reverse().find((message) => !message.mine);
  if (!newest || (state.acked.get(view.key) ?? 0) >= newest.msg_id) return;
  state.acked.set(view.key, newest.msg_id);
  client()
    .ack(convOf(view.key), newest.msg_id, 2)
    .catch((error) => {
      state.acked.delete(view.key);
      toast(`ack: ${errorText(error)}`);
    });
}

function onComposerKey(event: KeyboardEvent): void {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $<HTMLFormElement>('#composer').requestSubmit();
  }
}

/** Sends to the open conversation; the SDK emits the stored message as a `message` event (mine: true). */
async function sendMessage(message: { type: 1 | 3 | 8; content?: string; extra?: Record<string, unknown> }): Promise<boolean> {
  const view = state.view;
  if (!view) return false;
  try {
    await client().send(convOf(view.key), message);
    return true;
  } catch (error) {
    const reason = moderationReason(error);
    toast(reason !== undefined ? `not sent: rejected by moderation: ${reason}` : `not sent: ${errorText(error)}`);
    return false;
  }
}

/** A file picked with the upload button: uploaded (POST /media/uploads, then PUT), then sent as an image (type 3) or a file (type 8). */
async function onUploadFile(event: Event): Promise<void> {
  const input = event.target as HTMLInputElement;
  const file = input.files?.[0];
  input.value = '';
  const view = state.view;
  if (!file || !view) return;
  const button = $<HTMLButtonElement>('#upload');
  button.disabled = true;
  toast(`uploading ${file.name}…`);
  try {
    if (file.type.startsWith('image/')) {
      // the SDK reads PNG/GIF/JPEG/WebP sizes itself; other images are decoded by the browser
      const size = await createImageBitmap(file).then((bitmap) => ({ width: bitmap.width, height: bitmap.height }), () => undefined);
      await client().sendImage(convOf(view.key), file, { ...size, isOriginal: 1 });
    } else {
      await client().sendFile(convOf(view.key), file);
    }
    toast(`sent ${file.name}`);
  } catch (error) {
    toast(`not sent: ${errorText(error)}`);
  } finally {
    button.disabled = false;
  }
}

async function onSend(event: Event): Promise<void> {
  event.preventDefault();
  const input = $<HTMLTextAreaElement>('#message-input');
  const text = input.value;
  if (!text.trim()) return;
  input.value = '';
  const view = state.view;
  const groupId = view?.key.startsWith('g:') ? view.key.slice(2) : undefined;
  const { mentions, mentionAll } = groupId ? mentionsIn(text, state.members.get(groupId) ?? [], state.me) : { mentions: [], mentionAll: false };
  const refs = groupId ? { ...(mentions.length > 0 ? { mentions } : {}), ...(mentionAll ? { mention_all: true } : {}) } : {};
  let done: boolean;
  if (state.editing && view) {
    const editing = state.editing;
    const extra = { ...refs, ...(editing.extra?.reply_to ? { reply_to: editing.extra.reply_to } : {}) };
    done = await client()
      .edit(convOf(view.key), editing.msg_id, text, extra)
      .then((result) => {
        applyEdit(view.messages, { ...result });
        renderMessages();
        return true;
      })
      .catch((error) => {
        toast(`not edited: ${errorText(error)}`);
        return false;
      });
  } else {
    const extra: Record<string, unknown> = { ...refs };
    if (state.replyTo) extra.reply_to = state.replyTo.msg_id;
    done = await sendMessage({ type: 1, content: text, extra });
  }
  if (done) setComposerTarget(undefined, undefined);
  else input.value = text;
  input.focus();
}

// ---------- replies, mentions, edit, recall (issue 13) ----------

const MESSAGE_HANDLERS = {
  reply: (message: ChatMessage) => setComposerTarget(message, undefined),
  edit: (message: ChatMessage) => {
    setComposerTarget(undefined, message);
    const input = $<HTMLTextAreaElement>('#message-input');
    input.value = message.content;
    input.focus();
  },
  recall: (message: ChatMessage) => {
    if (!confirm('Recall this message for everyone?')) return;
    client()
      .recall(message.conversation, message.msg_id)
      .then(() => {
        if (state.view && applyRecall(state.view.messages, { msg_id: message.msg_id, seq: message.seq, by: { app_user_id: state.me, nickname: '' } })) renderMessages();
      })
      .catch((error) => toast(`not recalled: ${errorText(error)}`));
  },
  versions: (message: ChatMessage) => {
    client()
      .editHistory(message.conversation, message.msg_id)
      .then((versions) => toast(versions.map((v) => `${formatTime(v.edited_at)}: ${v.content}`).join('  →  ')))
      .catch((error) => toast(`versions: ${errorText(error)}`));
  },
};

/** Owners and admins of a group may recall anyone's message there. */
function canModerate(message: ChatMessage): boolean {
  if (!message.group_id) return false;
  const me = state.members.get(message.group_id)?.find((m) => m.app_user_id === state.me);
  return me?.role === 'owner' || me?.role === 'admin';
}

/** Shows what the composer will do: reply to a message, edit one, or send a new one. */
function setComposerTarget(replyTo: ChatMessage | undefined, editing: ChatMessage | undefined): void {
  state.replyTo = replyTo;
  state.editing = editing;
  const bar = document.getElementById('reply-bar');
  if (!bar) return;
  const target = replyTo ?? editing;
  bar.hidden = !target;
  bar.replaceChildren(
    ...(target
      ? [
          h('span', {}, `${replyTo ? 'Replying to' : 'Editing'} ${target.nickname || target.app_user_id}: ${preview(target)}`),
          h('button', { type: 'button', class: 'link', id: 'reply-cancel', onclick: () => setComposerTarget(undefined, undefined) }, 'cancel'),
        ]
      : []),
  );
}

/** Typing: the typing hint (throttled) and, in groups, @mention autocomplete. */
function onComposerInput(): void {
  sendTypingHint();
  showMentionSuggestions();
}

/** @mention autocomplete in groups: members matching what follows the `@` before the caret. */
function showMentionSuggestions(): void {
  const box = document.getElementById('mention-box');
  const view = state.view;
  if (!box || !view?.key.startsWith('g:')) return;
  const input = $<HTMLTextAreaElement>('#message-input');
  const prefix = mentionPrefix(input);
  const members = state.members.get(view.key.slice(2)) ?? [];
  const me = members.find((m) => m.app_user_id === state.me);
  const found = prefix === undefined ? [] : mentionSuggestions(prefix, members, state.me, me?.role === 'owner' || me?.role === 'admin');
  box.hidden = found.length === 0;
  box.replaceChildren(
    ...found.map((item) =>
      h('button', { type: 'button', class: 'mention-option', 'data-id': item.id, onclick: () => { insertMention(input, item.id); box.hidden = true; } }, item.label),
    ),
  );
}

async function loadMembers(groupId: string): Promise<void> {
  try {
    state.members.set(groupId, (await client().groupInfo(groupId)).member_list);
    if (state.view?.key !== `g:${groupId}`) return;
    renderMessages();
    showMentionSuggestions(); // an @ typed before the members arrived gets its suggestions now
  } catch {
    // no autocomplete for this group
  }
}

function onRecall(event: RecallEvent): void {
  if (state.view && applyRecall(state.view.messages, event)) {
    renderMessages();
    const newest = state.view.messages[state.view.messages.length - 1];
    if (newest?.msg_id === event.msg_id) upsertConv(state.view.key, { preview: '[recalled]' });
    renderList();
  }
}

function onEdit(event: EditEvent): void {
  if (state.view && applyEdit(state.view.messages, event)) renderMessages();
}

function onAttachKind(): void {
  const kind = $<HTMLSelectElement>('#attach-kind').value;
  for (const element of document.querySelectorAll<HTMLElement>('.image-only')) element.hidden = kind !== 'image';
  for (const element of document.querySelectorAll<HTMLElement>('.file-only')) element.hidden = kind !== 'file';
}

/** Fills in an image's size by loading it, and a file's name from the URL. */
function onAttachUrl(): void {
  const url = safeUrl($<HTMLInputElement>('#attach-url').value);
  if (!url) return;
  if ($<HTMLSelectElement>('#attach-kind').value === 'file') {
    const name = $<HTMLInputElement>('#attach-name');
    if (!name.value) name.value = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'file');
    return;
  }
  const image = new Image();
  image.onload = () => {
    $<HTMLInputElement>('#attach-width').value = String(image.naturalWidth || 200);
    $<HTMLInputElement>('#attach-height').value = String(image.naturalHeight || 200);
  };
  image.src = url;
}

function imageSize(url: string): Promise<{ width: number; height: number } | undefined> {
  return new Promise((resolve) => {
    const image = new Image();
    image.onload = () => resolve(image.naturalWidth && image.naturalHeight ? { width: image.naturalWidth, height: image.naturalHeight } : undefined);
    image.onerror = () => resolve(undefined);
    image.src = url;
  });
}

/** A stable etag for a file given by URL (the server needs one; it is not used to fetch anything). */
function etagOf(url: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < url.length; i++) hash = Math.imul(hash ^ url.charCodeAt(i), 0x01000193) >>> 0;
  return `url-${hash.toString(16).padStart(8, '0')}-${url.length}`;
}

async function onSendAttachment(event: Event): Promise<void> {
  event.preventDefault();
  const url = safeUrl($<HTMLInputElement>('#attach-url').value.trim());
  if (!url) return toast('an http or https URL is needed');
  const kind = $<HTMLSelectElement>('#attach-kind').value;
  let sent: boolean;
  if (kind === 'image') {
    let width = Number($<HTMLInputElement>('#attach-width').value);
    let height = Number($<HTMLInputElement>('#attach-height').value);
    if (!(width > 0 && height > 0)) {
      const size = await imageSize(url);
      if (!size) return toast('could not load the image: give its width and height');
      ({ width, height } = size);
    }
    sent = await sendMessage({ type: 3, content: '', extra: { url, width: Math.round(width), height: Math.round(height), is_original: 2 } });
  } else {
    const name = $<HTMLInputElement>('#attach-name').value.trim() || decodeURIComponent(new URL(url).pathname.split('/').pop() || 'file');
    const size = Math.max(0, Math.round(Number($<HTMLInputElement>('#attach-size').value) || 0));
    sent = await sendMessage({ type: 8, content: '', extra: { file_name: name.slice(0, 255), file_size: size, etag: etagOf(url), download_url: url } });
  }
  if (sent) {
    $<HTMLFormElement>('#attach-form').reset();
    $('#attach-form').hidden = true;
    onAttachKind();
  }
}

function onNewChat(event: Event): void {
  event.preventDefault();
  const input = $<HTMLInputElement>('#chat-user');
  const id = input.value.trim();
  if (!id) return;
  if (id === state.me) return toast('that is you');
  input.value = '';
  $('#chat-form').hidden = true;
  void openConversation(`u:${id}`);
}

async function onNewGroup(event: Event): Promise<void> {
  event.preventDefault();
  const name = $<HTMLInputElement>('#group-name').value.trim();
  const members = splitIds($<HTMLInputElement>('#group-members').value).filter((id) => id !== state.me);
  try {
    const group = await client().createGroup({ group_name: name, app_user_ids: members });
    $<HTMLFormElement>('#group-form').reset();
    $('#group-form').hidden = true;
    upsertConv(`g:${group.group_id}`, { title: group.group_name, time: Date.now(), preview: 'group created' });
    await openConversation(`g:${group.group_id}`);
  } catch (error) {
    toast(`createGroup: ${errorText(error)}`);
  }
}

async function onJoinGroup(event: Event): Promise<void> {
  event.preventDefault();
  const groupId = $<HTMLInputElement>('#join-id').value.trim();
  const code = $<HTMLInputElement>('#join-code').value.trim();
  try {
    const group = await client().joinGroup(groupId, code);
    $<HTMLFormElement>('#join-form').reset();
    $('#join-form').hidden = true;
    upsertConv(`g:${groupId}`, { title: group.group_name ?? groupId, time: Date.now(), preview: 'joined', gone: false });
    await openConversation(`g:${groupId}`);
  } catch (error) {
    toast(`joinGroup: ${errorText(error)}`);
  }
}

async function onInvite(event: Event): Promise<void> {
  event.preventDefault();
  const group = state.group;
  if (!group) return;
  const ids = splitIds($<HTMLInputElement>('#invite-users').value);
  try {
    await client().inviteToGroup(group.group_id, ids);
    await showGroupPanel(group.group_id);
  } catch (error) {
    toast(`inviteToGroup: ${errorText(error)}`);
  }
}

async function onLeave(): Promise<void> {
  const group = state.group;
  if (!group || !confirm(`Leave ${group.group_name}?`)) return;
  try {
    await client().leaveGroup(group.group_id);
    upsertConv(`g:${group.group_id}`, { gone: true, unread: 0 });
    $('#group-panel').hidden = true;
    save();
    renderList();
    if (state.view?.key === `g:${group.group_id}`) renderChat();
  } catch (error) {
    toast(`leaveGroup: ${errorText(error)}`);
  }
}

// ---------- pushes ----------

// ---------- reactions, typing, clear history ----------

const typingIndicator = new TypingIndicator((key) => {
  if (state.view?.key === key) renderTypingLine();
});

function renderTypingLine(): void {
  const line = document.getElementById('typing-line');
  if (line && state.view) line.textContent = typingIndicator.line(state.view.key);
}

/** Adds or removes my reaction; the reply carries the new count (my other devices get the push). */
async function onReact(message: ChatMessage, emoji: string, op: 'add' | 'remove'): Promise<void> {
  try {
    const result = await client().react(message.conversation, message.msg_id, emoji, op);
    onReaction(result);
  } catch (error) {
    toast(`reaction: ${errorText(error)}`);
  }
}

function onReaction(change: ReactionEvent): void {
  const message = state.view?.messages.find((m) => m.msg_id === change.msg_id);
  if (!message) return;
  applyReaction(message, change, state.me);
  renderMessages();
}

function onTyping(event: TypingEvent): void {
  const key = keyOf(event.conversation);
  const entry = state.convs.get(key);
  const name = entry?.kind === 'direct' ? entry.title : event.app_user_id;
  typingIndicator.onTyping(key, event, name || event.app_user_id);
}

function sendTypingHint(): void {
  const view = state.view;
  if (!view || !typingIndicator.shouldSend(view.key)) return;
  client()
    .typing(convOf(view.key))
    .catch(() => undefined); // a lost typing hint is not worth a toast
}

async function onClearHistory(): Promise<void> {
  const view = state.view;
  if (!view || !window.confirm('Clear the history of this conversation on all your devices? Others keep theirs.')) return;
  try {
    const seq = await client().clearHistory(convOf(view.key));
    historyCleared({ seq, conversation: convOf(view.key) });
  } catch (error) {
    toast(`clear history: ${errorText(error)}`);
  }
}

/** Cleared here or on another device of mine (type 23): messages up to seq go, the badge clears. */
function historyCleared(cleared: HistoryClearedEvent): void {
  const key = keyOf(cleared.conversation);
  const entry = state.convs.get(key);
  if (entry) entry.unread = 0;
  const view = state.view;
  if (view?.key === key) {
    view.messages = view.messages.filter((message) => message.seq > cleared.seq);
    view.notes = [];
    view.hasMore = false;
    renderMessages();
  }
  renderList();
  save();
}

function errorText(error: unknown): string {
  return error instanceof ImError ? `${error.msg} (${error.code})` : (error as Error).message;
}

function onChatMessage(message: ChatMessage): void {
  const key = keyOf(message.conversation);
  const mine = message.mine;
  const entry = state.convs.get(key);
  const fields: Partial<ConvEntry> = { preview: preview(message), time: Math.max(entry?.time ?? 0, message.time) };
  if (!mine && message.group_id === undefined) fields.title = message.nickname || message.app_user_id;
  const open = state.view?.key === key;
  const seen = open && document.visibilityState === 'visible';
  if (!mine && !seen) {
    if (state.floorPending) state.floorPending.push(message);
    else if (message.time > state.countFloor) fields.unread = (entry?.unread ?? 0) + 1;
  }
  upsertConv(key, fields);
  if (!mine) typingIndicator.stopped(key, message.app_user_id);
  if (!entry && message.group_id !== undefined) void fetchGroupTitle(message.group_id);
  if (open) {
    const title = document.getElementById('chat-title');
    if (title && fields.title) title.textContent = fields.title;
    mergeMessages(state.view!, [message]);
    renderMessages();
    if (seen && !mine) markRead();
  }
  renderList();
  save();
}

function onSync(sync: SyncData): void {
  const me = client().appUserId;
  if (me && !state.me) {
    state.me = me;
    $('#me-name').textContent = state.me;
    load();
  }
  // the sync frame lists exactly the conversations with unread messages (after a reconnect the SDK
  // then emits what arrived meanwhile as `message` events, which these counts already include)
  for (const entry of state.convs.values()) entry.unread = 0;
  for (const item of sync.friendList ?? []) {
    const key = `u:${item.app_user_id}`;
    upsertConv(key, { title: item.nickname || item.app_user_id, preview: item.last_message, time: item.time, unread: item.count, muted: item.muted, pinned: item.pinned });
  }
  for (const item of sync.groupList ?? []) {
    const key = `g:${item.group_id}`;
    upsertConv(key, { title: item.group_name || item.group_id, preview: item.last_message, time: item.time, unread: item.count, gone: false, muted: item.muted, pinned: item.pinned });
  }
  if (state.synced) holdCountsUntilFloor();
  state.synced = true;
  document.body.dataset.syncs = String(Number(document.body.dataset.syncs ?? 0) + 1);
  renderList();
  save();
  // the open conversation is being looked at: its messages are read
  if (state.view) markRead();
  void pollPresence();
}

/** Asks the server's time once the sync counts are set; messages up to it are in those counts. */
function holdCountsUntilFloor(): void {
  if (state.floorPending) return;
  const pending: ChatMessage[] = [];
  state.floorPending = pending;
  document.body.dataset.countHold = 'on';
  const release = (floor: number) => {
    if (state.floorPending !== pending) return;
    state.floorPending = undefined;
    document.body.dataset.countHold = 'off';
    state.countFloor = Math.max(state.countFloor, floor);
    for (const message of pending) {
      const key = keyOf(message.conversation);
      const entry = state.convs.get(key);
      const seen = state.view?.key === key && document.visibilityState === 'visible';
      if (entry && !seen && message.time > state.countFloor) entry.unread += 1;
    }
    renderList();
    save();
  };
  client()
    .ping()
    .then(release, () => release(Math.max(0, ...pending.map((message) => message.time))));
}

function onAck(receipt: AckEvent): void {
  if (receipt.status !== 2) return;
  if (receipt.app_user_id === state.me) {
    // read on another device of mine: refresh the counts
    void client()
      .sync()
      .then(onSync, () => undefined);
    return;
  }
  if (receipt.group_id) {
    const readers = (state.groupReads[receipt.group_id] ??= {});
    readers[receipt.app_user_id] = Math.max(readers[receipt.app_user_id] ?? 0, receipt.msg_id);
  } else {
    state.directReads[receipt.app_user_id] = Math.max(state.directReads[receipt.app_user_id] ?? 0, receipt.msg_id);
  }
  save();
  renderMessages();
}

const SYSTEM_TEXT: Record<number, (message: SystemMessage) => string> = {
  12: () => 'group edited',
  13: () => 'group dissolved',
  14: (m) => `${names(m.extra?.removed_member_list)} removed`,
  15: (m) => `${m.extra?.member?.nickname ?? m.extra?.member?.app_user_id ?? 'someone'} left`,
  16: (m) => `${names(m.extra?.member_list)} joined`,
  17: (m) => `invited by ${m.extra?.inviter?.nickname ?? m.extra?.inviter?.app_user_id ?? 'someone'}`,
  18: (m) => `${m.extra?.member?.nickname ?? m.extra?.member?.app_user_id ?? 'someone'} is now ${m.extra?.role === 'admin' ? 'an admin' : 'a member'}`,
  22: (m) =>
    m.extra?.muted_until
      ? `${m.extra?.member?.nickname ?? m.extra?.member?.app_user_id ?? 'someone'} muted until ${formatTime(Number(m.extra.muted_until))}`
      : `${m.extra?.member?.nickname ?? m.extra?.member?.app_user_id ?? 'someone'} unmuted`,
};

function names(list: unknown): string {
  return Array.isArray(list) ? list.map((member: any) => member.nickname || member.app_user_id).join(', ') : 'members';
}

function onSystemMessage(message: SystemMessage): void {
  if (message.type === 24) {
    // settings changed on another device of mine
    const key = message.extra?.group_id ? `g:${message.extra.group_id}` : `u:${message.extra?.to_app_user_id}`;
    if (state.convs.has(key)) {
      upsertConv(key, { muted: Boolean(message.extra?.muted), pinned: Boolean(message.extra?.pinned) });
      renderList();
      save();
    }
    return;
  }
  const groupId = message.group_id ?? message.extra?.group_id;
  const text = SYSTEM_TEXT[message.type]?.(message);
  if (!groupId || !text) return;
  const key = `g:${groupId}`;
  const fields: Partial<ConvEntry> = { time: Math.max(state.convs.get(key)?.time ?? 0, message.time), preview: text };
  if (message.type === 17) Object.assign(fields, { title: message.extra?.group_info?.group_name ?? groupId, gone: false });
  if (message.type === 12 && typeof message.extra?.group_name === 'string') fields.title = message.extra.group_name;
  if (message.type === 13) fields.gone = true;
  if (message.type === 14 && (message.extra?.removed_member_list ?? []).some((member: any) => member.app_user_id === state.me)) fields.gone = true;
  if (message.type === 15 && message.extra?.member?.app_user_id === state.me) fields.gone = true;
  upsertConv(key, fields);
  if (state.view?.key === key) {
    state.view.notes.push({ time: message.time, text });
    if (fields.gone) renderChat();
    else renderMessages();
  }
  if (state.group?.group_id === groupId && !$('#group-panel').hidden && !fields.gone) void showGroupPanel(groupId);
  renderList();
  save();
}

async function pollPresence(): Promise<void> {
  if (state.client?.state !== 'open') return;
  const ids = new Set<string>();
  for (const entry of state.convs.values()) if (entry.kind === 'direct') ids.add(entry.id);
  if (state.group && !$('#group-panel').hidden) for (const member of state.group.member_list) ids.add(member.app_user_id);
  ids.delete(state.me);
  const list = [...ids].slice(0, 100);
  if (list.length === 0) return;
  try {
    const online = await client().presence(list);
    for (const id of list) state.online.set(id, online[id] === true);
    updatePresenceDots();
  } catch {
    // the next poll tries again
  }
}

// ---------- session ----------

async function wsUrl(): Promise<string> {
  let path = '/';
  try {
    const config = await (await fetch('config.json', { cache: 'no-store' })).json();
    if (typeof config.ws_path === 'string') path = config.ws_path;
  } catch {
    // the default path
  }
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}

async function signIn(token: string): Promise<void> {
  if (!token) return;
  const imClient = new ImClient({ url: await wsUrl(), getToken: () => token, auth: 'in-band' });
  state.client = imClient;
  state.me = '';
  state.convs.clear();
  state.view = undefined;
  state.synced = false;
  state.countFloor = 0;
  state.floorPending = undefined;
  state.acked.clear();
  typingIndicator.clear();
  renderShell();
  imClient.on('state', (value, detail) => {
    renderState();
    // the SDK gave up (token expired or refused, replaced by a newer connection…)
    if (value === 'closed' && detail.error && state.client === imClient) {
      state.client = undefined;
      sessionStorage.removeItem(TOKEN_KEY);
      renderLogin(`Disconnected: ${errorText(detail.error)}`);
    }
  });
  imClient.on('sync', onSync);
  imClient.on('message', onChatMessage);
  imClient.on('ack', onAck);
  imClient.on('systemMessage', onSystemMessage);
  imClient.on('recall', onRecall);
  imClient.on('edit', onEdit);
  imClient.on('reaction', onReaction);
  imClient.on('typing', onTyping);
  imClient.on('historyCleared', historyCleared);
  try {
    await imClient.connect();
    sessionStorage.setItem(TOKEN_KEY, token);
    void loadConversations();
  } catch (error) {
    if (state.client === imClient) state.client = undefined;
    imClient.close();
    sessionStorage.removeItem(TOKEN_KEY);
    renderLogin(`Could not sign in: ${errorText(error)}`);
    return;
  }
  clearInterval(state.presenceTimer);
  state.presenceTimer = setInterval(() => void pollPresence(), PRESENCE_POLL_MS);
}

function signOut(): void {
  clearInterval(state.presenceTimer);
  state.client?.close();
  state.client = undefined;
  sessionStorage.removeItem(TOKEN_KEY);
  renderLogin();
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') markRead();
});

function start(): void {
  // a token in the fragment (never sent to the server) signs in directly: /console/#token=…
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) history.replaceState(null, '', location.pathname + location.search);
  const token = fromHash ?? sessionStorage.getItem(TOKEN_KEY);
  if (token) void signIn(token);
  else renderLogin();
}

start();
