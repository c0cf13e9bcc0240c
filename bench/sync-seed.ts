/**
 * The set-based seed of the sync benchmarks (bench/sync-bench.ts, and the `sync` scenario of
 * bench/run.ts): ONE heavy user in DIRECTS one-to-one conversations and GROUPS groups, PER_CONVERSATION
 * messages each (defaults: 700 + 300 conversations × 1,000 = 1,000,000 messages), with the message
 * lifecycle of issue 13 (1% recalled, 5% mentioning). Everything is generate_series, following the
 * server's conventions for seq, last_* and read positions. The database is EMPTIED first (TRUNCATE …
 * RESTART IDENTITY): the heavy user is users.id 1, peers 2..DIRECTS+1, then the group members.
 */
import { Client } from 'pg';

export interface SyncSeedSize {
  directs: number;
  groups: number;
  perConversation: number;
  groupExtraMembers: number;
  /** app_user_id of the heavy user */
  heavy: string;
  /** every conversation unread (the issue-10 goal: 1,000 unread); otherwise a fifth are fully read (sync-bench's seed) */
  allUnread?: boolean;
}

export const SYNC_SEED_FULL: SyncSeedSize = { directs: 700, groups: 300, perConversation: 1000, groupExtraMembers: 50, heavy: 'bench-heavy' };

/** True when the database already holds exactly this seed (with the issue-13 lifecycle data). */
export async function isSyncSeeded(db: Client, size: SyncSeedSize): Promise<boolean> {
  const [row] = (
    await db.query(
      `SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM users WHERE app_user_id = $1) AS heavy,
              EXISTS (SELECT 1 FROM messages WHERE recalled_at IS NOT NULL) AS lifecycle,
              EXISTS (SELECT 1 FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
                       WHERE m.user_id = 1 AND m.read_seq = c.last_seq) AS some_read`,
      [size.heavy],
    )
  ).rows;
  return (
    Number(row.messages) === (size.directs + size.groups) * size.perConversation && Number(row.heavy) === 1 && row.lifecycle && row.some_read === !size.allUnread
  );
}

/**
 * Empties the database and seeds it. The heavy user writes seq ≡ 3 (mod 10) up to 89.3% of each
 * conversation (893 of 1,000) and has read somewhere after that (a fifth fully read), so about 80% of
 * the conversations have unread messages (all of them with `allUnread`). `log` gets progress lines.
 */
