import { appUserId, EXPECTED, groupId, integer, MAX_SAFE, request, Schema } from './common';

/**
 * Reactions, typing and clearHistory (PROTOCOL §4 "Reactions", "Typing", "Clear history (for me)").
 * Whether the message exists, is readable and not recalled, and the 20-distinct-emoji limit, are checked
 * by the services once the schema passed.
 */

const GROUP_ID_DIGITS = 30;

const oneConversation = (): Schema => ({
  oneOf: [{ required: ['app_user_ids'] }, { required: ['group_id'] }],
  [EXPECTED]: 'app_user_ids or group_id is required (exactly one of them)',
});

const conversationFields = (): Record<string, Schema> => ({
  app_user_ids: appUserId('the other participant of the one-to-one conversation (not with group_id)'),
  group_id: groupId('the group (not with app_user_ids)', GROUP_ID_DIGITS),
});

export const react = request(
  'react',
  'Add or remove a reaction (one emoji) on a message the caller can read. Idempotent per (user, message, emoji); at most 20 distinct emoji per message. Reply `react` with the emoji\'s count after the change; participants get the push `reaction`.',
  {
    msg_id: integer('the message', 1, MAX_SAFE, 'must be a positive integer'),
    ...conversationFields(),
    emoji: {
      type: 'string',
      minLength: 1,
      maxLength: 8,
      pattern: '^[^\\s\\p{Cc}]+$',
      description: 'the emoji: 1-8 Unicode code points, no whitespace or control characters',
      examples: ['👍'],
      [EXPECTED]: 'must be a string of 1 to 8 code points without whitespace',
    },
    op: { type: 'string', enum: ['add', 'remove'], description: 'add or remove the caller\'s reaction', [EXPECTED]: 'must be "add" or "remove"' },
  },
  ['msg_id', 'emoji', 'op'],
  { allOf: [oneConversation()] },
);

export const typing = request(
  'typing',
  'The caller is typing in a conversation. Reply action `typingResult`; the other participants get the push `typing` (at most one per user and conversation per 3 s; none in groups of more than 200 members). Never stored.',
  conversationFields(),
  [],
  { allOf: [oneConversation()] },
);

export const clearHistory = request(
  'clearHistory',
  "Hide every message up to the conversation's current last seq from the caller's history and search, on all their devices, and mark them read. Reply data {seq}; the caller's other connections get systemMessage type 23.",
  conversationFields(),
  [],
  { allOf: [oneConversation()] },
);
