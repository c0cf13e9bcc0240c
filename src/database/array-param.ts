/**
 * PostgreSQL array parameters written as one array literal each ('{1,2,3}', '{"a","b\"c"}'): still
 * bound parameters, cast by the statement ($1::int[], $2::text[]), which is what node-postgres sends for
 * a JavaScript array anyway. Built with one join instead of pg's element-by-element concatenation,
 * which made the set statements' parameters (eight arrays per batch) a large share of the garbage per
 * message sent.
 */

/** integers (or booleans) as an array literal; null/undefined elements are NULL */
export function scalarArray(values: ReadonlyArray<number | boolean | null | undefined>): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) parts[i] = 'NULL';
    else if (typeof value === 'boolean') parts[i] = value ? 't' : 'f';
    else if (Number.isFinite(value)) parts[i] = String(value);
    else throw new TypeError(`not a finite number: ${value}`);
  }
  return `{${parts.join(',')}}`;
}

const NEEDS_ESCAPE = /[\\"]/;
const ESCAPED = /[\\"]/g;

/** strings as an array literal: every element quoted (so 'NULL', '' and spaces stay strings); null is NULL */
export function textArray(values: ReadonlyArray<string | null | undefined>): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) parts[i] = 'NULL';
    else parts[i] = NEEDS_ESCAPE.test(value) ? `"${value.replace(ESCAPED, '\\$&')}"` : `"${value}"`;
  }
  return `{${parts.join(',')}}`;
}
