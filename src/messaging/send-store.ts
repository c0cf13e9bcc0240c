import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { scalarArray, textArray } from '../database/array-param';
import { Db, Queryable } from '../database/db';
import { SetStatement, WriteBatcher } from '../database/write-batcher';
import { MessageColumns, WebhookOutbox } from '../webhooks/outbox';
import { searchTokensParam, searchTokensSql } from '../search/search-index';

/** One message to store: who sends, to whom (app_user_id or group id), and what. */
export interface StoreItem<Target> {
  senderId: number;
  target: Target;
  time: number;
  nonce: string;
  type: number;
  content: string;
  /** `extra` as JSON text */
  extra: string;
  /** Group messages: the members it mentions (user ids) and @all (PROTOCOL §4 "Replies and mentions"). */
  mentionIds?: number[] | null;
  mentionAll?: boolean;
}

interface StoredRow {
  ord: number;
  /** The (sender, nonce) was already stored: nothing was written (831). */
  duplicate: boolean;
  msg_id: number | null;
  seq: number | null;
  app_user_id: string;
  nickname: string;
  head: string;
}

export interface DirectRow extends StoredRow {
  recipient_id: number | null;
  blocked: boolean | null;
}

export interface GroupRow extends StoredRow {
  found: boolean;
  dissolved: boolean | null;
  member: boolean | null;
  banned_to_post: number | null;
  owner_id: number | null;
  /** The sender's membership role (1 admin) and mute end (ms since the epoch). */
  role: number | null;
  muted_until: number | null;
  /** Every member (the sender included) when the message was stored. */
  member_ids: number[] | null;
  conversation_id?: number | null;
}

const UNIQUE_VIOLATION = '23505';
const SENDER_NONCE_CONSTRAINT = 'messages_sender_nonce';

/**
 * The part both set statements share, after `ok` (the items to store, with `conversation_id`, `k` =
 * their rank within their conversation in this batch, `rn` = their rank in the batch):
 * - the conversations are locked in id order (two batches, or two nodes, cannot deadlock);
 * - seq = the locked last_seq + k: gap-free per conversation, in the batch's order;
 * - msg ids are taken all at once after the locks and handed out sorted by rank, so they follow seq;
 * - each conversation row and each read position is updated once (no row updated twice).
 */
const STORE_SET_TAIL = `
  locked AS (
    SELECT c.id, c.last_seq FROM conversations c
    WHERE c.id IN (SELECT conversation_id FROM ok) ORDER BY c.id FOR UPDATE
  ),
  ids AS (
    -- drawn only once every conversation is locked (the count consumes all of locked first): a
    -- writer before us drew smaller ids, one after us will draw larger ones, so ids follow seq
    SELECT array_agg(v ORDER BY v) AS v FROM (SELECT nextval('msg_id_seq') AS v FROM ok CROSS JOIN (SELECT count(*) AS n FROM locked) l) s
  ),
  n AS (
    SELECT ok.*, locked.last_seq + ok.k AS seq, ids.v[ok.rn] AS id
    FROM ok JOIN locked ON locked.id = ok.conversation_id CROSS JOIN ids
  ),
  c AS (
    UPDATE conversations SET last_seq = x.seq, last_msg_id = x.id, last_time = x.created_at
    FROM (SELECT DISTINCT ON (conversation_id) conversation_id, seq, id, created_at FROM n ORDER BY conversation_id, k DESC) x
    WHERE conversations.id = x.conversation_id
  ),
  m AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at, mention_ids, mention_all, search_tokens)
    SELECT id, conversation_id, seq, sender_id, nonce, type, content, extra::jsonb, created_at, mention_ids, mention_all, ${searchTokensSql('tokens')} FROM n
  ),
  rs AS (
    UPDATE conversation_members cm SET read_seq = GREATEST(cm.read_seq, x.seq)
    FROM (SELECT conversation_id, sender_id, max(seq) AS seq FROM n GROUP BY conversation_id, sender_id) x
    WHERE cm.conversation_id = x.conversation_id AND cm.user_id = x.sender_id
  )`;