export async function seedSync(db: Client, size: SyncSeedSize, log: (line: string) => void = () => undefined): Promise<void> {
  const { directs: DIRECTS, groups: GROUPS, perConversation: PER_CONVERSATION, groupExtraMembers: GROUP_EXTRA_MEMBERS, heavy: HEAVY } = size;
  const heavyUpTo = Math.floor(PER_CONVERSATION * 0.893); // 893 of 1,000
  const unreadSpan = Math.max(1, PER_CONVERSATION - heavyUpTo); // 107 of 1,000
  const started = Date.now();
  const base = Date.now() - 90 * 24 * 3600 * 1000;
  await db.query(`TRUNCATE system_messages, message_reactions, message_edits, messages, conversation_members, groups, conversations, blacklist, users RESTART IDENTITY CASCADE`);
  await db.query(`ALTER SEQUENCE msg_id_seq RESTART WITH 1`);
  // user 1 = the heavy user; 2..DIRECTS+1 = peers; DIRECTS+2.. = group members
  await db.query(
    `INSERT INTO users (app_user_id, nickname, head, created_at, updated_at)
     SELECT CASE WHEN i = 1 THEN $1 ELSE 'bench-user-' || i END, 'User ' || i, 'https://cdn.example.com/h/' || i || '.jpg', $2, $2
       FROM generate_series(1, $3::int) AS i`,
    [HEAVY, base, 1 + DIRECTS + GROUP_EXTRA_MEMBERS],
  );
  await db.query(`INSERT INTO conversations (kind, user_low, user_high) SELECT 1, 1, 1 + i FROM generate_series(1, $1::int) AS i`, [DIRECTS]);
  await db.query(`INSERT INTO conversations (kind) SELECT 2 FROM generate_series(1, $1::int)`, [GROUPS]);
  await db.query(
    `INSERT INTO groups (id, group_name, cover, owner_id, created_at)
     SELECT id, 'Group ' || id, 'https://cdn.example.com/g/' || id || '.jpg', ${2 + DIRECTS}, $1 FROM conversations WHERE kind = 2`,
    [base],
  );
  await db.query(
    `INSERT INTO conversation_members (conversation_id, user_id, joined_at)
     SELECT id, user_low, $1::bigint FROM conversations WHERE kind = 1
     UNION ALL SELECT id, user_high, $1 FROM conversations WHERE kind = 1
     UNION ALL SELECT c.id, u, $1 FROM conversations c, generate_series(1, 1) AS u WHERE c.kind = 2
     UNION ALL SELECT c.id, u, $1 FROM conversations c, generate_series(${2 + DIRECTS}, ${1 + DIRECTS + GROUP_EXTRA_MEMBERS}) AS u WHERE c.kind = 2`,
    [base],
  );
  log(`  users, conversations, members: ${Date.now() - started} ms`);

  // Messages: the heavy user writes seq ≡ 3 (mod 10) up to heavyUpTo, the others the rest; types cycle 1..8.
  // Inserted in slices of 100 conversations (one statement each), interleaved in time like real traffic.
  const slice = 100;
  for (let from = 1; from <= DIRECTS + GROUPS; from += slice) {
    await db.query(
      `INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at, recalled_at, mention_ids, mention_all)
       SELECT id, conversation_id, seq, sender_id, nonce, type,
              CASE WHEN recalled THEN '' ELSE content END, CASE WHEN recalled THEN '{}'::jsonb ELSE extra END, created_at,
              CASE WHEN recalled THEN created_at + 30000 END,
              CASE WHEN mentions AND NOT recalled AND seq % 10 <> 1 THEN CASE WHEN seq % 2 = 0 THEN ARRAY[1, ${2 + DIRECTS} + (seq % ${GROUP_EXTRA_MEMBERS})] ELSE ARRAY[${2 + DIRECTS} + ((seq + 1) % ${GROUP_EXTRA_MEMBERS})] END END,
              mentions AND NOT recalled AND seq % 10 = 1
       FROM (
       -- 1% recalled (any conversation); 5% of all messages mention: a sixth of the group messages
       SELECT nextval('msg_id_seq') AS id, c.id AS conversation_id, s AS seq, (s * 7 + c.id) % 100 = 0 AS recalled,
              c.kind = 2 AND (s + c.id * 3) % 6 = 1 AS mentions,
              CASE WHEN s % 10 = 3 AND s <= ${heavyUpTo} THEN 1
                   WHEN c.kind = 1 THEN c.user_high
                   ELSE ${2 + DIRECTS} + (s % ${GROUP_EXTRA_MEMBERS}) END AS sender_id,
              'b' || c.id || '-' || s AS nonce,
              ((s + c.id) % 8) + 1 AS type,
              CASE WHEN ((s + c.id) % 8) + 1 = 1 THEN repeat('message text ', 1 + s % 20) ELSE '' END AS content,
              CASE ((s + c.id) % 8) + 1
                WHEN 8 THEN jsonb_build_object('file_name', 'file-' || s || '.pdf', 'file_size', s, 'etag', 'e' || s)
                WHEN 3 THEN jsonb_build_object('url', 'https://cdn.example.com/i.jpg', 'width', 800, 'height', 600, 'is_original', 2)
                ELSE '{}'::jsonb END AS extra,
              $1::bigint + s * 60000 + c.id * 7 AS created_at
         FROM conversations c, generate_series(1, ${PER_CONVERSATION}) AS s
        WHERE c.id BETWEEN $2 AND $3
        ORDER BY s, c.id) AS x`,
      [base, from, from + slice - 1],
    );
    log(`  messages: ${Math.min(from + slice - 1, DIRECTS + GROUPS) * PER_CONVERSATION}`);
  }
  log(`  messages inserted: ${Date.now() - started} ms`);
  await db.query(
    `UPDATE conversations c SET last_seq = m.seq, last_msg_id = m.id, last_time = m.created_at
       FROM messages m WHERE m.conversation_id = c.id AND m.seq = ${PER_CONVERSATION}`,
  );
  // Read positions: every sender at least at their own last message; the heavy user somewhere
  // between heavyUpTo and the end (a fifth fully read), so about 80% of the conversations have unread messages.
  await db.query(
    `UPDATE conversation_members cm SET read_seq = x.seq FROM
       (SELECT conversation_id, sender_id, max(seq) AS seq FROM messages GROUP BY 1, 2) AS x
      WHERE cm.conversation_id = x.conversation_id AND cm.user_id = x.sender_id`,
  );
  await db.query(
    size.allUnread
      ? // at least two messages after the read position: never only a recalled one
        `UPDATE conversation_members SET read_seq = ${heavyUpTo} + (conversation_id * 37) % ${Math.max(1, unreadSpan - 1)} WHERE user_id = 1`
      : `UPDATE conversation_members SET read_seq = CASE WHEN conversation_id % 5 = 0 THEN ${PER_CONVERSATION} ELSE ${heavyUpTo} + (conversation_id * 37) % ${unreadSpan} END
          WHERE user_id = 1`,
  );
  await db.query(`VACUUM ANALYZE`);
  log(`  seeded in ${Date.now() - started} ms`);
}
