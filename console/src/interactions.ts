import { h } from './dom';
import { ChatMessage, Reaction, ReactionEvent, TypingEvent } from '../../packages/client/src';

/** Reactions on messages, the typing line and clear history (PROTOCOL §4) for the console page. */

/** The emoji offered by the picker (any 1–8 code points would do for the server). */
export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢'];
/** How long "… is typing" stays without a new typing push (pushes come every 3–4 s while someone types). */
const TYPING_SHOWN_MS = 5_000;
/** The console tells the server at most this often that the user types (the server throttles too). */
const TYPING_SEND_EVERY_MS = 2_000;

/** The reaction chips of a message and a button that opens the emoji picker; `toggle` adds or removes mine. */
export function reactionBar(message: ChatMessage, toggle: (emoji: string, op: 'add' | 'remove') => void): HTMLElement | null {
  if (message.recalled) return null;
  const reactions = message.reactions ?? [];
  const picker = h(
    'span',
    { class: 'emoji-picker', hidden: true },
    ...QUICK_EMOJI.map((emoji) =>
      h('button', { type: 'button', class: 'pick', 'data-emoji': emoji, title: `React ${emoji}`, onclick: () => toggle(emoji, mineOf(reactions, emoji) ? 'remove' : 'add') }, emoji),
    ),
  );
  return h(
    'div',
    { class: 'reactions' },
    ...reactions.map((reaction) =>
      h(
        'button',
        {
          type: 'button',
          class: `reaction${reaction.me ? ' me' : ''}`,
          'data-emoji': reaction.emoji,
          title: reactorsText(reaction),
          onclick: () => toggle(reaction.emoji, reaction.me ? 'remove' : 'add'),
        },
        `${reaction.emoji} ${reaction.count}`,
      ),
    ),
    h('button', { type: 'button', class: 'add-reaction link', title: 'Add a reaction', onclick: () => (picker.hidden = !picker.hidden) }, '☺+'),
    picker,
  );
}

function mineOf(reactions: Reaction[], emoji: string): boolean {
  return reactions.some((reaction) => reaction.emoji === emoji && reaction.me);
}

function reactorsText(reaction: Reaction): string {
  const more = reaction.count - reaction.app_user_ids.length;
  return reaction.app_user_ids.join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/** Applies a reaction change (a push, or the reply to my own react) to the message's reactions. */
export function applyReaction(message: ChatMessage, change: ReactionEvent, me: string): void {
  const reactions = [...(message.reactions ?? [])];
  const index = reactions.findIndex((reaction) => reaction.emoji === change.emoji);
  const current: Reaction = index >= 0 ? { ...reactions[index] } : { emoji: change.emoji, count: 0, app_user_ids: [], me: false };
  current.count = change.count;
  const listed = current.app_user_ids.filter((id) => id !== change.app_user_id);
  current.app_user_ids = change.op === 'add' && listed.length < 10 ? [...listed, change.app_user_id] : listed;
  if (change.app_user_id === me) current.me = change.op === 'add';
  if (current.count === 0) {
    if (index >= 0) reactions.splice(index, 1);
  } else if (index >= 0) reactions[index] = current;
  else reactions.push(current);
  message.reactions = reactions.length > 0 ? reactions : undefined;
}

/** Who is typing where, each entry lapsing TYPING_SHOWN_MS after its last push. */
export class TypingIndicator {
  private readonly typists = new Map<string, Map<string, { name: string; until: number }>>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastSent = new Map<string, number>();

  constructor(private readonly changed: (key: string) => void) {}

  /** A `typing` push for conversation `key`. */
  onTyping(key: string, event: TypingEvent, name: string): void {
    let list = this.typists.get(key);
    if (!list) this.typists.set(key, (list = new Map()));
    list.set(event.app_user_id, { name, until: Date.now() + TYPING_SHOWN_MS });
    this.changed(key);
    this.schedule();
  }

  /** Someone's message arrived: they stopped typing it. */
  stopped(key: string, appUserId: string): void {
    if (this.typists.get(key)?.delete(appUserId)) this.changed(key);
  }

  /** The line under the messages: "bob is typing…", "bob and carol are typing…", or "". */
  line(key: string): string {
    const names = [...(this.typists.get(key)?.values() ?? [])].filter((entry) => entry.until > Date.now()).map((entry) => entry.name);
    if (names.length === 0) return '';
    if (names.length === 1) return `${names[0]} is typing…`;
    if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`;
    return 'several people are typing…';
  }

  /** Whether the user's keystroke in `key` should be told to the server now. */
  shouldSend(key: string): boolean {
    const now = Date.now();
    if (now - (this.lastSent.get(key) ?? 0) < TYPING_SEND_EVERY_MS) return false;
    this.lastSent.set(key, now);
    return true;
  }

  clear(): void {
    this.typists.clear();
    this.lastSent.clear();
    clearTimeout(this.timer);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    let next = Infinity;
    const now = Date.now();
    for (const [key, list] of this.typists) {
      for (const [id, entry] of list) {
        if (entry.until <= now) {
          list.delete(id);
          this.changed(key);
        } else next = Math.min(next, entry.until);
      }
      if (list.size === 0) this.typists.delete(key);
    }
    if (next !== Infinity) this.timer = setTimeout(() => this.schedule(), next - now + 10);
  }
}