/** One-to-one messages of a whole batch: one statement, one row per item (by `ord`). */
// The dedupe lookup is a LATERAL … LIMIT 1 (an index probe per message): as an EXISTS the planner
// may hash the whole messages table instead, a cost that grows with every message stored.
const storeDirectSet = (hooks: string) => `
  WITH i AS (
    SELECT i.*, NULL::int[] AS mention_ids, false AS mention_all
      FROM unnest($1::int[], $2::text[], $3::bigint[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[])
      WITH ORDINALITY AS i(sender_id, to_id, created_at, nonce, type, content, extra, tokens, ord)
  ),
  r AS (
    SELECT i.*, u.id AS recipient_id,
           EXISTS (SELECT 1 FROM blacklist b WHERE b.user_id = u.id AND b.blocked_user_id = i.sender_id) AS blocked,
           d.found IS NOT NULL AS duplicate,
           c.id AS conversation_id
    FROM i
    LEFT JOIN users u ON u.app_user_id = i.to_id
    LEFT JOIN conversations c ON c.kind = 1 AND c.user_low = LEAST(i.sender_id, u.id) AND c.user_high = GREATEST(i.sender_id, u.id)
    LEFT JOIN LATERAL (SELECT 1 AS found FROM messages d WHERE d.sender_id = i.sender_id AND d.nonce = i.nonce LIMIT 1) d ON true
  ),
  ok AS (
    SELECT r.*, row_number() OVER (PARTITION BY r.conversation_id ORDER BY r.ord) AS k, row_number() OVER (ORDER BY r.ord) AS rn
    FROM r WHERE r.conversation_id IS NOT NULL AND NOT r.blocked AND NOT r.duplicate AND r.recipient_id <> r.sender_id
  ),${STORE_SET_TAIL}${hooks}
  SELECT r.ord, r.duplicate, r.recipient_id, r.blocked, n.id AS msg_id, n.seq, s.app_user_id, s.nickname, s.head
  FROM r JOIN users s ON s.id = r.sender_id LEFT JOIN n ON n.ord = r.ord`;

/** Group messages of a whole batch: one statement, one row per item (by `ord`). */
const storeGroupSet = (hooks: string) => `
  WITH i AS (
    -- mention ids travel as array literals ('{3,7}', or NULL): unnest cannot take an array of arrays
    SELECT i.*, i.mention_text::int[] AS mention_ids
      FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::text[])
      WITH ORDINALITY AS i(sender_id, group_id, created_at, nonce, type, content, extra, mention_text, mention_all, tokens, ord)
  ),
  r AS (
    SELECT i.*, g.owner_id, g.banned_to_post, g.dissolved_at IS NOT NULL AS dissolved,
           cm.user_id IS NOT NULL AS member, cm.role, cm.muted_until,
           d.found IS NOT NULL AS duplicate,
           g.id AS conversation_id
    FROM i LEFT JOIN groups g ON g.id = i.group_id
    LEFT JOIN conversation_members cm ON cm.conversation_id = g.id AND cm.user_id = i.sender_id
    LEFT JOIN LATERAL (SELECT 1 AS found FROM messages d WHERE d.sender_id = i.sender_id AND d.nonce = i.nonce LIMIT 1) d ON true
  ),
  ok AS (
    SELECT r.*, row_number() OVER (PARTITION BY r.conversation_id ORDER BY r.ord) AS k, row_number() OVER (ORDER BY r.ord) AS rn
    FROM r WHERE r.conversation_id IS NOT NULL AND NOT r.dissolved AND r.member AND NOT r.duplicate
      AND r.muted_until <= r.created_at AND (r.banned_to_post = 0 OR r.owner_id = r.sender_id OR r.role = 1)
  ),${STORE_SET_TAIL}${hooks}
  SELECT r.ord, r.duplicate, r.owner_id IS NOT NULL AS found, r.dissolved, r.member, r.banned_to_post, r.owner_id, r.role, r.muted_until,
         n.id AS msg_id, n.seq, s.app_user_id, s.nickname, s.head, n.conversation_id,
         CASE WHEN n.k = 1 THEN ARRAY(SELECT user_id FROM conversation_members WHERE conversation_id = n.conversation_id) END AS member_ids
  FROM r JOIN users s ON s.id = r.sender_id LEFT JOIN n ON n.ord = r.ord`;

