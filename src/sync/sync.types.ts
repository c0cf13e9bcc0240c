/** One one-to-one conversation with unread messages (PROTOCOL §6). */
export interface FriendItem {
  app_user_id: string;
  nickname: string;
  head: string;
  count: number;
  /** unread messages that mention the user or all (0 for one-to-one) */
  mention_count: number;
  last_message: string;
  last_msg_id: number;
  last_type: number;
  time: number;
  /** per-user settings (setConversation) */
  muted: boolean;
  pinned: boolean;
}

/** One group the user is a member of, with unread messages (PROTOCOL §6). */
export interface GroupItem {
  group_id: string;
  group_name: string;
  cover: string;
  count: number;
  /** unread messages that mention the user or all (0 for one-to-one) */
  mention_count: number;
  last_message: string;
  last_msg_id: number;
  last_type: number;
  time: number;
  /** per-user settings (setConversation) */
  muted: boolean;
  pinned: boolean;
}

/** The `extra` of the type-19 frame, and the admin API's answer. */
export interface SyncPayload {
  friendList: FriendItem[];
  groupList: GroupItem[];
}

/** One item of the conversation list (PROTOCOL §6): a sync item (count possibly 0) plus its kind. */
export type ConversationItem = (FriendItem & { kind: 'direct' }) | (GroupItem & { kind: 'group' });

export interface ConversationPage {
  conversations: ConversationItem[];
  has_more: boolean;
}

/** How long one sync took on the server: the SQL query alone, and the whole build (query + mapping + encoding). */
export interface SyncTimings {
  userId: number;
  queryMs: number;
  buildMs: number;
  conversations: number;
}
