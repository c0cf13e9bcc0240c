import { Schema } from './common';

/**
 * The server→client side of the contract (PROTOCOL §3–§6): one JSON Schema per frame `action` the
 * server sends today, all in the one envelope of src/realtime/frames.ts. `data` is a JSON-encoded
 * string; its decoded object is described the JSON Schema way, with `contentMediaType:
 * application/json` + `contentSchema` on the string (validators treat both as annotations: the frame
 * test decodes `data` and validates it against `contentSchema` itself).
 *
 * Only what the server sends today. PROTOCOL v2 features not built yet (search, media) are added
 * here when their issues land.
 *
 * Data objects are closed (`additionalProperties: false`) where the server decides every key, so a
 * new field the server starts sending fails the frame test until it is described here.
 */

const CODES = [200, 0, 400, 401, 403, 404, 429, 811, 812, 831];

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const int = (description: string, minimum = 0, extra: Schema = {}): Schema => ({ type: 'integer', minimum, description, ...extra });
const gid = (description = 'the group (a string of digits)'): Schema => ({ type: 'string', pattern: '^[0-9]+$', description, examples: ['3'] });
const closed = (description: string, properties: Record<string, Schema>, required: string[] = Object.keys(properties), extra: Schema = {}): Schema => ({
  type: 'object',
  description,
  properties,
  required,
  additionalProperties: false,
  ...extra,
});

// ---- decoded `data` objects -------------------------------------------------------------------

const messageType = (): Schema => int('message type: 1 text, 2 voice, 3 image, 4 location, 5 red packet, 6 business card, 7 video, 8 file', 1, { maximum: 8 });
const chatExtra = (): Schema => ({
  type: 'object',
  additionalProperties: true,
  description: 'the message extra as sent, plus server-filled fields (thumb_url, thumbWidth, thumbHeight, nickname/head of a card, download_url; PROTOCOL §4)',
});
const oneTarget = (): Schema => ({ oneOf: [{ required: ['to_app_user_id'] }, { required: ['group_id'] }] });

/** `data` of chat/groupChat pushes, of sendResult and of its 831 (PROTOCOL §4 step 6). */
export const MESSAGE_DATA: Schema = closed(
  'a chat message as delivered',
  {
    type: messageType(),
    content: str('the text ("" for types without content)'),
    extra: chatExtra(),
    app_user_id: str("the sender's app_user_id"),
    nickname: str("the sender's nickname"),
    head: str("the sender's avatar URL or \"\""),
    to_app_user_id: str('the recipient (one-to-one messages)'),
    group_id: gid('the group (group messages)'),
    seq: int("the message's position in its conversation", 1),
  },
  ['type', 'content', 'extra', 'app_user_id', 'nickname', 'head', 'seq'],
  { allOf: [oneTarget()] },
);

/** `data` of the ack push and the ackResult reply (PROTOCOL §4 Read receipts). */
export const ACK_DATA: Schema = closed(
  'a read receipt',
  {
    msg_id: int('the acknowledged message', 1),
    status: { type: 'integer', enum: [1, 2], description: '1 delivered, 2 read' },
    app_user_id: str('the reader'),
    type: int('type of the acknowledged message', 1),
    group_id: gid(),
  },
  ['msg_id', 'status', 'app_user_id', 'type'],
);

const historyItem = (): Schema =>
  closed(
    'a stored chat message',
    {
      msg_id: int('global id', 1),
      seq: int('position in the conversation', 1),
      time: int('stored at, ms since the epoch'),
      user_id: int("the sender's user_id", 1),
      type: messageType(),
      content: str('the text'),
      extra: chatExtra(),
      app_user_id: str("the sender's app_user_id"),
      nickname: str("the sender's nickname"),
      head: str("the sender's avatar URL or \"\""),
      to_app_user_id: str('the recipient (one-to-one)'),
      group_id: gid(),
      read_count: int("on the reader's own group messages: members (not the sender) whose read position reached it"),
      edited_at: int('on an edited message: ms of the latest edit (content and extra are the latest version)'),
      recalled: { type: 'boolean', const: true, description: 'on a recalled message (content "", extra {})' },
      reactions: {
        type: 'array',
        minItems: 1,
        description: 'absent when none: per emoji (in the order first used) its count, the first reactors and whether the reader is one',
        items: closed('one emoji on the message', {
          emoji: str('the emoji'),
          count: int('reactors with this emoji', 1),
          app_user_ids: { type: 'array', maxItems: 10, description: 'the first 10 reactors, earliest first', items: str('app_user_id') },
          me: { type: 'boolean', description: 'the reader reacted with this emoji' },
        }),
      },
    },
    ['msg_id', 'seq', 'time', 'user_id', 'type', 'content', 'extra', 'app_user_id', 'nickname', 'head'],
    { allOf: [oneTarget()] },
  );

