/**
 * SQL fixtures for the sync and presence suites: conversations, members, messages and read
 * positions written straight into the database, following the conventions the messaging and groups
 * code keeps (docs/ARCHITECTURE.md, DESIGN.md):
 * - a direct conversation (kind 1) has user_low < user_high and a member row per user, read_seq 0;
 * - a group (kind 2) has a groups row with the conversation's id; joining sets read_seq = joined_seq = last_seq;
 * - a message takes the next seq of its conversation and a msg_id from msg_id_seq; the conversation's
 *   last_seq / last_msg_id / last_time follow; sending moves the sender's read_seq to its own seq;
 * - ack status 2 moves read_seq forward (never back); leaving or removal deletes the member row;
 *   dissolving sets groups.dissolved_at and keeps the rows.
 */

type Sql = <T = any>(text: string, params?: unknown[]) => Promise<T[]>;

export interface MessageSpec {
  type?: number;
  content?: string;
  extra?: Record<string, unknown>;
  /** created_at in ms; default: the fixture clock, one second after the previous message. */
  time?: number;
}

export interface StoredMessage {
  id: number;
  conversation_id: number;
  seq: number;
  sender_id: number;
  created_at: number;
}

export interface SendSpec extends MessageSpec {
  conversationId: number;
  senderId: number;
}

let nonceCounter = 0;

export class SyncFixtures {
  /** Message times: increasing, in the past, so "newest first" follows the order messages were added. */
  clock = Date.now() - 30 * 24 * 3600 * 1000;

  constructor(private readonly sql: Sql) {}

  /** Creates the users that do not exist yet (nickname `<id>-nick`, as the test server's connect does); returns app_user_id → user id. */
  async users(appUserIds: string[], head = ''): Promise<Record<string, number>> {
    const now = Date.now();
    const rows = await this.sql<{ id: number; app_user_id: string }>(
      `INSERT INTO users (app_user_id, nickname, head, created_at, updated_at)
       SELECT a, a || '-nick', $2, $3, $3 FROM unnest($1::text[]) AS a
       ON CONFLICT (app_user_id) DO UPDATE SET app_user_id = EXCLUDED.app_user_id
       RETURNING id, app_user_id`,
      [appUserIds, head, now],
    );
    return Object.fromEntries(rows.map((row) => [row.app_user_id, row.id]));
  }

  async user(appUserId: string, head = ''): Promise<number> {
    return (await this.users([appUserId], head))[appUserId];
  }

  /** The one-to-one conversation of a and b (created with both member rows at read_seq 0 when missing). */
  async direct(a: number, b: number): Promise<number> {
    return (await this.directs(a, [b]))[0];
  }

  /** One-to-one conversations of `me` with each peer, in the order of `peers`. */
  async directs(me: number, peers: number[]): Promise<number[]> {
    const now = Date.now();
    const rows = await this.sql<{ id: number; low: number; high: number }>(
      `INSERT INTO conversations (kind, user_low, user_high)
       SELECT 1, least($1::int, p), greatest($1::int, p) FROM unnest($2::int[]) AS p
       ON CONFLICT (user_low, user_high) DO UPDATE SET kind = 1
       RETURNING id, user_low AS low, user_high AS high`,
      [me, peers],
    );
    await this.sql(
      `INSERT INTO conversation_members (conversation_id, user_id, read_seq, joined_seq, joined_at)
       SELECT c.id, u, 0, 0, $2 FROM unnest($1::bigint[]) AS c(id)
       JOIN conversations conv ON conv.id = c.id
       CROSS JOIN LATERAL (VALUES (conv.user_low), (conv.user_high)) AS m(u)
       ON CONFLICT (conversation_id, user_id) DO NOTHING`,
      [rows.map((row) => row.id), now],
    );
    const byPeer = new Map(rows.map((row) => [row.low === me ? row.high : row.low, row.id]));
    return peers.map((peer) => byPeer.get(peer)!);
  }

  /** A group owned by `ownerId` with these members (the owner included); returns its group id (= conversation id). */
  async group(ownerId: number, memberIds: number[], options: { name?: string; cover?: string } = {}): Promise<number> {
    const [{ id }] = await this.sql<{ id: number }>(`INSERT INTO conversations (kind) VALUES (2) RETURNING id`);
    await this.sql(
      `INSERT INTO groups (id, group_name, cover, owner_id, created_at) VALUES ($1, $2, $3, $4, $5)`,
      [id, options.name ?? `group ${id}`, options.cover ?? '', ownerId, Date.now()],
    );
    for (const userId of new Set([ownerId, ...memberIds])) await this.join(id, userId);
    return id;
  }