/** One message alone (a batch that failed as a whole, or a first message): the row, or a unique violation. */
const storeTail = (mentions: string, tokens: string) => `
  m AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, nonce, type, content, extra, created_at, mention_ids, mention_all, search_tokens)
    SELECT c.last_msg_id, c.id, c.last_seq, $1, $4, $5, $6, $7::jsonb, $3, ${mentions}, ${searchTokensSql(tokens)} FROM c
    RETURNING id, seq, conversation_id, created_at
  ),
  rs AS (
    UPDATE conversation_members cm SET read_seq = GREATEST(cm.read_seq, m.seq) FROM m
    WHERE cm.conversation_id = m.conversation_id AND cm.user_id = $1
  )`;

const storeDirect = (hooks: string) => `
  WITH r AS (
    SELECT u.id, EXISTS (SELECT 1 FROM blacklist b WHERE b.user_id = u.id AND b.blocked_user_id = $1) AS blocked
    FROM users u WHERE u.app_user_id = $2
  ),
  c AS (
    UPDATE conversations SET last_seq = last_seq + 1, last_msg_id = nextval('msg_id_seq'), last_time = $3
    FROM r
    WHERE NOT r.blocked AND r.id <> $1 AND conversations.user_low = LEAST($1::int, r.id) AND conversations.user_high = GREATEST($1::int, r.id)
      AND conversations.kind = 1
    RETURNING conversations.id, conversations.last_seq, conversations.last_msg_id
  ),${storeTail('NULL, false', '$8')}${hooks}
  SELECT 1 AS ord, false AS duplicate, r.id AS recipient_id, r.blocked, m.id AS msg_id, m.seq, s.app_user_id, s.nickname, s.head
  FROM users s LEFT JOIN r ON true LEFT JOIN m ON true WHERE s.id = $1`;

const storeGroup = (hooks: string) => `
  WITH g AS (
    SELECT g.owner_id, g.banned_to_post, g.dissolved_at IS NOT NULL AS dissolved,
           cm.user_id IS NOT NULL AS member, cm.role, cm.muted_until
    FROM groups g LEFT JOIN conversation_members cm ON cm.conversation_id = g.id AND cm.user_id = $1
    WHERE g.id = $2
  ),
  c AS (
    UPDATE conversations SET last_seq = last_seq + 1, last_msg_id = nextval('msg_id_seq'), last_time = $3
    FROM g
    WHERE conversations.id = $2 AND NOT g.dissolved AND g.member AND g.muted_until <= $3
      AND (g.banned_to_post = 0 OR g.owner_id = $1 OR g.role = 1)
    RETURNING conversations.id, conversations.last_seq, conversations.last_msg_id
  ),${storeTail('$8::int[], $9::boolean', '$10')}${hooks}
  SELECT 1 AS ord, false AS duplicate, g.owner_id IS NOT NULL AS found, g.dissolved, g.member, g.banned_to_post, g.owner_id, g.role, g.muted_until,
         m.id AS msg_id, m.seq, s.app_user_id, s.nickname, s.head,
         CASE WHEN m.id IS NOT NULL THEN ARRAY(SELECT user_id FROM conversation_members WHERE conversation_id = $2) END AS member_ids
  FROM users s LEFT JOIN g ON true LEFT JOIN m ON true WHERE s.id = $1`;

