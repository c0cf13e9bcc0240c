import { appUserId, EXPECTED, groupId, integer, MAX_SAFE, nullable, request, Schema } from './common';

/**
 * Chat requests (PROTOCOL §4): chat, groupChat, ack, history, block, unblock.
 *
 * The schema fixes each field's JSON type and range. What depends on configuration or on the message
 * type (content length, `extra` size, the type-specific `extra` fields, server-filled fields) is checked
 * by src/messaging/message-rules.ts once the schema passed. A chat/groupChat that fails either is still
 * answered 831 when its (sender, nonce) is already stored (PROTOCOL §4 step 1).
 */

/** Messaging names group ids up to 30 digits: a well-formed id too large to exist is a 404, not a 400. */
const GROUP_ID_DIGITS = 30;

const messageType = (): Schema => ({
  type: 'integer',
  enum: [1, 2, 3, 4, 5, 6, 7, 8],
  description: '1 text, 2 voice, 3 image, 4 location, 5 red packet, 6 business card, 7 video, 8 file',
  [EXPECTED]: 'must be an integer from 1 to 8',
});

const content = (): Schema => ({
  type: ['string', 'null'],
  description: 'the text: required and non-empty for type 1 (at most MAX_TEXT_CHARS code points, default 5,000); optional for other types (absent or null = "")',
  [EXPECTED]: 'must be a string',
});

const chatExtra = (): Schema => ({
  type: ['object', 'null'],
  additionalProperties: true,
  description:
    'free-form object (absent or null = {}), at most MAX_EXTRA_BYTES (default 8 KiB) of compact JSON; type-specific fields per PROTOCOL §4 (voice_url, duration, url, width, height, is_original, latitude, longitude, app_user_id, video_url, cover_url, videoTotalTime, file_name, file_size, etag, reply_to, mentions, mention_all …)',
  [EXPECTED]: 'must be a JSON object',
});

const peer = (what: string) => appUserId(`the other participant of the one-to-one conversation (${what})`);

/** Exactly one of app_user_ids and group_id (ack, history). */
const oneConversation = (): Schema => ({
  oneOf: [{ required: ['app_user_ids'] }, { required: ['group_id'] }],
  [EXPECTED]: 'app_user_ids or group_id is required (exactly one of them)',
});

export const chat = request(
  'chat',
  'Send a one-to-one message. Reply action `sendResult` (200, or 831 with the original when this nonce was already stored).',
  {
    app_user_ids: appUserId('the recipient (one app_user_id, as a string)'),
    type: messageType(),
    content: content(),
    extra: chatExtra(),
  },
  ['app_user_ids', 'type'],
);

export const groupChat = request(
  'groupChat',
  'Send a message to every member of a group. Reply action `sendResult`.',
  {
    group_id: groupId('the group', GROUP_ID_DIGITS),
    type: messageType(),
    content: content(),
    extra: chatExtra(),
  },
  ['group_id', 'type'],
);

export const ack = request(
  'ack',
  'Read receipt for a message of a one-to-one conversation (app_user_ids) or of a group (group_id). Reply action `ackResult`.',
  {
    msg_id: integer('the acknowledged message', 1, MAX_SAFE, 'must be a positive integer'),
    status: { type: 'integer', enum: [1, 2], description: '1 delivered, 2 read', [EXPECTED]: 'must be 1 (delivered) or 2 (read)' },
    app_user_ids: peer('not with group_id'),
    group_id: groupId('the group (not with app_user_ids)', GROUP_ID_DIGITS),
  },
  ['msg_id', 'status'],
  { allOf: [oneConversation()] },
);

export const history = request(
  'history',
  'One page of a conversation. Neither before_seq nor after_seq: the newest page, newest first.',
  {
    app_user_ids: peer('not with group_id'),
    group_id: groupId('the group (not with app_user_ids)', GROUP_ID_DIGITS),
    before_seq: nullable(integer('messages older than this seq, newest first', 0, MAX_SAFE, 'must be a non-negative integer')),
    after_seq: nullable(integer('messages newer than this seq, oldest first (not with before_seq)', 0, MAX_SAFE, 'must be a non-negative integer')),
    limit: nullable({ ...integer('page size (default 20)', 1, 100), default: 20 }),
  },
  [],
  {
    allOf: [
      oneConversation(),
      {
        not: { required: ['before_seq', 'after_seq'], properties: { before_seq: { type: 'integer' }, after_seq: { type: 'integer' } } },
        [EXPECTED]: 'before_seq and after_seq cannot be used together',
      },
    ],
  },
);

export const block = request('block', "Add a user to the caller's blacklist (their chats to the caller get 811).", { app_user_ids: appUserId('the user to block') }, [
  'app_user_ids',
]);

export const unblock = request('unblock', "Remove a user from the caller's blacklist.", { app_user_ids: appUserId('the user to unblock') }, ['app_user_ids']);
