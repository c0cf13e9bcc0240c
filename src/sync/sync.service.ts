import { Injectable } from '@nestjs/common';
import { randomBytes } from 'crypto';
import { performance } from 'perf_hooks';
import { CoalescingLoader } from '../database/coalescing-loader';
import { Db } from '../database/db';
import { encodePush, ReplyBody } from '../realtime/frames';
import { UsersService } from '../users/users.service';
import { lastMessagePreview, TEXT_PREVIEW_CHARS } from './preview';
import { FriendItem, GroupItem, SyncPayload, SyncTimings } from './sync.types';

/** Type and sub_type of the sync system message (PROTOCOL §6). */
export const SYNC_TYPE = 19;

export interface UnreadRow {
  kind: number;
  id: number;
  count: number;
  mention_count: number;
  last_msg_id: number;
  last_time: number;
  type: number;
  preview: string | null;
  file_name: string | null;
  recalled: boolean;
  app_user_id: string | null;
  nickname: string | null;
  head: string | null;
  group_name: string | null;
  cover: string | null;
  muted: boolean;
  pinned: boolean;
}

/**
 * Per member row m of conversation c: the recalled messages after m's read position (not m's own) and
 * the unread ones that mention m or all. Only the partial index `messages_counted` is read (recalled
 * and mentioning messages, a few percent), from m's read position on: a read conversation costs one
 * empty index probe.
 */
export const COUNTED_LATERAL = `
  CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.recalled_at IS NOT NULL)::int AS recalled,
           count(*) FILTER (WHERE x.recalled_at IS NULL AND (x.mention_all OR m.user_id = ANY (x.mention_ids)))::int AS mentions
      FROM messages x
     WHERE x.conversation_id = c.id AND x.seq > m.read_seq AND x.sender_id <> m.user_id
       AND (x.recalled_at IS NOT NULL OR x.mention_all OR x.mention_ids IS NOT NULL)
  ) k`;

/**
 * Every conversation of one user with unread messages, in ONE query whatever their number:
 * unread = last_seq - read_seq - the recalled ones after read_seq (sending moves the sender's
 * read_seq to its own seq, ack status 2 moves it forward, system messages live outside `messages`,
 * COUNTED_LATERAL counts the recalled and the mentions), so unread rows are never counted one by one.
 * The last message comes from conversations.last_msg_id (primary key lookup); the text preview is cut
 * in SQL so a 5,000-character text never leaves the database.
 * A group appears only while the user has a member row and the group is not dissolved.
 */
const unreadSql = (memberColumn: string, members: string) => `
  SELECT ${memberColumn}c.kind, c.id, c.last_seq - m.read_seq - k.recalled AS count, k.mentions AS mention_count, c.last_msg_id, c.last_time,
         msg.type,
         CASE WHEN msg.type = 1 THEN left(msg.content, ${TEXT_PREVIEW_CHARS}) END AS preview,
         CASE WHEN msg.type = 8 THEN msg.extra->>'file_name' END AS file_name,
         msg.recalled_at IS NOT NULL AS recalled,
         u.app_user_id, u.nickname, u.head, g.group_name, g.cover, m.muted, m.pinned
    FROM conversation_members m
    JOIN conversations c ON c.id = m.conversation_id
    JOIN messages msg ON msg.id = c.last_msg_id
    LEFT JOIN users u ON c.kind = 1 AND u.id = CASE WHEN c.user_low = m.user_id THEN c.user_high ELSE c.user_low END
    LEFT JOIN groups g ON c.kind = 2 AND g.id = c.id
    ${COUNTED_LATERAL}
   WHERE ${members}
     AND c.last_seq > m.read_seq
     AND c.last_seq - m.read_seq > k.recalled
     AND ((c.kind = 1 AND u.id IS NOT NULL) OR (c.kind = 2 AND g.id IS NOT NULL AND g.dissolved_at IS NULL))
   ORDER BY c.last_time DESC, c.last_msg_id DESC`;
export const UNREAD_SQL = unreadSql('', 'm.user_id = $1');
/** UNREAD_SQL for several users at once (a connect storm), each row with its `member_id`. */
export const UNREAD_MANY_SQL = unreadSql('m.user_id AS member_id, ', 'm.user_id = ANY ($1::bigint[])');