/** `data` of the react reply and the reaction push (PROTOCOL §4 Reactions). */
export const REACTION_DATA: Schema = closed('a reaction change', {
  msg_id: int('the message', 1),
  seq: int("the message's seq", 1),
  emoji: str('the emoji'),
  op: { type: 'string', enum: ['add', 'remove'], description: 'add or remove' },
  app_user_id: str('who reacted'),
  count: int("reactors with this emoji after the change"),
});

/** `data` of the typing push (PROTOCOL §4 Typing). */
export const TYPING_DATA: Schema = closed(
  'someone is typing',
  { app_user_id: str('who is typing'), to_app_user_id: str('the recipient (one-to-one)'), group_id: gid() },
  ['app_user_id'],
  { allOf: [oneTarget()] },
);

/** `data` of the clearHistory reply (PROTOCOL §4 Clear history). */
export const CLEAR_HISTORY_DATA: Schema = closed('where the history was cleared', { seq: int('messages with seq up to this are hidden from the caller') });

/** `extra` of type 23. */
const HISTORY_CLEARED_EXTRA: Schema = closed(
  'history cleared on another connection of this user',
  { seq: int('messages with seq up to this are hidden'), group_id: gid(), to_app_user_id: str('the other participant (one-to-one)') },
  ['seq'],
  { oneOf: [{ required: ['group_id'] }, { required: ['to_app_user_id'] }] },
);

/** `data` of the history reply (PROTOCOL §4 History). */
export const HISTORY_DATA: Schema = closed('one page of a conversation', {
  messages: { type: 'array', description: 'newest first, or oldest first with after_seq', items: historyItem() },
  has_more: { type: 'boolean', description: 'more messages exist beyond this page in its direction' },
});

/** `data` of the search reply (PROTOCOL §12). */
export const SEARCH_DATA: Schema = closed('one page of search results', {
  messages: { type: 'array', description: 'newest first (by msg_id)', items: historyItem() },
  has_more: { type: 'boolean', description: 'older matches exist: ask again with before_msg_id = the last msg_id of this page' },
});

const person = (description: string): Schema =>
  closed(description, { app_user_id: str('app_user_id'), nickname: str('nickname') });
const personWithHead = (description: string): Schema =>
  closed(description, { app_user_id: str('app_user_id'), nickname: str('nickname'), head: str('avatar URL or ""') });

const groupMember = (): Schema =>
  closed('a member', {
    app_user_id: str('app_user_id'),
    nickname: str('nickname'),
    head: str('avatar URL or ""'),
    role: { type: 'string', enum: ['owner', 'admin', 'member'], description: 'owner, admin or member' },
    muted_until: int('ms since the epoch until which the member may not post; 0 when not muted'),
  });

const groupFieldProperties = (): Record<string, Schema> => ({
  group_id: gid(),
  group_name: str('name (1-64 characters)'),
  cover: str('cover image URL or ""'),
  notice: str('notice (at most 300 characters)'),
  owner: str("the owner's app_user_id"),
  banned_to_post: { type: 'integer', enum: [0, 1], description: '1: only the owner (and admins) may post' },
  invite_mode: { type: 'integer', enum: [0, 1], description: '1: only the owner (and admins) may invite' },
  invite_code: str('the current invite code: only in what the owner and admins are shown', { pattern: '^[A-Za-z0-9_-]{16}$' }),
  member_count: int('number of members', 1),
  created_at: int('created, ms since the epoch'),
});
/** The group fields of a type-17 group_info: never the invite code. */
function groupInfoProperties(): Record<string, Schema> {
  const { invite_code: _code, ...rest } = groupFieldProperties();
  return rest;
}
const GROUP_FIELDS_REQUIRED = ['group_id', 'group_name', 'cover', 'notice', 'owner', 'banned_to_post', 'invite_mode', 'member_count', 'created_at'];

