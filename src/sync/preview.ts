/** Longest text preview, in Unicode code points (PROTOCOL §6). */
export const TEXT_PREVIEW_CHARS = 100;
/** Preview of a recalled message (PROTOCOL §6), also in quotes of it. */
export const RECALLED_PREVIEW = '[recalled]';

const PLACEHOLDERS: Record<number, string> = {
  2: '[voice]',
  3: '[image]',
  4: '[location]',
  5: '[red packet]',
  6: '[card]',
  7: '[video]',
};

/**
 * `last_message` of a sync item: the text itself (first 100 code points) for type 1, a placeholder
 * for the other types, `[file] name` for files. `content` is expected already cut to 100 characters
 * by the query (PostgreSQL's left() counts characters); it is cut again here so the rule holds on its own.
 */
export function lastMessagePreview(type: number, content: string | null, fileName: string | null, recalled = false): string {
  if (recalled) return RECALLED_PREVIEW;
  if (type === 1) return cutCodePoints(content ?? '', TEXT_PREVIEW_CHARS);
  if (type === 8) return fileName ? `[file] ${fileName}` : '[file]';
  return PLACEHOLDERS[type] ?? '[message]';
}

function cutCodePoints(text: string, max: number): string {
  if (text.length <= max) return text;
  let count = 0;
  let end = 0;
  for (const char of text) {
    if (count === max) break;
    end += char.length;
    count++;
  }
  return text.slice(0, end);
}