  /** Joins (or re-joins) a group: the read position starts at the group's last seq. */
  async join(groupId: number, userId: number): Promise<void> {
    await this.sql(
      `INSERT INTO conversation_members (conversation_id, user_id, read_seq, joined_seq, joined_at)
       SELECT id, $2, last_seq, last_seq, $3 FROM conversations WHERE id = $1
       ON CONFLICT (conversation_id, user_id) DO UPDATE SET read_seq = EXCLUDED.read_seq, joined_seq = EXCLUDED.joined_seq, joined_at = EXCLUDED.joined_at`,
      [groupId, userId, Date.now()],
    );
  }

  /** `senderId` sends these messages (a number: that many texts "m1", "m2" …) into one conversation. */
  async send(conversationId: number, senderId: number, messages: number | MessageSpec[] = 1): Promise<StoredMessage[]> {
    const specs: MessageSpec[] = typeof messages === 'number' ? Array.from({ length: messages }, (_, i) => ({ content: `m${i + 1}` })) : messages;
    return this.sendMany(specs.map((spec) => ({ ...spec, conversationId, senderId })));
  }

  /**
   * Stores messages into any conversations in three statements, in the given order: seqs continue
   * each conversation's last_seq, msg_ids come from msg_id_seq in that order, the conversations'
   * last_* follow, and each sender's read position moves to their last message.
   */
  async sendMany(specs: SendSpec[]): Promise<StoredMessage[]> {
    if (specs.length === 0) return [];
    const times = specs.map((spec) => spec.time ?? (this.clock += 1000));
    const inserted = await this.sql<StoredMessage>(
      `INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at)
       SELECT nextval('msg_id_seq'), conv, seq, sender, nonce, type, content, extra, created_at FROM (
         SELECT s.conv, c.last_seq + row_number() OVER (PARTITION BY s.conv ORDER BY s.ord) AS seq,
                s.sender, s.nonce, s.type, s.content, s.extra, s.created_at, s.ord
           FROM unnest($1::bigint[], $2::int[], $3::text[], $4::smallint[], $5::text[], $6::jsonb[], $7::bigint[])
                WITH ORDINALITY AS s(conv, sender, nonce, type, content, extra, created_at, ord)
           JOIN conversations c ON c.id = s.conv
          ORDER BY s.ord) AS ordered
       ORDER BY ord
       RETURNING id, conversation_id, seq, sender_id, created_at`,
      [
        specs.map((s) => s.conversationId),
        specs.map((s) => s.senderId),
        specs.map(() => `fixture-${Date.now()}-${nonceCounter++}`),
        specs.map((s) => s.type ?? 1),
        specs.map((s) => s.content ?? ((s.type ?? 1) === 1 ? 'hello' : '')),
        specs.map((s) => JSON.stringify(s.extra ?? {})),
        times,
      ],
    );
    const conversationIds = [...new Set(specs.map((s) => s.conversationId))];
    await this.sql(
      `UPDATE conversations c SET last_seq = x.seq, last_msg_id = x.id, last_time = x.created_at
         FROM (SELECT DISTINCT ON (conversation_id) conversation_id, seq, id, created_at
                 FROM messages WHERE conversation_id = ANY($1) ORDER BY conversation_id, seq DESC) AS x
        WHERE c.id = x.conversation_id`,
      [conversationIds],
    );
    await this.sql(
      `UPDATE conversation_members m SET read_seq = greatest(m.read_seq, x.seq)
         FROM (SELECT conversation_id, sender_id, max(seq) AS seq FROM messages
                WHERE conversation_id = ANY($1) GROUP BY conversation_id, sender_id) AS x
        WHERE m.conversation_id = x.conversation_id AND m.user_id = x.sender_id`,
      [conversationIds],
    );
    return inserted.sort((a, b) => a.id - b.id);
  }

  /** What `ack` with status 2 does: the read position moves up to `seq` (default: the last), never back. */
  async read(conversationId: number, userId: number, seq?: number): Promise<void> {
    await this.sql(
      `UPDATE conversation_members m SET read_seq = greatest(m.read_seq, coalesce($3, c.last_seq))
         FROM conversations c WHERE c.id = m.conversation_id AND m.conversation_id = $1 AND m.user_id = $2`,
      [conversationId, userId, seq ?? null],
    );
  }

  /** Leaving or removal: the member row goes. */
  async removeMember(groupId: number, userId: number): Promise<void> {
    await this.sql(`DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2`, [groupId, userId]);
  }

  /** Dissolving: the group keeps its rows, with dissolved_at set. */
  async dissolve(groupId: number): Promise<void> {
    await this.sql(`UPDATE groups SET dissolved_at = $2 WHERE id = $1`, [groupId, Date.now()]);
  }
}
