import { h } from './dom';
import { ChatMessage, EditEvent, GroupMember, Quote, RecallEvent } from '../../packages/client/src';

/** Console side of replies, @mentions, recall and edit (PROTOCOL §4; SDK recall/edit/editHistory). */

export interface MessageHandlers {
  reply(message: ChatMessage): void;
  edit(message: ChatMessage): void;
  recall(message: ChatMessage): void;
  versions(message: ChatMessage): void;
}

/** The quote above a reply's body (its preview reads "[recalled]" once the quoted message was). */
export function quoteOf(message: ChatMessage): HTMLElement | null {
  const quote = message.extra?.reply_to as Quote | undefined;
  if (!quote || typeof quote !== 'object' || typeof quote.msg_id !== 'number') return null;
  return h('div', { class: 'quote muted', 'data-quote': quote.msg_id }, h('strong', {}, quote.nickname || quote.app_user_id), ` ${quote.preview}`);
}

/** Reply on every message; edit (own texts) and recall (own messages, or any when I administer the group). */
export function messageActions(message: ChatMessage, canModerate: boolean, handlers: MessageHandlers): HTMLElement | null {
  if (message.recalled) return null;
  const buttons: HTMLElement[] = [h('button', { class: 'link act-reply', type: 'button', onclick: () => handlers.reply(message) }, 'reply')];
  if (message.mine && message.type === 1) buttons.push(h('button', { class: 'link act-edit', type: 'button', onclick: () => handlers.edit(message) }, 'edit'));
  if (message.mine || canModerate) buttons.push(h('button', { class: 'link act-recall', type: 'button', onclick: () => handlers.recall(message) }, 'recall'));
  if (message.edited_at) buttons.push(h('button', { class: 'link act-versions', type: 'button', onclick: () => handlers.versions(message) }, 'versions'));
  return h('span', { class: 'actions' }, ...buttons);
}

/** "(edited)" in a message's meta line. */
export function editedMark(message: ChatMessage): HTMLElement | null {
  return message.edited_at && !message.recalled ? h('span', { class: 'edited', title: new Date(message.edited_at).toLocaleString() }, '(edited)') : null;
}

/** Applies a type-20 event to the messages on screen; true when one of them changed. */
export function applyRecall(messages: ChatMessage[], event: RecallEvent): boolean {
  const message = messages.find((m) => m.msg_id === event.msg_id);
  if (!message || message.recalled) return false;
  Object.assign(message, { recalled: true, content: '', extra: {}, edited_at: undefined });
  return true;
}

/** Applies a type-21 event to the messages on screen; true when one of them changed. */
export function applyEdit(messages: ChatMessage[], event: EditEvent): boolean {
  const message = messages.find((m) => m.msg_id === event.msg_id);
  if (!message || message.recalled || (message.edited_at ?? 0) > event.edited_at) return false;
  Object.assign(message, { content: event.content, extra: event.extra, edited_at: event.edited_at });
  return true;
}

/** The members a text mentions (`@app_user_id`) and whether it says `@all`. */
export function mentionsIn(text: string, members: GroupMember[], me: string): { mentions: string[]; mentionAll: boolean } {
  const named = new Set<string>();
  for (const match of text.matchAll(/@([A-Za-z0-9_.@-]{1,64})/g)) named.add(match[1]);
  const mentions = members.map((m) => m.app_user_id).filter((id) => named.has(id) && id !== me);
  return { mentions, mentionAll: named.has('all') };
}

/** The `@prefix` being typed just before the caret, if any. */
export function mentionPrefix(input: HTMLTextAreaElement): string | undefined {
  const before = input.value.slice(0, input.selectionStart ?? input.value.length);
  return /(?:^|\s)@([A-Za-z0-9_.-]*)$/.exec(before)?.[1];
}

/** Suggestions for the `@prefix` being typed: members (and `all` for the owner and admins), at most 8. */
export function mentionSuggestions(prefix: string, members: GroupMember[], me: string, mayMentionAll: boolean): Array<{ id: string; label: string }> {
  const lower = prefix.toLowerCase();
  const found = members
    .filter((m) => m.app_user_id !== me && (m.app_user_id.toLowerCase().startsWith(lower) || m.nickname.toLowerCase().startsWith(lower)))
    .map((m) => ({ id: m.app_user_id, label: `${m.nickname} @${m.app_user_id}` }));
  if (mayMentionAll && 'all'.startsWith(lower)) found.unshift({ id: 'all', label: 'everyone @all' });
  return found.slice(0, 8);
}

/** Replaces the `@prefix` before the caret by `@id `. */
export function insertMention(input: HTMLTextAreaElement, id: string): void {
  const caret = input.selectionStart ?? input.value.length;
  const before = input.value.slice(0, caret).replace(/@([A-Za-z0-9_.-]*)$/, `@${id} `);
  input.value = before + input.value.slice(caret);
  input.selectionStart = input.selectionEnd = before.length;
  input.focus();
}