/** `data` of the createGroup, editGroup, inviteToGroup, joinGroup, removeFromGroup and groupInfo replies. */
export const GROUP_DATA: Schema = closed(
  'the group after the action, with its members',
  { ...groupFieldProperties(), member_list: { type: 'array', description: 'owner first, then by join time', items: groupMember() } },
  [...GROUP_FIELDS_REQUIRED, 'member_list'],
);

const reader = (): Schema => closed('a member', { app_user_id: str('app_user_id'), nickname: str('nickname'), head: str('avatar URL or ""') });
/** `data` of the readBy reply (PROTOCOL §5). */
export const READ_BY_DATA: Schema = closed('who has read the message, over the members but its sender', {
  read_count: int('members whose read position reached the message'),
  unread_count: int('members whose read position has not reached it'),
  read: { type: 'array', description: 'members who read it, earliest joiners first, at most limit', items: reader() },
  unread: { type: 'array', description: 'members who have not, earliest joiners first, at most limit', items: reader() },
});

/** `data` of the presence reply. */
export const PRESENCE_DATA: Schema = closed('who is online', {
  online: { type: 'object', description: 'app_user_id → true when the user has an open connection on any node', additionalProperties: { type: 'boolean' } },
});

const syncItemProperties = (kind: 'friend' | 'group', minCount: number): Record<string, Schema> => {
  const who: Record<string, Schema> =
    kind === 'friend'
      ? { app_user_id: str('the other participant'), nickname: str('their nickname'), head: str('their avatar URL or ""') }
      : { group_id: gid(), group_name: str("the group's name"), cover: str("the group's cover URL or \"\"") };
  return {
    ...who,
    count: int('unread chat messages (not recalled)', minCount),
    mention_count: int('unread messages that mention the user or all (0 for one-to-one)'),
    last_message: str('preview of the last message (PROTOCOL §6)'),
    last_msg_id: int('msg_id of the last message', 1),
    last_type: int('type of the last message', 1),
    time: int('time of the last message, ms'),
    muted: { type: 'boolean', description: 'the user muted this conversation (setConversation)' },
    pinned: { type: 'boolean', description: 'the user pinned this conversation (setConversation)' },
  };
};
const syncItem = (kind: 'friend' | 'group'): Schema =>
  closed(kind === 'friend' ? 'a one-to-one conversation with unread messages' : 'a group with unread messages', syncItemProperties(kind, 1));

/** `data` of the conversations reply (PROTOCOL §6 "The conversation list"). */
export const CONVERSATIONS_DATA: Schema = closed('one page of the conversation list', {
  conversations: {
    type: 'array',
    description: 'pinned first (first page only), then newest first; count may be 0',
    items: {
      oneOf: [
        closed('a one-to-one conversation', { ...syncItemProperties('friend', 0), kind: { type: 'string', const: 'direct', description: 'direct' } }),
        closed('a group', { ...syncItemProperties('group', 0), kind: { type: 'string', const: 'group', description: 'group' } }),
      ],
    },
  },
  has_more: { type: 'boolean', description: 'more unpinned conversations older than this page' },
});

const settingsProperties = (): Record<string, Schema> => ({
  muted: { type: 'boolean', description: 'muted (no offline push, no badge)' },
  pinned: { type: 'boolean', description: 'pinned (listed first)' },
  group_id: gid(),
  to_app_user_id: str('the other participant (one-to-one)'),
});
/** `data` of the setConversation reply and `extra` of type 24. */
export const CONVERSATION_SETTINGS_DATA: Schema = closed('the settings of one conversation', settingsProperties(), ['muted', 'pinned'], {
  oneOf: [{ required: ['group_id'] }, { required: ['to_app_user_id'] }],
});

const messageTargetProperties = (): Record<string, Schema> => ({
  group_id: gid(),
  to_app_user_id: str('one-to-one: the participant who did not send the message'),
});

/** `data` of the recall reply (WebSocket; the admin route answers the same object). */
export const RECALL_DATA: Schema = closed(
  'the recalled message',
  { msg_id: int('the message', 1), seq: int('its seq (kept)', 1), ...messageTargetProperties(), recalled_at: int('ms when it was recalled (the first time)') },
  ['msg_id', 'seq', 'recalled_at'],
  { oneOf: [{ required: ['group_id'] }, { required: ['to_app_user_id'] }] },
);

const editProperties = (): Record<string, Schema> => ({
  msg_id: int('the message', 1),
  seq: int('its seq (unchanged)', 1),
  content: str('the new text'),
  extra: chatExtra(),
  edited_at: int('ms of this edit'),
});
/** `data` of the edit reply. */
export const EDIT_DATA: Schema = closed('the edited message', editProperties());

