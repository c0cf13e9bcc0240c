import { TestServer } from './server';

/** Id of a user (created with nickname `<id>-nick` when missing). */
export async function userId(t: TestServer, appUserId: string): Promise<number> {
  const rows = await t.sql<{ id: number }>(`SELECT id FROM users WHERE app_user_id = $1`, [appUserId]);
  if (rows.length > 0) return rows[0].id;
  return (await t.admin.putUser(appUserId, `${appUserId}-nick`)).user_id;
}

export interface GroupOptions {
  bannedToPost?: 0 | 1;
  inviteMode?: 0 | 1;
  name?: string;
}

/**
 * A group straight in SQL (the group actions are another feature): conversation kind 2, the group row
 * and member rows for the owner and `members`. Returns the group_id as the protocol's string.
 */
export async function createGroup(t: TestServer, owner: string, members: string[], options: GroupOptions = {}): Promise<string> {
  const ownerId = await userId(t, owner);
  const now = Date.now();
  const [conversation] = await t.sql<{ id: number }>(`INSERT INTO conversations (kind, last_seq) VALUES (2, 0) RETURNING id`);
  await t.sql(
    `INSERT INTO groups (id, group_name, owner_id, banned_to_post, invite_mode, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
    [conversation.id, options.name ?? 'test group', ownerId, options.bannedToPost ?? 0, options.inviteMode ?? 0, now],
  );
  for (const member of [owner, ...members]) await addMember(t, String(conversation.id), member);
  return String(conversation.id);
}

/** Adds a member the way joining does: read and joined positions at the group's current last seq. */
export async function addMember(t: TestServer, groupId: string, appUserId: string): Promise<void> {
  const id = await userId(t, appUserId);
  await t.sql(
    `INSERT INTO conversation_members (conversation_id, user_id, read_seq, joined_seq, joined_at)
     SELECT c.id, $2, c.last_seq, c.last_seq, $3 FROM conversations c WHERE c.id = $1
     ON CONFLICT (conversation_id, user_id) DO UPDATE SET read_seq = EXCLUDED.read_seq, joined_seq = EXCLUDED.joined_seq`,
    [Number(groupId), id, Date.now()],
  );
}

/** Removes a member (leave/remove delete the member row). */
export async function removeMember(t: TestServer, groupId: string, appUserId: string): Promise<void> {
  const id = await userId(t, appUserId);
  await t.sql(`DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2`, [Number(groupId), id]);
}

export async function dissolveGroup(t: TestServer, groupId: string): Promise<void> {
  await t.sql(`UPDATE groups SET dissolved_at = $2 WHERE id = $1`, [Number(groupId), Date.now()]);
}

export async function setBanned(t: TestServer, groupId: string, banned: 0 | 1): Promise<void> {
  await t.sql(`UPDATE groups SET banned_to_post = $2 WHERE id = $1`, [Number(groupId), banned]);
}

/** A user's read position in a one-to-one conversation or a group. */
export async function readSeq(t: TestServer, appUserId: string, conversationId: number | string): Promise<number> {
  const id = await userId(t, appUserId);
  const [row] = await t.sql<{ read_seq: number }>(`SELECT read_seq FROM conversation_members WHERE conversation_id = $1 AND user_id = $2`, [
    Number(conversationId),
    id,
  ]);
  return row?.read_seq;
}

/** The one-to-one conversation id of two users, if any. */
export async function directConversation(t: TestServer, a: string, b: string): Promise<number | undefined> {
  const [x, y] = [await userId(t, a), await userId(t, b)];
  const [row] = await t.sql<{ id: number }>(`SELECT id FROM conversations WHERE kind = 1 AND user_low = $1 AND user_high = $2`, [
    Math.min(x, y),
    Math.max(x, y),
  ]);
  return row?.id;
}
