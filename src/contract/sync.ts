import { appUserId, EXPECTED, groupId, integer, MAX_SAFE, nullable, request, Schema } from './common';

/** `sync` (PROTOCOL §6): the type-19 data on demand. No fields besides action and nonce. */
export const sync = request('sync', 'The sync payload ({friendList, groupList}) on demand, as in the type-19 frame pushed on connect.', {}, []);

/** `conversations` (PROTOCOL §6 "The conversation list"). */
export const conversations = request(
  'conversations',
  'Every conversation of the caller that has a message: pinned ones first (on the first page), then newest first; before_time pages back over the unpinned part.',
  {
    limit: nullable({ ...integer('unpinned conversations per page (default 50)', 1, 100), default: 50 }),
    before_time: nullable(integer('only unpinned conversations whose last message is older than this (ms); absent = the first page, with the pinned ones', 0, MAX_SAFE, 'must be a non-negative integer')),
  },
  [],
);

const bool = (description: string): Schema => ({ type: 'boolean', description, [EXPECTED]: 'must be true or false' });

/** `setConversation` (PROTOCOL §6 "Conversation settings"). */
export const setConversation = request(
  'setConversation',
  "Per-user settings of one conversation (either flag may be left out, not both). The caller's other connections get systemMessage type 24.",
  {
    app_user_ids: appUserId('the other participant of the one-to-one conversation (not with group_id)'),
    group_id: groupId('the group (not with app_user_ids)', 30),
    muted: nullable(bool('no offline push, no badge; counts are still computed')),
    pinned: nullable(bool('listed first in the conversation list')),
  },
  [],
  {
    allOf: [
      { oneOf: [{ required: ['app_user_ids'] }, { required: ['group_id'] }], [EXPECTED]: 'app_user_ids or group_id is required (exactly one of them)' },
      {
        anyOf: [
          { required: ['muted'], properties: { muted: { type: 'boolean' } } },
          { required: ['pinned'], properties: { pinned: { type: 'boolean' } } },
        ],
        [EXPECTED]: 'muted or pinned is required (at least one of them)',
      },
    ],
  },
);

export interface ConversationsRequest {
  action: string;
  nonce: string;
  limit?: number | null;
  before_time?: number | null;
}

export interface SetConversationRequest {
  action: string;
  nonce: string;
  app_user_ids?: string;
  group_id?: string;
  muted?: boolean | null;
  pinned?: boolean | null;
}
