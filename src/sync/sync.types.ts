/** One one-to-one conversation with unread messages (PROTOCOL §6). */
export interface FriendItem {
  app_user_id: string;
  nickname: string;
  head: string;
  count: number;
  last_message: string;
  last_msg_id: number;
  last_type: number;
  time: number;
}

/** One group the user is a member of, with unread messages (PROTOCOL §6). */
export interface GroupItem {
  group_id: string;
  group_name: string;
  cover: string;
  count: number;
  last_message: string;
  last_msg_id: number;
  last_type: number;
  time: number;
}

/** The `extra` of the type-19 frame, and the admin API's answer. */
export interface SyncPayload {
  friendList: FriendItem[];
  groupList: GroupItem[];
}

/** How long one sync took on the server: the SQL query alone, and the whole build (query + mapping + encoding). */
export interface SyncTimings {
  userId: number;
  queryMs: number;
  buildMs: number;
  conversations: number;
}