/** The unread friendList/groupList of a user: the type-19 frame on connect, the `sync` reply, the admin view. */
@Injectable()
export class SyncService {
  private readonly listeners: Array<(timings: SyncTimings) => void> = [];
  /** The connect frames of a connect storm: one statement for a wave of users (rows and query time). */
  private readonly unreadOnConnect: CoalescingLoader<number, { rows: UnreadRow[]; queryMs: number }>;

  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
  ) {
    this.unreadOnConnect = new CoalescingLoader(async (userIds) => {
      const started = performance.now();
      const rows = await this.db.queryPrepared<UnreadRow & { member_id: number }>('sync_unread_many', UNREAD_MANY_SQL, [userIds]);
      const queryMs = performance.now() - started;
      const byUser = new Map(userIds.map((userId) => [userId, { rows: [] as UnreadRow[], queryMs }]));
      for (const row of rows) byUser.get(row.member_id)?.rows.push(row);
      return byUser;
    });
  }

  /** Called after each build with its timings (benchmarks, metrics). */
  onSyncBuilt(listener: (timings: SyncTimings) => void): void {
    this.listeners.push(listener);
  }

  /** The user's unread conversations, newest first. */
  async payload(userId: number): Promise<SyncPayload> {
    return (await this.timedPayload(userId)).payload;
  }

  /** The admin view: the payload of the user with this app_user_id (404 when unknown). */
  async payloadOf(appUserId: string): Promise<SyncPayload> {
    const user = await this.users.get(appUserId);
    return this.payload(user.user_id);
  }

  /** The reply body of the `sync` action: the same data as the type-19 frame. */
  async reply(userId: number, appUserId: string): Promise<ReplyBody> {
    const started = performance.now();
    const { payload, queryMs } = await this.timedPayload(userId);
    const body: ReplyBody = { data: JSON.stringify(syncData(appUserId, payload)), user_id: userId, msg_id: 0 };
    this.report(userId, queryMs, started, payload);
    return body;
  }

  /** The type-19 push sent first on every connection, encoded. */
  async frame(userId: number, appUserId: string): Promise<string> {
    const started = performance.now();
    const { rows, queryMs } = (await this.unreadOnConnect.get(userId))!;
    const payload = payloadOf(rows);
    const frame = encodePush('systemMessage', {
      data: JSON.stringify(syncData(appUserId, payload)),
      nonce: makeNonce(),
      user_id: userId,
      msg_id: 0,
    });
    this.report(userId, queryMs, started, payload);
    return frame;
  }

  private async timedPayload(userId: number): Promise<{ payload: SyncPayload; queryMs: number }> {
    const started = performance.now();
    const rows = await this.db.queryPrepared<UnreadRow>('sync_unread', UNREAD_SQL, [userId]);
    return { payload: payloadOf(rows), queryMs: performance.now() - started };
  }

  private report(userId: number, queryMs: number, started: number, payload: SyncPayload): void {
    if (this.listeners.length === 0) return;
    const timings: SyncTimings = {
      userId,
      queryMs,
      buildMs: performance.now() - started,
      conversations: payload.friendList.length + payload.groupList.length,
    };
    for (const listener of this.listeners) listener(timings);
  }
}

function payloadOf(rows: UnreadRow[]): SyncPayload {
  const friendList: FriendItem[] = [];
  const groupList: GroupItem[] = [];
  for (const row of rows) {
    const item = syncItem(row);
    if ('app_user_id' in item) friendList.push(item);
    else groupList.push(item);
  }
  return { friendList, groupList };
}

/** One friendList or groupList item from a row of UNREAD_SQL or CONVERSATIONS_SQL, keys in PROTOCOL §6 order. */
export function syncItem(row: UnreadRow): FriendItem | GroupItem {
  const last = {
    count: row.count,
    mention_count: row.kind === 1 ? 0 : row.mention_count,
    last_message: lastMessagePreview(row.type, row.preview, row.file_name, row.recalled),
    last_msg_id: row.last_msg_id,
    last_type: row.type,
    time: row.last_time,
    muted: row.muted,
    pinned: row.pinned,
  };
  if (row.kind === 1) return { app_user_id: row.app_user_id!, nickname: row.nickname!, head: row.head!, ...last };
  return { group_id: String(row.id), group_name: row.group_name!, cover: row.cover!, ...last };
}

/** The `data` object of the type-19 frame, keys in PROTOCOL §6 order. */
export function syncData(appUserId: string, payload: SyncPayload) {
  return {
    to_app_user_id: appUserId,
    content: '',
    type: SYNC_TYPE,
    sub_type: 'personal',
    extra: { friendList: payload.friendList, groupList: payload.groupList },
  };
}

const NONCE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A server-made nonce in the advised form: ms timestamp + 6 random characters. */
export function makeNonce(): string {
  const bytes = randomBytes(6);
  let suffix = '';
  for (const byte of bytes) suffix += NONCE_CHARS[byte % NONCE_CHARS.length];
  return `${Date.now()}${suffix}`;
}