/** `data` of the editHistory reply. */
export const EDIT_HISTORY_DATA: Schema = closed('every version of a text', {
  versions: {
    type: 'array',
    description: 'oldest first: the original (edited_at = when it was sent), the later versions, the current one last',
    items: closed('one version', { content: str('the text'), extra: chatExtra(), edited_at: int('ms when this version was written') }),
  },
});

const recaller = (): Schema => person('who recalled it ({app_user_id: "", nickname: "admin"} for the admin API)');

const systemData = (type: number, subType: 'personal' | 'group', extra: Schema, target: 'group' | 'to' | 'none'): Schema => {
  const properties: Record<string, Schema> = {};
  if (target === 'group') properties.group_id = gid();
  if (target === 'to') properties.to_app_user_id = str('the connecting user');
  Object.assign(properties, {
    content: { type: 'string', const: '', description: 'always ""' },
    type: { type: 'integer', const: type, description: 'system message type' },
    sub_type: { type: 'string', const: subType, description: 'personal or group' },
    extra,
  });
  return { title: `systemMessage type ${type}`, ...closed(`system message type ${type}`, properties) };
};

/** `data` of a systemMessage push, by type (PROTOCOL §5, §6). */
export const SYSTEM_MESSAGE_DATA: Readonly<Record<number, Schema>> = Object.freeze({
  10: systemData(10, 'personal', closed('user info changed', { app_user_id: str('the user'), nickname: str('new nickname'), head: str('new avatar URL or ""') }), 'none'),
  12: systemData(
    12,
    'group',
    closed(
      'group edited: group_id + the changed fields (never the invite code)',
      {
        group_id: gid(),
        group_name: str('new name'),
        cover: str('new cover'),
        notice: str('new notice'),
        banned_to_post: { type: 'integer', enum: [0, 1], description: 'new banned_to_post' },
        invite_mode: { type: 'integer', enum: [0, 1], description: 'new invite_mode' },
        app_user_id: str('the new owner, when ownership moved'),
      },
      ['group_id'],
    ),
    'group',
  ),
  13: systemData(13, 'group', closed('group dissolved', { group_id: gid() }), 'group'),
  14: systemData(
    14,
    'group',
    closed('members removed', {
      group_id: gid(),
      removed_member_list: { type: 'array', description: 'the removed members', items: person('a removed member') },
      admin: person('who removed them (the owner for the admin API)'),
    }),
    'group',
  ),
  15: systemData(15, 'group', closed('member left', { group_id: gid(), member: person('who left') }), 'group'),
  16: systemData(
    16,
    'group',
    closed('members joined', {
      group_id: gid(),
      inviter: person('who invited (the joiner for joinGroup)'),
      member_list: { type: 'array', description: 'the new members', items: personWithHead('a new member') },
      joiner: personWithHead('the first of member_list'),
    }),
    'group',
  ),
  17: systemData(
    17,
    'personal',
    closed('invited into a group', {
      group_id: gid(),
      inviter: person('who invited'),
      member_list: { type: 'array', description: 'the full member list', items: groupMember() },
      group_info: closed('the group fields (never the invite code)', groupInfoProperties(), GROUP_FIELDS_REQUIRED),
    }),
    'group',
  ),
  18: systemData(
    18,
    'group',
    closed('member role changed (setGroupRole)', {
      group_id: gid(),
      member: person('the member whose role changed'),
      role: { type: 'string', enum: ['admin', 'member'], description: 'the new role' },
    }),
    'group',
  ),
  20: {
    title: 'systemMessage type 20',
    description: 'message recalled: sub_type group (group_id) for a group message, personal (extra.to_app_user_id) for a one-to-one one',
    oneOf: [
      systemData(
        20,
        'group',
        closed('message recalled (group message)', { msg_id: int('the recalled message', 1), seq: int('its seq', 1), group_id: gid(), by: recaller() }),
        'group',
      ),
      systemData(
        20,
        'personal',
        closed('message recalled (one-to-one message)', { msg_id: int('the recalled message', 1), seq: int('its seq', 1), to_app_user_id: str('the participant who did not send it'), by: recaller() }),
        'none',
      ),
    ],
  },
  21: {
    title: 'systemMessage type 21',
    description: 'message edited: the edit reply data + group_id (sub_type group) or to_app_user_id (personal)',
    oneOf: [
      systemData(21, 'group', closed('message edited (group message)', { ...editProperties(), group_id: gid() }), 'group'),
      systemData(21, 'personal', closed('message edited (one-to-one message)', { ...editProperties(), to_app_user_id: str('the participant who did not send it') }), 'none'),
    ],
  },
  22: systemData(
    22,
    'group',
    closed('member muted (muteMember)', {
      group_id: gid(),
      member: person('the muted member'),
      muted_until: int('ms since the epoch until which the member may not post; 0 = the mute was lifted'),
    }),
    'group',
  ),
  24: {
    title: 'systemMessage type 24',
    ...closed(
      'conversation settings changed on another connection of this user (pushed only)',
      {
        group_id: gid(),
        content: { type: 'string', const: '', description: 'always ""' },
        type: { type: 'integer', const: 24, description: 'system message type' },
        sub_type: { type: 'string', const: 'personal', description: 'personal' },
        extra: CONVERSATION_SETTINGS_DATA,
      },
      ['content', 'type', 'sub_type', 'extra'],
    ),
  },
  23: {
    title: 'systemMessage type 23',
    ...closed(
      'history cleared on another connection of this user (pushed only)',
      {
        group_id: gid(),
        content: { type: 'string', const: '', description: 'always ""' },
        type: { type: 'integer', const: 23, description: 'system message type' },
        sub_type: { type: 'string', const: 'personal', description: 'personal' },
        extra: HISTORY_CLEARED_EXTRA,
      },
      ['content', 'type', 'sub_type', 'extra'],
    ),
  },
  19: systemData(
    19,
    'personal',
    closed('the sync payload (PROTOCOL §6)', {
      friendList: { type: 'array', description: 'one-to-one conversations with unread messages, newest first', items: syncItem('friend') },
      groupList: { type: 'array', description: 'groups with unread messages, newest first', items: syncItem('group') },
    }),
    'to',
  ),
});

