import { formatTime, h } from './dom';
import { ChatMessage, Conversation, ImClient } from '../../packages/client/src';

/** What the search box needs from the console. */
export interface SearchDeps {
  client(): ImClient;
  /** Opens the conversation of a result. */
  open(conversation: Conversation): void;
  /** A conversation's title as the list shows it. */
  titleOf(conversation: Conversation): string;
  errorText(error: unknown): string;
}

const PAGE = 20;
const CJK = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}\p{scx=Bopomofo}]/u;
const WORD = /[\p{L}\p{N}\p{M}]/u;

/**
 * The parts of a query to mark in a result, as the server matches them (docs/search.md): words from
 * the start of a word, CJK runs anywhere. Lower-cased; the same rules as src/search/tokenizer.ts.
 */
export function queryTerms(query: string): Array<{ text: string; wordStart: boolean }> {
  const terms: Array<{ text: string; wordStart: boolean }> = [];
  let run = '';
  let cjk = false;
  const flush = () => {
    if (run) terms.push({ text: run, wordStart: !cjk });
    run = '';
  };
  for (const char of query.normalize('NFKC').toLowerCase()) {
    const isWord = WORD.test(char);
    const isCjk = isWord && CJK.test(char);
    if (!isWord || (run && isCjk !== cjk)) flush();
    if (isWord) {
      cjk = isCjk;
      run += char;
    }
  }
  flush();
  return terms;
}

/** `text` with every match of the query's terms in a <mark>. */
export function highlighted(text: string, query: string): Node[] {
  const lower = text.toLowerCase();
  const marks: Array<[number, number]> = [];
  for (const term of queryTerms(query)) {
    for (let at = lower.indexOf(term.text); at >= 0; at = lower.indexOf(term.text, at + 1)) {
      if (term.wordStart && at > 0 && WORD.test(lower[at - 1]) && !CJK.test(lower[at - 1])) continue;
      marks.push([at, at + term.text.length]);
    }
  }
  marks.sort((a, b) => a[0] - b[0]);
  const nodes: Node[] = [];
  let position = 0;
  for (const [start, end] of marks) {
    if (end <= position) continue;
    const from = Math.max(start, position);
    if (from > position) nodes.push(document.createTextNode(text.slice(position, from)));
    nodes.push(h('mark', {}, text.slice(from, end)));
    position = end;
  }
  if (position < text.length) nodes.push(document.createTextNode(text.slice(position)));
  return nodes;
}

function textOf(message: ChatMessage): string {
  if (message.type === 8) return `📎 ${String((message.extra as { file_name?: unknown }).file_name ?? '')}`;
  return message.content;
}

/**
 * The search box above the conversation list: results (newest first) replace the list while a search
 * is shown, each with its conversation, sender, time and the matches marked; a click opens the
 * conversation; "More" pages back; × or Escape returns to the list.
 */
export function searchBox(deps: SearchDeps): HTMLElement {
  const input = h('input', { id: 'search-input', type: 'text', placeholder: 'Search messages', maxlength: 100, autocomplete: 'off' });
  const results = h('ul', { id: 'search-results', class: 'search-results', hidden: true });
  let current: { query: string; before?: number } | undefined;
  let generation = 0;

  const close = () => {
    generation++;
    current = undefined;
    input.value = '';
    results.hidden = true;
    results.replaceChildren();
    document.getElementById('conv-list')?.removeAttribute('hidden');
  };

  const item = (message: ChatMessage, query: string) =>
    h(
      'li',
      { class: 'search-hit', 'data-msg-id': message.msg_id, onclick: () => (close(), deps.open(message.conversation)) },
      h(
        'div',
        { class: 'search-meta muted' },
        h('span', { class: 'search-conv' }, deps.titleOf(message.conversation)),
        // the sender, where the title does not already say it
        message.mine ? ' · you' : 'group' in message.conversation ? ` · ${message.nickname}` : '',
        ` · ${formatTime(message.time)}`,
      ),
      h('div', { class: 'search-text' }, ...highlighted(textOf(message), query)),
    );

  const load = async (more: boolean) => {
    if (!current) return;
    const mine = ++generation;
    const { query, before } = current;
    try {
      const page = await deps.client().search(query, { limit: PAGE, ...(more && before ? { before_msg_id: before } : {}) });
      if (mine !== generation) return;
      results.querySelector('.search-more')?.remove();
      if (!more) results.replaceChildren();
      results.append(...page.messages.map((message) => item(message, query)));
      if (!more && page.messages.length === 0) results.append(h('li', { class: 'search-empty muted' }, 'No messages found.'));
      current.before = page.messages[page.messages.length - 1]?.msg_id ?? before;
      if (page.has_more) results.append(h('li', { class: 'search-more' }, h('button', { class: 'link', onclick: () => void load(true) }, 'More')));
    } catch (error) {
      if (mine !== generation) return;
      results.replaceChildren(h('li', { class: 'search-empty muted' }, `search: ${deps.errorText(error)}`));
    }
  };

  const form = h(
    'form',
    {
      id: 'search-form',
      class: 'search-form',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const query = input.value.trim();
        if (!query) return close();
        current = { query };
        results.hidden = false;
        document.getElementById('conv-list')?.setAttribute('hidden', '');
        void load(false);
      },
      onkeydown: (event: KeyboardEvent) => event.key === 'Escape' && close(),
    },
    input,
    h('button', { type: 'button', id: 'search-clear', class: 'link', title: 'Back to the conversations', onclick: close }, '×'),
  );
  return h('div', { class: 'search' }, form, results);
}