function singleParams<T>(item: StoreItem<T>): unknown[] {
  return [item.senderId, item.target, item.time, item.nonce, item.type, item.content, item.extra];
}

function singleGroupParams(item: StoreItem<number>): unknown[] {
  return [...singleParams(item), item.mentionIds ?? null, item.mentionAll ?? false];
}

/** setParams plus the mention arrays of group messages. */
function groupSetParams(items: StoreItem<number>[]): unknown[] {
  const mentionTexts = new Array<string | null>(items.length);
  const mentionAll = new Array<boolean>(items.length);
  for (let i = 0; i < items.length; i++) {
    const ids = items[i].mentionIds;
    mentionTexts[i] = ids && ids.length > 0 ? scalarArray(ids) : null;
    mentionAll[i] = items[i].mentionAll ?? false;
  }
  return [...setParams(items, scalarArray), textArray(mentionTexts), scalarArray(mentionAll)];
}

/** The items' fields, one array literal per field (src/database/array-param.ts); `targetArray` encodes the targets. */
function setParams<T>(items: StoreItem<T>[], targetArray: (targets: T[]) => string): unknown[] {
  const n = items.length;
  const senders = new Array<number>(n);
  const targets = new Array<T>(n);
  const times = new Array<number>(n);
  const nonces = new Array<string>(n);
  const types = new Array<number>(n);
  const contents = new Array<string>(n);
  const extras = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const item = items[i];
    senders[i] = item.senderId;
    targets[i] = item.target;
    times[i] = item.time;
    nonces[i] = item.nonce;
    types[i] = item.type;
    contents[i] = item.content;
    extras[i] = item.extra;
  }
  return [scalarArray(senders), targetArray(targets), scalarArray(times), textArray(nonces), scalarArray(types), textArray(contents), textArray(extras)];
}

/**
 * Stores chat and groupChat messages. Concurrent sends go to the WriteBatcher as items of one
 * set-based statement per batch (one round trip, one COMMIT for all of them); everything that can
 * be refused per message (duplicate nonce, no such user or group, blacklisted, not a member, a muted
 * sender (a mute ends by time: muted_until <= the send time), banned_to_post for all but owner and admins)
 * comes back in that message's row. A first message between two users, which must create the
 * conversation, runs on its own in a transaction.
 */
@Injectable()
export class SendStore {
  private readonly direct: SetStatement<StoreItem<string>, DirectRow>;
  private readonly group: SetStatement<StoreItem<number>, GroupRow>;
  /** The one-message statements, with the webhook outbox rows when webhooks are on. */
  private readonly storeDirectSql: string;
  private readonly storeGroupSql: string;
  /** Suffix of prepared statement names: the SQL differs with webhooks on. */
  private readonly variant: string;
  /** Wakes the webhook dispatcher after a message committed (webhooks on only). */
  private readonly committed?: <R extends StoredRow>(row: R) => R;

  /** SEARCH_INDEX: the search lexemes (src/search/search-index.ts) go in as the last parameter of every statement. */
  private readonly indexSearch: boolean;