/** `data` of the sync reply: the same object as the type-19 push. */
export const SYNC_DATA: Schema = SYSTEM_MESSAGE_DATA[19];

// ---- the envelope ---------------------------------------------------------------------------------

interface FrameSpec {
  summary: string;
  /** Decoded `data`; absent = the frame never carries data. */
  data?: Schema;
  /** Top-level fields a success (200, and 831 for sendResult) always carries besides code/msg/action. */
  success: string[];
  /** A reply (carries the request's nonce) or a push. */
  kind: 'reply' | 'push';
  /** Codes this frame can carry (default: 200 and the failures). */
  codes?: number[];
}

function envelope(action: string, spec: FrameSpec): Schema {
  const properties: Record<string, Schema> = {
    code: { type: 'integer', enum: spec.codes ?? CODES, description: '200 success; 0 server-side failure; 400/401/403/404/429/811/812/831 (PROTOCOL §3 Codes)' },
    msg: str('"OK" on success, else what is wrong'),
    action: { type: 'string', const: action, description: spec.kind === 'reply' ? 'the reply action' : 'the push' },
  };
  if (action === 'leaveGroup') properties.result = { type: 'string', const: '', description: 'always "" (only in the leaveGroup reply, as in the original document)' };
  if (spec.data) {
    properties.data = {
      type: 'string',
      description: 'a JSON-encoded object (clients parse it twice)',
      contentMediaType: 'application/json',
      contentSchema: spec.data,
    };
  }
  Object.assign(properties, {
    nonce: str(spec.kind === 'reply' ? "the request's nonce" : 'a server-made id of this push'),
    time: int('ms since the epoch (stored time for messages); absent on failures'),
    user_id: int('the sender / the reader / the user who caused it (0: the admin API) / the connecting user'),
    msg_id: int('the message (0 for the sync frame)'),
    group_id: gid('present exactly when the frame concerns a group'),
  });
  const schema: Schema = {
    $id: `im:frame:${action}`,
    title: action,
    description: spec.summary,
    type: 'object',
    properties,
    required: ['code', 'msg', 'action'],
    additionalProperties: false,
  };
  if (spec.success.length > 0) {
    schema.if = { properties: { code: { enum: action === 'sendResult' ? [200, 831] : [200] } }, required: ['code'] };
    schema.then = { required: spec.success };
    if (spec.data && !spec.success.includes('data')) throw new Error(`frame ${action}: data must be in success`);
  }
  if (spec.data) {
    // failures carry no data (PROTOCOL §4 step 5)
    schema.else = { not: { required: ['data'] } };
  }
  return schema;
}

