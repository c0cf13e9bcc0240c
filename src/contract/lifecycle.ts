import { appUserId, EXPECTED, groupId, integer, MAX_SAFE, request, Schema } from './common';

/**
 * Message lifecycle requests (PROTOCOL §4 "Recall", "Edit"): recall, edit, editHistory. Replies and
 * mentions travel in a chat/groupChat `extra` (./messaging.ts); their rules are checked by
 * src/messaging/message-refs.ts.
 */

const oneConversation = (): Schema => ({
  oneOf: [{ required: ['app_user_ids'] }, { required: ['group_id'] }],
  [EXPECTED]: 'app_user_ids or group_id is required (exactly one of them)',
});

const target = (what: string): Record<string, Schema> => ({
  msg_id: integer(what, 1, MAX_SAFE, 'must be a positive integer'),
  app_user_ids: appUserId('the other participant of the one-to-one conversation (not with group_id)'),
  group_id: groupId('the group (not with app_user_ids)', 30),
});

export const recall = request(
  'recall',
  'Recall (delete for everyone) a message: the sender within RECALL_WINDOW_SECONDS, the owner and admins of its group any time. Reply `recall` with {msg_id, seq, group_id | to_app_user_id, recalled_at}; every participant gets systemMessage type 20. Already recalled: 200 again, nothing pushed.',
  target('the message to recall'),
  ['msg_id'],
  { allOf: [oneConversation()] },
);

export const edit = request(
  'edit',
  "Edit one's own text message (type 1) within EDIT_WINDOW_SECONDS. Reply `edit` with {msg_id, seq, content, extra, edited_at}; every participant gets systemMessage type 21.",
  {
    ...target('the message to edit'),
    content: { type: 'string', description: 'the new text (validated as for type 1)', [EXPECTED]: 'must be a non-empty string' },
    extra: {
      type: ['object', 'null'],
      additionalProperties: true,
      description: "replaces the text's extra (absent or null: the old extra stays); reply_to (a msg_id, or the quote object received) is resolved again, mentions are checked again",
      [EXPECTED]: 'must be a JSON object',
    },
  },
  ['msg_id', 'content'],
  { allOf: [oneConversation()] },
);

export const editHistory = request(
  'editHistory',
  'Every version of a text, oldest first: the original (edited_at = when it was sent), the later ones, the current one last.',
  target('the message'),
  ['msg_id'],
  { allOf: [oneConversation()] },
);
