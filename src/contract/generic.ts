/**
 * The rules every request obeys whatever its action or transport (PROTOCOL §3 "Rules for every
 * request", §8 bodies): bounded nesting, and no string (keys included) holding U+0000 or an unpaired
 * UTF-16 surrogate. Used by the WebSocket adapter on every frame and by the admin REST body middleware.
 *
 * The walk is iterative (an explicit stack), so a value nested 100,000 deep costs a loop, not the
 * call stack; it stops at the first problem. It runs right after JSON.parse, before any schema or
 * handler looks at the value.
 */

/** Default of MAX_NESTING_DEPTH (PROTOCOL §7). */
export const DEFAULT_MAX_DEPTH = 16;

/** `nonce`: 1–64 printable ASCII characters, 0x21–0x7E (PROTOCOL §3). */
export const NONCE_PATTERN = /^[\x21-\x7e]{1,64}$/;
export const NONCE_MESSAGE = 'nonce must be a string of 1 to 64 printable ASCII characters (0x21-0x7E)';

/** U+0000 or a UTF-16 surrogate without its partner: PostgreSQL text/jsonb cannot hold them faithfully. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isStorableString(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/** What the walk found wrong, with the path of the value (`extra.items[3].name`, "" = the whole value). */
export interface GenericProblem {
  path: string;
  msg: string;
}

/** A path segment list kept as a linked list: built into a string only when a problem is reported. */
interface PathNode {
  parent: PathNode | undefined;
  key: string | number;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `extra.items[3]["a b"]`: dotted for plain keys, brackets for indices and other keys (JSON-escaped). */
export function formatPath(node: PathNode | undefined): string {
  const keys: Array<string | number> = [];
  for (let at = node; at; at = at.parent) keys.push(at.key);
  let path = '';
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i];
    if (typeof key === 'number') path += `[${key}]`;
    else if (IDENTIFIER.test(key)) path += path ? `.${key}` : key;
    else path += `[${JSON.stringify(key)}]`;
  }
  return path;
}

function named(path: string, what: string): string {
  return path ? `${path} ${what}` : what;
}

/**
 * Walks a parsed JSON value: first problem found, or undefined. `maxDepth` counts containers: the
 * frame (or body) object itself is level 1, so `{"extra":{}}` is 2 levels deep. `whole` names the
 * value itself in messages ("frame has a key containing …").
 */
export function findGenericProblem(value: unknown, maxDepth: number, whole = 'frame'): GenericProblem | undefined {
  const stack: Array<{ value: unknown; depth: number; path: PathNode | undefined }> = [{ value, depth: 0, path: undefined }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const current = item.value;
    if (typeof current === 'string') {
      if (UNSTORABLE.test(current)) {
        const path = formatPath(item.path);
        return { path, msg: named(path || whole, 'contains a NUL character (U+0000) or an unpaired UTF-16 surrogate') };
      }
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    const depth = item.depth + 1;
    if (depth > maxDepth) {
      const path = formatPath(item.path);
      return { path, msg: named(path || whole, `is nested deeper than ${maxDepth} levels (objects and arrays)`) };
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], depth, path: { parent: item.path, key: i } });
      continue;
    }
    const keys = Object.keys(current);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (UNSTORABLE.test(key)) {
        const path = formatPath(item.path);
        return { path, msg: named(path || whole, 'has a key containing a NUL character (U+0000) or an unpaired UTF-16 surrogate') };
      }
      stack.push({ value: (current as Record<string, unknown>)[key], depth, path: { parent: item.path, key } });
    }
  }
  return undefined;
}

/** The nonce rule; undefined when fine. */
export function nonceProblem(nonce: unknown): string | undefined {
  return typeof nonce === 'string' && NONCE_PATTERN.test(nonce) ? undefined : NONCE_MESSAGE;
}