const FRAME_SPECS: Record<string, FrameSpec> = {
  sendResult: {
    kind: 'reply',
    summary: 'Reply to chat and groupChat: 200 (or 831 with the original msg_id, time and data) with data = exactly what recipients get; failures carry code, msg, action, nonce (and group_id).',
    data: MESSAGE_DATA,
    success: ['data', 'nonce', 'time', 'user_id', 'msg_id'],
  },
  chat: { kind: 'push', summary: 'A one-to-one message arriving (also to the sender\'s other connections).', data: MESSAGE_DATA, success: ['data', 'nonce', 'time', 'user_id', 'msg_id'], codes: [200] },
  groupChat: {
    kind: 'push',
    summary: 'A group message arriving (every member but the sender, and the sender\'s other connections).',
    data: MESSAGE_DATA,
    success: ['data', 'nonce', 'time', 'user_id', 'msg_id', 'group_id'],
    codes: [200],
  },
  ackResult: { kind: 'reply', summary: 'Reply to ack: data = the receipt as pushed.', data: ACK_DATA, success: ['data', 'nonce', 'time', 'user_id', 'msg_id'] },
  ack: {
    kind: 'push',
    summary: "A read receipt arriving: to the message's sender and the reader's other connections; user_id = the reader.",
    data: ACK_DATA,
    success: ['data', 'time', 'user_id', 'msg_id'],
    codes: [200],
  },
  pong: { kind: 'reply', summary: 'Reply to ping.', success: ['nonce', 'time'] },
  history: { kind: 'reply', summary: 'Reply to history: one page.', data: HISTORY_DATA, success: ['data', 'nonce', 'time'] },
  search: { kind: 'reply', summary: 'Reply to search: one page of matching messages, newest first.', data: SEARCH_DATA, success: ['data', 'nonce', 'time'] },
  block: { kind: 'reply', summary: 'Reply to block.', success: ['nonce', 'time'] },
  unblock: { kind: 'reply', summary: 'Reply to unblock.', success: ['nonce', 'time'] },
  createGroup: { kind: 'reply', summary: 'Reply to createGroup: the new group (with invite_code: the caller is its owner).', data: GROUP_DATA, success: ['data', 'nonce', 'time', 'group_id'] },
  editGroup: { kind: 'reply', summary: 'Reply to editGroup: the group after the change.', data: GROUP_DATA, success: ['data', 'nonce', 'time', 'group_id'] },
  inviteToGroup: { kind: 'reply', summary: 'Reply to inviteToGroup: the group after the change.', data: GROUP_DATA, success: ['data', 'nonce', 'time', 'group_id'] },
  joinGroup: { kind: 'reply', summary: 'Reply to joinGroup: the group after joining.', data: GROUP_DATA, success: ['data', 'nonce', 'time', 'group_id'] },
  removeFromGroup: { kind: 'reply', summary: 'Reply to removeFromGroup: the group after the change.', data: GROUP_DATA, success: ['data', 'nonce', 'time', 'group_id'] },
  setGroupRole: { kind: 'reply', summary: 'Reply to setGroupRole: the group after the change.', data: GROUP_DATA, success: ['data', 'nonce', 'time', 'group_id'] },
  muteMember: { kind: 'reply', summary: 'Reply to muteMember: the group after the change (muted_until in member_list).', data: GROUP_DATA, success: ['data', 'nonce', 'time', 'group_id'] },
  conversations: { kind: 'reply', summary: 'Reply to conversations: one page of the conversation list.', data: CONVERSATIONS_DATA, success: ['data', 'nonce', 'time'] },
  setConversation: {
    kind: 'reply',
    summary: "Reply to setConversation: the conversation's settings (group_id at the top level for a group).",
    data: CONVERSATION_SETTINGS_DATA,
    success: ['data', 'nonce', 'time'],
  },
  readBy: { kind: 'reply', summary: 'Reply to readBy: counts and lists of who has / has not read the message.', data: READ_BY_DATA, success: ['data', 'nonce', 'time', 'group_id'] },
  leaveGroup: {
    kind: 'reply',
    summary: 'Reply to leaveGroup: {"code":200,"result":"","msg":"OK","action":"leaveGroup","nonce":…,"group_id":…} (no time, as PROTOCOL §5 shows it).',
    success: ['result', 'nonce', 'group_id'],
  },
  dissolveGroup: { kind: 'reply', summary: 'Reply to dissolveGroup.', success: ['nonce', 'time', 'group_id'] },
  groupInfo: { kind: 'reply', summary: "Reply to groupInfo: the group's fields and member_list (invite_code for the owner and admins).", data: GROUP_DATA, success: ['data', 'nonce', 'time', 'group_id'] },
  presence: { kind: 'reply', summary: 'Reply to presence.', data: PRESENCE_DATA, success: ['data', 'nonce', 'time'] },
  sync: { kind: 'reply', summary: 'Reply to sync: the same data as the type-19 push; user_id = the caller, msg_id 0.', data: SYNC_DATA, success: ['data', 'nonce', 'time', 'user_id', 'msg_id'] },
  recall: {
    kind: 'reply',
    summary: 'Reply to recall (200 also when it was already recalled): the message and when it was recalled; group_id at the top level for a group.',
    data: RECALL_DATA,
    success: ['data', 'nonce', 'time'],
  },
  edit: { kind: 'reply', summary: 'Reply to edit: the new version (seq unchanged); group_id at the top level for a group.', data: EDIT_DATA, success: ['data', 'nonce', 'time'] },
  editHistory: { kind: 'reply', summary: 'Reply to editHistory: every version, oldest first.', data: EDIT_HISTORY_DATA, success: ['data', 'nonce', 'time'] },
  react: { kind: 'reply', summary: "Reply to react: the emoji's count after the change.", data: REACTION_DATA, success: ['data', 'nonce', 'time', 'user_id', 'msg_id'] },
  reaction: {
    kind: 'push',
    summary: "A reaction added or removed: to every participant who can read the message (the reactor's other connections included); user_id = the reactor.",
    data: REACTION_DATA,
    success: ['data', 'time', 'user_id', 'msg_id'],
    codes: [200],
  },
  typingResult: { kind: 'reply', summary: 'Reply to typing.', success: ['nonce', 'time'] },
  typing: { kind: 'push', summary: "Someone is typing: to the other participants' connections; user_id = the typist.", data: TYPING_DATA, success: ['data', 'time', 'user_id'], codes: [200] },
  clearHistory: { kind: 'reply', summary: 'Reply to clearHistory: data {seq} (group_id at the top level for a group).', data: CLEAR_HISTORY_DATA, success: ['data', 'nonce', 'time'] },
  auth: { kind: 'reply', summary: 'Reply to in-band auth: 200 with user_id, then the connect sequence; 401 (then close 4401) or 400.', success: ['nonce', 'time', 'user_id'] },
  systemMessage: {
    kind: 'push',
    summary: 'A system message (types 10, 12-18, 20-24) or the sync frame (type 19, msg_id 0, pushed first on every connection).',
    data: { description: 'one of the system message types, by `type`', oneOf: Object.values(SYSTEM_MESSAGE_DATA) },
    success: ['data', 'nonce', 'time', 'user_id', 'msg_id'],
    codes: [200],
  },
  error: {
    kind: 'push',
    summary:
      'A frame that could not be routed (not JSON, not an object, no known action: 400; 429 when it could not be parsed), with the nonce when one could be read; also {"code":401,"msg":"token expired" | "user disabled"} before a close with 4401.',
    success: [],
    codes: [400, 401, 429],
  },
};

/** One schema per server→client frame action (the envelope, with `data` described by contentSchema). */
export const FRAME_SCHEMAS: Readonly<Record<string, Schema>> = Object.freeze(
  Object.fromEntries(Object.entries(FRAME_SPECS).map(([action, spec]) => [action, envelope(action, spec)])),
);

/** Frame actions that only answer requests (they carry the request's nonce). */
export const REPLY_FRAME_ACTIONS: ReadonlySet<string> = new Set(Object.entries(FRAME_SPECS).filter(([, spec]) => spec.kind === 'reply').map(([action]) => action));
/** Frame actions pushed by the server (not answers to a request of the same connection). */
export const PUSH_FRAME_ACTIONS: ReadonlySet<string> = new Set(Object.entries(FRAME_SPECS).filter(([, spec]) => spec.kind === 'push').map(([action]) => action));

/** The decoded `data` schema of a frame action (undefined: the frame carries no data). */
export function dataSchemaOf(action: string): Schema | undefined {
  return FRAME_SPECS[action]?.data;
}
