import { dataOf, Frame, WsClient } from './ws-client';

type Sql = <T = any>(text: string, params?: unknown[]) => Promise<T[]>;

/** One chat/groupChat a test sent, and every reply it got for it (a retry with the same nonce adds one). */
export interface SentMessage {
  senderAppUserId: string;
  nonce: string;
  /** `chat` or `groupChat`. */
  action: string;
  /** The recipient's app_user_id (chat) or the group_id (groupChat). */
  to: string;
  /** Reply codes in the order they came (0, 200, 831…); empty when no reply came. */
  codes: number[];
  /** msg_id of each 200/831 reply. */
  msgIds: number[];
}

/** Records sends and their replies for the checker. */
export class SendLog {
  readonly sent: SentMessage[] = [];

  /** Notes a send before its reply comes; pass the result to `reply`. */
  add(senderAppUserId: string, action: string, to: string, nonce: string): SentMessage {
    const entry: SentMessage = { senderAppUserId, nonce, action, to, codes: [], msgIds: [] };
    this.sent.push(entry);
    return entry;
  }

  reply(entry: SentMessage, frame: Frame): void {
    entry.codes.push(frame.code);
    if ((frame.code === 200 || frame.code === 831) && typeof frame.msg_id === 'number') entry.msgIds.push(frame.msg_id);
  }

  /** Sends that must be retried: never answered, or whose last answer is code 0. */
  unsettled(): SentMessage[] {
    return this.sent.filter((entry) => entry.codes.length === 0 || entry.codes[entry.codes.length - 1] === 0);
  }
}

/**
 * What a database fault must never break, checked against the database and the sync frames:
 * - every send answered 200 or 831 is stored exactly once under (sender, nonce), with the msg_id its
 *   replies named (all replies for one nonce name the same message);
 * - no (sender, nonce) is stored twice, and nothing is stored under a nonce the test did not send;
 * - per conversation, seqs are exactly 1..last_seq and last_msg_id is the newest message;
 * - read positions lie in 0..last_seq, a sender's position has reached each message it sent;
 * - the sync frame of every user (connected afresh) reports exactly last_seq - read_seq for each
 *   conversation where that is positive, and nothing else.
 * Returns the list of problems (empty = consistent), so a failure shows all of them at once.
 */