  constructor(
    private readonly db: Db,
    private readonly batcher: WriteBatcher,
    outbox: WebhookOutbox,
    config: AppConfig,
  ) {
    this.indexSearch = config.SEARCH_INDEX;
    // webhook rows (message.created, the offline push job) are written by the store statements
    // themselves, set-based, so they commit with the messages (src/webhooks, docs/webhooks.md)
    const set: MessageColumns = { from: 'n', id: 'n.id', time: 'n.created_at' };
    const directSet = storeDirectSet(outbox.messageCtes(set));
    const groupSet = storeGroupSet(outbox.messageCtes(set));
    this.storeDirectSql = storeDirect(outbox.messageCtes({ from: 'm', id: 'm.id', time: 'm.created_at' }));
    this.storeGroupSql = storeGroup(outbox.messageCtes({ from: 'm', id: 'm.id', time: 'm.created_at' }));
    this.variant = outbox.eventsEnabled || outbox.pushEnabled ? `_wh${Number(outbox.eventsEnabled)}${Number(outbox.pushEnabled)}` : '';
    if (this.variant) {
      this.committed = (row) => {
        if (row.msg_id !== null) outbox.kick();
        return row;
      };
    }
    this.direct = { name: `store_direct_set${this.variant}`, sql: directSet, params: (items) => [...setParams(items, textArray), textArray(items.map((item) => this.tokensOf(item)))],
      alone: (item) => this.alone<DirectRow, string>('store_direct', this.storeDirectSql, item, (one) => [...singleParams(one), this.tokensOf(one)]),
    };
    this.group = {
      name: `store_group_set${this.variant}`,
      sql: groupSet,
      params: (items) => [...groupSetParams(items), textArray(items.map((item) => this.tokensOf(item)))],
      alone: (item) => this.alone<GroupRow, number>('store_group', this.storeGroupSql, item, (one) => [...singleGroupParams(one), this.tokensOf(one)]),
      // the members are read once per group and batch (on its first message): the others share them
      complete: (rows) => {
        const members = new Map<number, number[]>();
        for (const row of rows) if (row.member_ids && row.conversation_id) members.set(Number(row.conversation_id), row.member_ids);
        for (const row of rows) if (row.msg_id !== null && !row.member_ids) row.member_ids = members.get(Number(row.conversation_id)) ?? null;
      },
    };
  }

  storeDirect(item: StoreItem<string>): Promise<DirectRow> {
    const stored = this.batcher.runInSet(this.direct, item);
    return this.committed ? stored.then(this.committed) : stored;
  }

  storeGroup(item: StoreItem<number>): Promise<GroupRow> {
    const stored = this.batcher.runInSet(this.group, item);
    return this.committed ? stored.then(this.committed) : stored;
  }

  /** The first message between two users: creates their conversation and members, then stores it. */
  async storeFirstDirect(item: StoreItem<string>, recipientId: number): Promise<DirectRow> {
    const senderId = item.senderId;
    const [low, high] = senderId < recipientId ? [senderId, recipientId] : [recipientId, senderId];
    return this.orDuplicate(() =>
      this.db.transaction(async (tx: Queryable) => {
        await tx.query(
          `WITH c AS (
             INSERT INTO conversations (kind, user_low, user_high, last_seq) VALUES (1, $1, $2, 0)
             ON CONFLICT (user_low, user_high) DO NOTHING RETURNING id
           )
           INSERT INTO conversation_members (conversation_id, user_id, read_seq, joined_seq, joined_at)
           SELECT c.id, u, 0, 0, $3 FROM c, unnest(ARRAY[$1::int, $2::int]) AS u`,
          [low, high, item.time],
        );
        return (await tx.query<DirectRow>(this.storeDirectSql, [...singleParams(item), this.tokensOf(item)]))[0];
      }),
    ).then((row) => (this.committed ? this.committed(row) : row));
  }

  private tokensOf(item: StoreItem<unknown>): string | null {
    return searchTokensParam(item.type, item.content, item.extra, this.indexSearch);
  }

  private alone<R extends StoredRow, T>(name: string, sql: string, item: StoreItem<T>, params: (item: StoreItem<T>) => unknown[]): Promise<R> {
    return this.orDuplicate(async () => (await this.db.queryPrepared<R>(`${name}${this.variant}`, sql, params(item)))[0]);
  }

  /** A unique violation of (sender, nonce) is the answer "already stored", not an error. */
  private async orDuplicate<R extends StoredRow>(store: () => Promise<R>): Promise<R> {
    try {
      return await store();
    } catch (error) {
      if ((error as { code?: string })?.code === UNIQUE_VIOLATION && (error as { constraint?: string })?.constraint === SENDER_NONCE_CONSTRAINT) {
        return { ord: 1, duplicate: true } as R;
      }
      throw error;
    }
  }
}
