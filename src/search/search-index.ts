import { messageTokens } from './tokenizer';

/**
 * Keeping `messages.search_tokens` right (docs/search.md "Index maintenance"). Every statement that
 * writes a message's content or extra writes its lexemes in the same statement:
 * - storing (src/messaging/send-store.ts): `search_tokens = ${searchTokensSql('$8')}` with
 *   `$8 = searchTokensParam(type, content, extra)`;
 * - editing: the same, with the new content and extra;
 * - recalling (content and extra erased): `search_tokens = NULL`.
 * Search also skips recalled messages by `recalled_at`, so a recall that forgot it would still hide them.
 */

/** The lexemes of a message as one text parameter (null: nothing searchable, or SEARCH_INDEX=false). */
export function searchTokensParam(type: number, content: string, extra: unknown, enabled = true): string | null {
  return enabled ? messageTokens(type, content, extra) : null;
}

/** SQL turning that parameter (e.g. `$8`) into the stored tsvector (NULL stays NULL). */
export function searchTokensSql(param: string): string {
  return `array_to_tsvector(string_to_array(${param}::text, ' '))`;
}