export async function checkConsistency(
  sql: Sql,
  log: SendLog,
  options: { connect?: (appUserId: string) => Promise<WsClient>; users?: string[] } = {},
): Promise<string[]> {
  const problems: string[] = [];
  const stored = await sql<{ id: number; conversation_id: number; seq: number; sender: string; nonce: string; sender_id: number }>(
    `SELECT m.id, m.conversation_id, m.seq, u.app_user_id AS sender, m.nonce, m.sender_id
       FROM messages m JOIN users u ON u.id = m.sender_id ORDER BY m.conversation_id, m.seq`,
  );
  const byNonce = new Map<string, typeof stored>();
  for (const row of stored) {
    const key = `${row.sender}\u0000${row.nonce}`;
    byNonce.set(key, [...(byNonce.get(key) ?? []), row]);
  }
  const known = new Set<string>();
  for (const entry of log.sent) {
    const key = `${entry.senderAppUserId}\u0000${entry.nonce}`;
    known.add(key);
    const rows = byNonce.get(key) ?? [];
    const what = `${entry.action} ${entry.senderAppUserId}→${entry.to} nonce ${entry.nonce} (replies ${JSON.stringify(entry.codes)})`;
    if (rows.length > 1) problems.push(`${what}: stored ${rows.length} times`);
    const acknowledged = entry.codes.some((code) => code === 200 || code === 831);
    if (acknowledged && rows.length === 0) problems.push(`${what}: answered ${entry.codes.join('/')} but not stored`);
    if (new Set(entry.msgIds).size > 1) problems.push(`${what}: replies name different msg_ids ${entry.msgIds.join(', ')}`);
    if (rows.length === 1 && entry.msgIds.length > 0 && entry.msgIds[0] !== rows[0].id) {
      problems.push(`${what}: reply msg_id ${entry.msgIds[0]}, stored as ${rows[0].id}`);
    }
    if (entry.codes.filter((code) => code === 200).length > 1) problems.push(`${what}: answered 200 more than once`);
  }
  for (const [key, rows] of byNonce) {
    if (!known.has(key)) problems.push(`stored message(s) ${rows.map((row) => row.id).join(', ')} under a nonce nobody sent: ${key.replace('\u0000', ' ')}`);
  }

  const conversations = await sql<{ id: number; last_seq: number; last_msg_id: number | null; count: number; max_seq: number | null; max_id: number | null }>(
    `SELECT c.id, c.last_seq, c.last_msg_id, count(m.id)::int AS count, max(m.seq) AS max_seq, max(m.id) AS max_id
       FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id GROUP BY c.id ORDER BY c.id`,
  );
  const seqsOf = new Map<number, number[]>();
  for (const row of stored) seqsOf.set(row.conversation_id, [...(seqsOf.get(row.conversation_id) ?? []), row.seq]);
  for (const c of conversations) {
    const seqs = seqsOf.get(c.id) ?? [];
    const gapFree = seqs.length === c.last_seq && seqs.every((seq, i) => seq === i + 1);
    if (!gapFree) problems.push(`conversation ${c.id}: last_seq ${c.last_seq} but seqs [${seqs.join(',')}]`);
    if (c.count > 0 && c.last_msg_id !== c.max_id) problems.push(`conversation ${c.id}: last_msg_id ${c.last_msg_id}, newest message ${c.max_id}`);
    if (c.count === 0 && c.last_seq !== 0) problems.push(`conversation ${c.id}: last_seq ${c.last_seq} with no message`);
  }

  const members = await sql<{ conversation_id: number; user_id: number; app_user_id: string; read_seq: number; last_seq: number; kind: number; dissolved: boolean }>(
    `SELECT cm.conversation_id, cm.user_id, u.app_user_id, cm.read_seq, c.last_seq, c.kind, coalesce(g.dissolved_at IS NOT NULL, false) AS dissolved
       FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id JOIN users u ON u.id = cm.user_id
       LEFT JOIN groups g ON g.id = c.id`,
  );
  const readSeq = new Map(members.map((m) => [`${m.conversation_id}:${m.user_id}`, m.read_seq]));
  for (const m of members) {
    if (m.read_seq < 0 || m.read_seq > m.last_seq) problems.push(`member ${m.app_user_id} of conversation ${m.conversation_id}: read_seq ${m.read_seq} outside 0..${m.last_seq}`);
  }
  for (const row of stored) {
    const position = readSeq.get(`${row.conversation_id}:${row.sender_id}`);
    if (position !== undefined && position < row.seq) {
      problems.push(`${row.sender} sent seq ${row.seq} in conversation ${row.conversation_id} but read_seq is ${position}`);
    }
  }

  if (options.connect) {
    const users = options.users ?? [...new Set(members.map((m) => m.app_user_id))];
    for (const appUserId of users) {
      const client = await options.connect(appUserId);
      try {
        const isSync = (frame: Frame) => frame.action === 'systemMessage' && frame.msg_id === 0 && dataOf(frame).type === 19;
        const syncFrame = client.received(isSync)[0] ?? (await client.waitSync(10_000));
        const sync = dataOf(syncFrame).extra as { friendList: Array<{ app_user_id: string; count: number }>; groupList: Array<{ group_id: string; count: number }> };
        const reported = new Map<string, number>();
        for (const item of sync.friendList) reported.set(`u:${item.app_user_id}`, item.count);
        for (const item of sync.groupList) reported.set(`g:${item.group_id}`, item.count);
        const expected = new Map<string, number>();
        for (const m of members.filter((member) => member.app_user_id === appUserId && member.last_seq > member.read_seq && !member.dissolved)) {
          if (m.kind === 2) expected.set(`g:${m.conversation_id}`, m.last_seq - m.read_seq);
        }
        const peers = await sql<{ peer: string; count: number }>(
          `SELECT p.app_user_id AS peer, c.last_seq - cm.read_seq AS count
             FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id AND c.kind = 1
             JOIN users me ON me.id = cm.user_id
             JOIN users p ON p.id = CASE WHEN c.user_low = cm.user_id THEN c.user_high ELSE c.user_low END
            WHERE me.app_user_id = $1 AND c.last_seq > cm.read_seq`,
          [appUserId],
        );
        for (const peer of peers) expected.set(`u:${peer.peer}`, peer.count);
        // unread by definition: messages after the read position not sent by the reader
        const counted = await sql<{ key: string; count: number }>(
          `SELECT CASE WHEN c.kind = 1 THEN 'u:' || p.app_user_id ELSE 'g:' || c.id END AS key, count(*)::int AS count
             FROM conversation_members cm JOIN users me ON me.id = cm.user_id
             JOIN conversations c ON c.id = cm.conversation_id
             JOIN messages m ON m.conversation_id = c.id AND m.seq > cm.read_seq AND m.sender_id <> cm.user_id
             LEFT JOIN users p ON c.kind = 1 AND p.id = CASE WHEN c.user_low = cm.user_id THEN c.user_high ELSE c.user_low END
             LEFT JOIN groups g ON g.id = c.id
            WHERE me.app_user_id = $1 AND g.dissolved_at IS NULL
            GROUP BY 1`,
          [appUserId],
        );
        const countedMap = new Map(counted.map((row) => [row.key, row.count]));
        for (const key of new Set([...expected.keys(), ...reported.keys(), ...countedMap.keys()])) {
          const [want, got, byRows] = [expected.get(key), reported.get(key), countedMap.get(key)];
          if (want !== got || want !== byRows) {
            problems.push(`${appUserId} ${key}: sync reports ${got ?? 'nothing'}, last_seq - read_seq = ${want ?? 0}, messages from others after read_seq = ${byRows ?? 0}`);
          }
        }
      } finally {
        client.close();
      }
    }
  }
  return problems;
}
