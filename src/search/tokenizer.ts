/**
 * The search tokenizer (docs/search.md). It runs in the application, not in the database, so that
 * PostgreSQL and the embedded database (PGlite) index and match exactly alike: neither's locale,
 * parser or extensions take part, only `tsvector`/`tsquery` as plain sets of lexemes.
 *
 * Text is normalized (NFKC, then lower case), then cut into runs of
 * - word characters (letters, digits, marks of scripts written with spaces): one lexeme per word;
 * - CJK characters (Han, Hiragana, Katakana, Hangul, Bopomofo): every character and every overlapping
 *   pair of characters is a lexeme, so any substring of the text can be looked up;
 * - anything else (spaces, punctuation, symbols): separators.
 */

/** Longest word kept as a lexeme; longer words are cut (a query word matches them as a prefix). */
export const MAX_WORD_CHARS = 100;

const CJK = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}\p{scx=Bopomofo}]/u;
const WORD = /[\p{L}\p{N}\p{M}]/u;

const enum Kind {
  Other,
  Word,
  Cjk,
}

interface Run {
  kind: Kind.Word | Kind.Cjk;
  /** code points */
  chars: string[];
  /** index of the first code point in the normalized text */
  start: number;
}

export function normalize(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

function kindOf(char: string): Kind {
  if (!WORD.test(char)) return Kind.Other;
  return CJK.test(char) ? Kind.Cjk : Kind.Word;
}

/** The word and CJK runs of normalized text, in order. */
function runs(chars: string[]): Run[] {
  const out: Run[] = [];
  let current: Run | undefined;
  for (let i = 0; i < chars.length; i++) {
    const kind = kindOf(chars[i]);
    if (kind === Kind.Other) {
      current = undefined;
      continue;
    }
    if (!current || current.kind !== kind) {
      current = { kind, chars: [], start: i };
      out.push(current);
    }
    current.chars.push(chars[i]);
  }
  return out;
}

/** What a message makes searchable: the text of type 1, the file name of type 8; nothing else. */
export function searchableText(type: number, content: string, extra: unknown): string | undefined {
  if (type === 1) return content;
  if (type === 8) {
    const name = (extra as { file_name?: unknown } | null)?.file_name;
    return typeof name === 'string' ? name : undefined;
  }
  return undefined;
}

/**
 * The lexemes of a message, space-separated (lexemes never contain spaces), for
 * `array_to_tsvector(string_to_array($tokens, ' '))`; null when nothing in it is searchable.
 * `extra` may be the object or its JSON text.
 */
export function messageTokens(type: number, content: string, extra: unknown): string | null {
  if (type !== 1 && type !== 8) return null;
  const text = searchableText(type, content, typeof extra === 'string' ? parseExtra(extra) : extra);
  if (!text) return null;
  const found = NON_ASCII.test(text) ? unicodeLexemes(text) : asciiLexemes(text);
  return found.size === 0 ? null : [...found].join(' ');
}

const NON_ASCII = /[^\x00-\x7f]/;
const ASCII_WORD = /[a-z0-9]+/g;

/**
 * The lexemes of ASCII text, the common case, without splitting it into code points: NFKC leaves
 * ASCII as it is, its word characters are [a-z0-9] once lower-cased, and none is CJK. The same
 * lexemes, in the same order, as unicodeLexemes (test/tokenizer.spec.ts).
 */
export function asciiLexemes(text: string): Set<string> {
  const found = new Set<string>();
  for (const word of text.toLowerCase().match(ASCII_WORD) ?? []) found.add(word.length > MAX_WORD_CHARS ? word.slice(0, MAX_WORD_CHARS) : word);
  return found;
}

/** The lexemes of any text, in order of first appearance. */
export function unicodeLexemes(text: string): Set<string> {
  const found = new Set<string>();
  for (const run of runs([...normalize(text)])) {
    if (run.kind === Kind.Word) {
      found.add(run.chars.slice(0, MAX_WORD_CHARS).join(''));
      continue;
    }
    for (let i = 0; i < run.chars.length; i++) {
      found.add(run.chars[i]);
      if (i + 1 < run.chars.length) found.add(run.chars[i] + run.chars[i + 1]);
    }
  }
  return found;
}

function parseExtra(extra: string): unknown {
  try {
    return JSON.parse(extra);
  } catch {
    return undefined;
  }
}

export interface ParsedQuery {
  /** For `search_tokens @@ $x::tsquery`: every lexeme ANDed, words as prefixes. */
  tsquery: string;
  /**
   * Normalized substrings the message text must contain, checked on the candidates the index found:
   * the lexemes only say that every pair of characters occurs somewhere, not that they are adjacent
   * and in this order (`東京都` must not match `京都と東京`).
   */
  phrases: string[];
}

function quote(lexeme: string): string {
  return `'${lexeme.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * The query (already 1–100 characters) as lexemes to match. Undefined when it holds no letter, digit
 * or CJK character at all (nothing could ever match it).
 *
 * Each space-separated word must occur (AND). A word of a spaced script matches words that start with
 * it, case-insensitively (`meet` finds `Meeting`, not `unmeet`). A CJK part matches wherever it occurs
 * as a substring; one CJK character matches that character.
 */
export function parseQuery(query: string): ParsedQuery | undefined {
  const terms: string[] = [];
  const phrases: string[] = [];
  const chars = [...normalize(query)];
  const all = runs(chars);
  for (const run of all) {
    if (run.kind === Kind.Word) {
      terms.push(`${quote(run.chars.slice(0, MAX_WORD_CHARS).join(''))}:*`);
    } else if (run.chars.length === 1) {
      terms.push(quote(run.chars[0]));
    } else {
      // pairs that cover the run (every other pair, and the last): the phrase check does the rest
      for (let i = 0; i + 1 < run.chars.length; i += 2) terms.push(quote(run.chars[i] + run.chars[i + 1]));
      if (run.chars.length % 2 === 1) terms.push(quote(run.chars[run.chars.length - 2] + run.chars[run.chars.length - 1]));
    }
  }
  // adjacent runs (no separator between them) that involve CJK are checked as one phrase: `15号`, `鈴虫が鳴く`
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].start === all[j].start + all[j].chars.length) j++;
    const group = all.slice(i, j + 1);
    const hasCjk = group.some((run) => run.kind === Kind.Cjk);
    const length = group.reduce((sum, run) => sum + run.chars.length, 0);
    if (hasCjk && (group.length > 1 || length > 2)) phrases.push(chars.slice(group[0].start, all[j].start + all[j].chars.length).join(''));
    i = j + 1;
  }
  if (terms.length === 0) return undefined;
  return { tsquery: [...new Set(terms)].join(' & '), phrases };
}

/** Whether a candidate's searchable text holds every phrase of the query. */
export function containsPhrases(text: string | undefined, phrases: string[]): boolean {
  if (phrases.length === 0) return true;
  if (!text) return false;
  const normalized = normalize(text);
  return phrases.every((phrase) => normalized.includes(phrase));
}
