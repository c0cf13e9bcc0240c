/**
 * Building blocks of the request schemas (JSON Schema draft-07, as ajv 8 compiles it and AsyncAPI 2
 * embeds it). Every leaf carries `x-expected`: the end of the 400 `msg` when that value is wrong
 * ("extra.group_id" + " must be a string of digits"). It is an annotation: validators that do not
 * know it ignore it, and an AsyncAPI document keeps it as a specification extension.
 */

export type Schema = Record<string, unknown>;

/** The keyword holding the end of the error message of a schema. */
export const EXPECTED = 'x-expected';

export const APP_USER_ID_SOURCE = '^[A-Za-z0-9_.@-]{1,64}$';
export const HTTP_URL_OR_EMPTY_SOURCE = '^(https?://\\S+)?$';

/** Largest integer a client may send (JSON numbers above it lose precision in JavaScript). */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A schema that may also be JSON null (null means "absent" for that field). */
export function nullable(schema: Schema): Schema {
  const type = schema.type;
  const types = Array.isArray(type) ? type : [type];
  const expected = schema[EXPECTED] as string | undefined;
  const result: Schema = { ...schema, type: [...types, 'null'] };
  if (expected) result[EXPECTED] = `${expected} (or null)`;
  if (Array.isArray(schema.enum)) result.enum = [...schema.enum, null];
  if ('const' in schema) {
    result.enum = [schema.const, null];
    delete result.const;
  }
  return result;
}

export const nonce = (): Schema => ({
  type: 'string',
  pattern: '^[\\x21-\\x7E]{1,64}$',
  description: 'client-made id of this request, echoed in its reply; 1-64 printable ASCII characters (0x21-0x7E)',
  examples: ['1595489198766l8urH1'],
  [EXPECTED]: 'must be a string of 1 to 64 printable ASCII characters (0x21-0x7E)',
});

export const appUserId = (description: string): Schema => ({
  type: 'string',
  pattern: APP_USER_ID_SOURCE,
  description,
  examples: ['bob'],
  [EXPECTED]: 'must be a string: an app_user_id (1-64 characters of [A-Za-z0-9_.@-])',
});

export const appUserIdList = (description: string, options: { minItems?: number; maxItems: number }): Schema => ({
  type: 'array',
  description,
  minItems: options.minItems ?? 0,
  maxItems: options.maxItems,
  items: appUserId('an app_user_id'),
  examples: [['bob', 'carol']],
  [EXPECTED]:
    (options.minItems ?? 0) > 0
      ? `must be an array of ${options.minItems} to ${options.maxItems} app_user_id strings`
      : `must be an array of at most ${options.maxItems} app_user_id strings`,
});

/** A group_id: always a JSON string of digits (PROTOCOL §1). */
export const groupId = (description: string, maxDigits: number): Schema => ({
  type: 'string',
  pattern: `^[0-9]{1,${maxDigits}}$`,
  description,
  examples: ['3'],
  [EXPECTED]: 'must be a string of digits',
});

export const integer = (description: string, minimum: number, maximum: number, expected?: string): Schema => ({
  type: 'integer',
  minimum,
  maximum,
  description,
  [EXPECTED]: expected ?? `must be an integer from ${minimum} to ${maximum}`,
});

export const flag = (description: string): Schema => ({
  type: 'integer',
  enum: [0, 1],
  description,
  [EXPECTED]: 'must be 0 or 1',
});

export const text = (description: string, minLength: number, maxLength: number): Schema => ({
  type: 'string',
  minLength,
  maxLength,
  description: `${description} (${minLength > 0 ? `${minLength}-${maxLength}` : `at most ${maxLength}`} Unicode code points)`,
  [EXPECTED]: minLength > 0 ? `must be a string of ${minLength} to ${maxLength} characters` : `must be a string of at most ${maxLength} characters`,
});

export const httpUrlOrEmpty = (description: string): Schema => ({
  type: 'string',
  pattern: HTTP_URL_OR_EMPTY_SOURCE,
  description,
  examples: ['https://cdn.example.com/g.jpg', ''],
  [EXPECTED]: 'must be an http or https URL or ""',
});

/**
 * A whole request: `action` (a constant), `nonce`, the action's own fields. Unknown top-level fields
 * are allowed and ignored (PROTOCOL §3).
 */
export function request(action: string, summary: string, fields: Record<string, Schema>, required: string[], extra: Schema = {}): Schema {
  return {
    $id: `im:request:${action}`,
    title: action,
    description: summary,
    type: 'object',
    required: ['action', 'nonce', ...required],
    properties: {
      action: { const: action, description: 'the request', [EXPECTED]: `must be "${action}"` },
      nonce: nonce(),
      ...fields,
    },
    additionalProperties: true,
    ...extra,
  };
}

/** An `extra` object with typed fields (group actions); unknown keys are allowed and ignored. */
export function extraObject(description: string, properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema {
  return {
    type: 'object',
    description,
    properties,
    required,
    additionalProperties: true,
    [EXPECTED]: 'must be a JSON object',
    ...extra,
  };
}
