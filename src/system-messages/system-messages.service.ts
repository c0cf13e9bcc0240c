import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomBytes } from 'crypto';
import { CoalescingLoader } from '../database/coalescing-loader';
import { Db, Queryable } from '../database/db';
import { Connection } from '../realtime/connection';
import { ConnectionRegistry } from '../realtime/connection-registry';
import { Delivery, DeliveryReceipt } from '../realtime/delivery';
import { encodePush } from '../realtime/frames';
import { MetricsService } from '../metrics/metrics.service';

/** Server-made message types (PROTOCOL §5). */
export enum SystemMessageType {
  UserInfoChanged = 10,
  GroupEdited = 12,
  GroupDissolved = 13,
  MembersRemoved = 14,
  MemberLeft = 15,
  MembersJoined = 16,
  InvitedIntoGroup = 17,
  MemberRoleChanged = 18,
  MessageRecalled = 20,
  MessageEdited = 21,
  MemberMuted = 22,
  HistoryCleared = 23,
  ConversationSettings = 24,
}

export const SYSTEM_MESSAGE_RECEIPT = 'system-message';
/** A stored frame that points at the row holding the shared frame text (frames start with "{"). */
interface ClaimedRow {
  id: number;
  msg_id: number;
  frame: string;
}

interface Claim {
  claimedAt: number;
  rows: ClaimedRow[];
}

const FRAME_REF = '@';
/** Received marks kept while they cannot be written (about 60 bytes each). */
const MAX_PENDING_MARKS = 200_000;
const MARKS_PER_WRITE = 5_000;
/** Backoff between attempts to write received marks: doubles from the first to the second. */
const MARK_RETRY_MIN_MS = 100;
const MARK_RETRY_MAX_MS = 5_000;
const MAX_PENDING_UNCLAIMS = 10_000;
/** How long shutdown waits for the last received marks. */
const SHUTDOWN_MARKS_WAIT_MS = 5_000;

/** What one system message says and to whom. */
export interface SystemMessageSpec {
  type: SystemMessageType;
  subType: 'group' | 'personal';
  groupId?: string;
  extra: Record<string, unknown>;
  /** Who caused it (envelope `user_id`); 0 for the admin API. */
  actorUserId: number;
  /** Stored per recipient and pushed to every connection of each (with a delivery receipt). */
  recipients: number[];
  /** Pushed only, never stored (e.g. a leaver's other connections for type 15). */
  pushOnly?: Array<{ userId: number; exceptConnectionId?: string }>;
  /** false: not stored at all, only pushed to whoever is online (type 10). Default true. */
  store?: boolean;
}

/** A system message with its msg_id and encoded frame, stored (if it is) but not yet pushed. */
export interface PreparedSystemMessage {
  msgId: number;
  frame: string;
  time: number;
  spec: SystemMessageSpec;
}

/**
 * The one service every module uses to emit system messages: draws the msg_id from the shared
 * sequence, encodes the `systemMessage` frame once, stores one row per recipient (types 12–17),
 * pushes after COMMIT, marks rows received on the delivery receipt, and pushes what was missed on
 * the next connect (connect step 20, after the sync frame).
 */
@Injectable()
export class SystemMessageService implements OnModuleDestroy {
  private readonly logger = new Logger('SystemMessageService');
  /** Connections whose connect sequence has not yet passed the redelivery step. */
  private readonly connecting = new WeakSet<Connection>();
  /** Per connecting connection: msg_ids pushed live meanwhile (held until ready: not to redeliver). */
  private readonly pendingLive = new WeakMap<Connection, Set<number>>();
  /** Per connection: msg_ids written by the redelivery step (a later live push skips it). */
  private readonly redelivered = new WeakMap<Connection, Set<number>>();
  /**
   * Received marks not yet written, by user then msg_id. A mark stays here until its UPDATE
   * succeeded: a failed write (database down, connection lost) is retried with backoff, and until then
   * the connect step does not claim these messages, so a failed write cannot make one arrive twice.
   */
  private readonly pendingMarks = new Map<number, Set<number>>();
  private pendingCount = 0;
  private writing = false;
  private writeTimer?: NodeJS.Timeout | 'immediate';
  private retryDelayMs = 0;
  private failingSince?: number;
  private destroyed = false;
  /**
   * Claims of the connect step to give back (delivered_at = NULL again) because their frames were not
   * written; retried with the marks. `ids` undefined: the claim's outcome is unknown (its reply was
   * lost), so whatever this user's rows carry its `claimedAt` is given back.
   */
  private readonly pendingUnclaims: Array<{ userId: number; claimedAt: number; ids?: number[] }> = [];
  private readonly settledWaiters: Array<() => void> = [];
  /**
   * The connect step's claims, one statement for a wave of connecting users (a connect storm).
   * Exclusive: two connections of one user never share a claim (the rows go to one of them).
   */
  private lastClaimedAt = 0;
  private readonly claims = new CoalescingLoader<number, Claim>((userIds) => this.claimUndelivered(userIds), { exclusive: true });

  constructor(
    private readonly db: Db,
    private readonly delivery: Delivery,
    private readonly registry: ConnectionRegistry,
    metrics: MetricsService,
  ) {
    metrics.systemMessagesPending = () => ({ receivedMarks: this.pendingCount, unclaims: this.pendingUnclaims.length });
  }

  /**
   * Draws the msg_id, encodes the frame and (for stored types) writes one row per recipient on `tx`.
   * Call `publish` after the transaction committed.
   */
  async prepare(tx: Queryable, spec: SystemMessageSpec): Promise<PreparedSystemMessage> {
    const [{ id }] = await tx.query<{ id: number }>(`SELECT nextval('msg_id_seq') AS id`);
    const time = Date.now();
    const data: Record<string, unknown> = {};
    if (spec.groupId !== undefined) data.group_id = spec.groupId;
    Object.assign(data, { content: '', type: spec.type, sub_type: spec.subType, extra: spec.extra });
    const frame = encodePush('systemMessage', {
      data,
      nonce: systemNonce(time),
      time,
      user_id: spec.actorUserId,
      msg_id: id,
      group_id: spec.groupId,
    });
    const recipients = [...new Set(spec.recipients)];
    if (spec.store !== false && recipients.length > 0) {
      // The frame is stored once, in the first recipient's row; the others hold "@<that row's id>"
      // (a 17 to 2,000 invitees carries the whole member list: stored 2,000 times it would be huge).
      const [first] = await tx.query<{ id: number }>(
        `INSERT INTO system_messages (msg_id, recipient_id, type, frame, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [id, recipients[0], spec.type, frame, time],
      );
      if (recipients.length > 1) {
        await tx.query(
          `INSERT INTO system_messages (msg_id, recipient_id, type, frame, created_at)
           SELECT $1, r, $3, $4, $5 FROM unnest($2::int[]) AS r`,
          [id, recipients.slice(1), spec.type, `${FRAME_REF}${first.id}`, time],
        );
      }
    }
    return { msgId: id, frame, time, spec: { ...spec, recipients } };
  }

  /** Stores (in its own transaction) and pushes at once. */
  async emit(spec: SystemMessageSpec): Promise<PreparedSystemMessage> {
    const prepared = await this.db.transaction((tx) => this.prepare(tx, spec));
    this.publish([prepared]);
    return prepared;
  }

  /** Pushes prepared messages (after COMMIT), in order. */
  publish(messages: PreparedSystemMessage[]): void {
    for (const message of messages) this.publishOne(message);
  }

  private publishOne({ msgId, frame, spec }: PreparedSystemMessage): void {
    const stored = spec.store !== false;
    const receipt: DeliveryReceipt | undefined = stored ? { kind: SYSTEM_MESSAGE_RECEIPT, msgId } : undefined;
    const plain: number[] = [];
    for (const userId of spec.recipients) {
      let except: string | undefined;
      if (stored) {
        for (const connection of this.registry.connectionsOf(userId)) {
          if (this.connecting.has(connection)) this.pendingLiveOf(connection).add(msgId);
          if (this.redelivered.get(connection)?.has(msgId)) except = connection.id;
        }
      }
      if (except) this.delivery.push([userId], frame, { receipt, exceptConnectionId: except });
      else plain.push(userId);
    }
    if (plain.length > 0) this.delivery.push(plain, frame, { receipt });
    for (const target of spec.pushOnly ?? []) {
      this.delivery.push([target.userId], frame, { exceptConnectionId: target.exceptConnectionId });
    }
  }

  // ---- received marks ----------------------------------------------------------------------

  /** A stored system message was written to a connection of its recipient: it counts as received. */
  markReceived(userId: number, msgId: number): void {
    let marks = this.pendingMarks.get(userId);
    if (!marks) this.pendingMarks.set(userId, (marks = new Set()));
    if (!marks.has(msgId)) {
      marks.add(msgId);
      this.pendingCount++;
      if (this.pendingCount > MAX_PENDING_MARKS) this.dropOldestMark();
    }
    this.scheduleWrite(0);
  }

  /** Memory stays bounded through a long outage: the oldest mark goes (that message may come once more). */
  private dropOldestMark(): void {
    for (const [userId, marks] of this.pendingMarks) {
      for (const msgId of marks) {
        marks.delete(msgId);
        this.pendingCount--;
        if (marks.size === 0) this.pendingMarks.delete(userId);
        this.logger.error(`more than ${MAX_PENDING_MARKS} received marks wait for the database: dropped user ${userId}'s mark of ${msgId} (it may be pushed again on their next connect)`);
        return;
      }
    }
  }

  private scheduleWrite(delayMs: number): void {
    if (this.writing || this.writeTimer || this.destroyed) return; // a running write schedules the next one when it ends
    const run = () => {
      this.writeTimer = undefined;
      void this.writeMarks();
    };
    if (delayMs <= 0) {
      this.writeTimer = 'immediate';
      setImmediate(run);
    } else {
      this.writeTimer = setTimeout(run, delayMs);
    }
  }

  /** Writes every pending mark in one statement; on failure keeps them and retries with backoff. */
  private async writeMarks(): Promise<void> {
    if (this.pendingCount === 0 && this.pendingUnclaims.length === 0) return this.settled();
    this.writing = true;
    try {
      while (this.pendingUnclaims.length > 0) {
        const { userId, claimedAt, ids } = this.pendingUnclaims[0];
        await this.unclaim(userId, claimedAt, ids);
        this.pendingUnclaims.shift();
      }
    } catch (error) {
      return this.writeFailed(error, this.pendingUnclaims.length);
    }
    if (this.pendingCount === 0) return this.writeSucceeded();
    const users: number[] = [];
    const msgIds: number[] = [];
    for (const [userId, marks] of this.pendingMarks) {
      for (const msgId of marks) {
        users.push(userId);
        msgIds.push(msgId);
        if (users.length >= MARKS_PER_WRITE) break;
      }
      if (users.length >= MARKS_PER_WRITE) break;
    }
    try {
      // idempotent: a retry after a write whose reply was lost changes nothing
      await this.db.query(
        `UPDATE system_messages s SET delivered_at = $3
         FROM unnest($1::int[], $2::bigint[]) AS d(uid, mid)
         WHERE s.recipient_id = d.uid AND s.msg_id = d.mid AND s.delivered_at IS NULL`,
        [users, msgIds, Date.now()],
      );
      users.forEach((userId, i) => this.forgetMark(userId, msgIds[i]));
    } catch (error) {
      return this.writeFailed(error, users.length);
    }
    this.writeSucceeded();
  }

  private writeSucceeded(): void {
    this.writing = false;
    if (this.failingSince !== undefined) {
      this.logger.log(`received marks are written again (failing for ${Date.now() - this.failingSince} ms)`);
      this.failingSince = undefined;
    }
    this.retryDelayMs = 0;
    if (this.pendingCount > 0 || this.pendingUnclaims.length > 0) this.scheduleWrite(0);
    else this.settled();
  }

  private writeFailed(error: unknown, count: number): void {
    this.writing = false;
    if (this.failingSince === undefined) {
      this.failingSince = Date.now();
      this.logger.warn(`could not write ${count} received marks of system messages, retrying until it works: ${(error as Error).message}`);
    }
    this.retryDelayMs = Math.min(MARK_RETRY_MAX_MS, Math.max(MARK_RETRY_MIN_MS, this.retryDelayMs * 2));
    this.scheduleWrite(this.retryDelayMs);
  }

  private forgetMark(userId: number, msgId: number): void {
    const marks = this.pendingMarks.get(userId);
    if (!marks?.delete(msgId)) return;
    this.pendingCount--;
    if (marks.size === 0) this.pendingMarks.delete(userId);
  }

  private settled(): void {
    for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  /** Received marks noted but not yet written (e.g. while the database is down). */
  get pendingReceipts(): number {
    return this.pendingCount;
  }

  /** Resolves once every receipt noted so far is written, or false after `timeoutMs`. */
  async receiptsSettled(timeoutMs = Infinity): Promise<boolean> {
    if (this.pendingCount === 0 && this.pendingUnclaims.length === 0 && !this.writing) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<boolean>((resolve) => this.settledWaiters.push(() => resolve(true)));
    const expired = Number.isFinite(timeoutMs) ? new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))) : undefined;
    try {
      return await (expired ? Promise.race([done, expired]) : done);
    } finally {
      clearTimeout(timer);
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.writeTimer && this.writeTimer !== 'immediate') {
      clearTimeout(this.writeTimer);
      this.writeTimer = undefined;
      void this.writeMarks(); // one last try now rather than after the backoff
    }
    const settled = await this.receiptsSettled(SHUTDOWN_MARKS_WAIT_MS);
    this.destroyed = true;
    if (this.writeTimer && this.writeTimer !== 'immediate') clearTimeout(this.writeTimer);
    if (!settled) {
      this.logger.error(
        `${this.pendingCount} received marks and ${this.pendingUnclaims.length} claims to give back could not be written before shutdown (those messages may be pushed again, or not at all)`,
      );
    }
  }

  // ---- connect sequence ----------------------------------------------------------------------

  /** Registered as an open listener: from now on live pushes to it are noted until redelivery ran. */
  connectionOpened(connection: Connection): void {
    this.connecting.add(connection);
  }

  /**
   * Connect step: claims this user's not-yet-received system messages atomically and writes them,
   * oldest first. A message also pushed live to this (still held) connection is left to that push;
   * what could not be written is un-claimed for the next connect.
   */
  async redeliver(connection: Connection): Promise<void> {
    const userId = connection.userId;
    /** Rows this step claimed and has neither written nor given back: given back if anything fails. */
    let claimed: number[] = [];
    let claimedAt = 0;
    try {
      const claim = (await this.claims.get(userId))!;
      claimedAt = claim.claimedAt;
      const rows = claim.rows;
      if (rows.length === 0) return;
      claimed = rows.map((row) => row.id);
      await this.resolveFrames(rows);
      rows.sort((a, b) => a.msg_id - b.msg_id || a.id - b.id);
      const live = this.pendingLive.get(connection) ?? new Set<number>();
      const toWrite = rows.filter((row) => !live.has(row.msg_id));
      const leftToLivePush = rows.filter((row) => live.has(row.msg_id));
      const written = this.redeliveredOf(connection);
      for (const row of toWrite) written.add(row.msg_id);
      if (leftToLivePush.length > 0) {
        const ids = leftToLivePush.map((row) => row.id);
        // given back now, before the held live push's received mark (which only marks unclaimed rows)
        await this.unclaim(userId, claimedAt, ids).catch(() => this.giveBack(userId, claimedAt, ids));
      }
      claimed = toWrite.map((row) => row.id);
      for (let i = 0; i < toWrite.length; i++) {
        try {
          await connection.sendNow(toWrite[i].frame);
          claimed = claimed.slice(1);
        } catch {
          for (const row of toWrite.slice(i)) written.delete(row.msg_id);
          return; // the rest is given back below
        }
      }
    } finally {
      if (claimed.length > 0) this.giveBack(userId, claimedAt, claimed);
      this.connecting.delete(connection);
      this.pendingLive.delete(connection);
    }
  }

  /**
   * Claims the not-yet-received system messages of these users atomically (delivered_at = the claim's
   * time). A message whose received mark is still being written was received: not claimed.
   */
  private async claimUndelivered(userIds: number[]): Promise<Map<number, Claim>> {
    // strictly increasing: a claim given back (by user and time) can never take another claim's rows
    const claimedAt = (this.lastClaimedAt = Math.max(Date.now(), this.lastClaimedAt + 1));
    const markedUsers: number[] = [];
    const markedMsgs: number[] = [];
    for (const userId of userIds) {
      for (const msgId of this.pendingMarks.get(userId) ?? []) {
        markedUsers.push(userId);
        markedMsgs.push(msgId);
      }
    }
    let rows: Array<ClaimedRow & { recipient_id: number }>;
    try {
      rows = await this.db.queryPrepared(
        'system_messages_claim',
        `UPDATE system_messages s SET delivered_at = $2
          WHERE s.recipient_id = ANY ($1::bigint[]) AND s.delivered_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM unnest($3::bigint[], $4::bigint[]) AS marked (user_id, msg_id)
                             WHERE marked.user_id = s.recipient_id AND marked.msg_id = s.msg_id)
          RETURNING s.recipient_id, s.id, s.msg_id, s.frame`,
        [userIds, claimedAt, markedUsers, markedMsgs],
      );
    } catch (error) {
      // the claim may have committed and only its reply been lost: give back whatever it took
      for (const userId of userIds) this.giveBack(userId, claimedAt);
      throw error;
    }
    const byUser = new Map(userIds.map((userId) => [userId, { claimedAt, rows: [] as ClaimedRow[] }]));
    for (const { recipient_id, ...row } of rows) byUser.get(recipient_id)!.rows.push(row);
    return byUser;
  }

  /** Gives claimed rows back (retried until it works, with the received marks). */
  private giveBack(userId: number, claimedAt: number, ids?: number[]): void {
    if (this.pendingUnclaims.length >= MAX_PENDING_UNCLAIMS) {
      this.logger.error(`more than ${MAX_PENDING_UNCLAIMS} claims wait to be given back: user ${userId}'s system messages claimed at ${claimedAt} stay claimed (not pushed)`);
      return;
    }
    this.pendingUnclaims.push({ userId, claimedAt, ids });
    this.scheduleWrite(0);
  }

  /** Replaces "@<id>" references by the frame stored in that row. */
  private async resolveFrames(rows: Array<{ frame: string }>): Promise<void> {
    const refs = [...new Set(rows.filter((row) => row.frame.startsWith(FRAME_REF)).map((row) => Number(row.frame.slice(FRAME_REF.length))))];
    if (refs.length === 0) return;
    const found = await this.db.query<{ id: number; frame: string }>(`SELECT id, frame FROM system_messages WHERE id = ANY($1::bigint[])`, [refs]);
    const frames = new Map(found.map((row) => [row.id, row.frame]));
    for (const row of rows) {
      if (!row.frame.startsWith(FRAME_REF)) continue;
      const frame = frames.get(Number(row.frame.slice(FRAME_REF.length)));
      if (frame === undefined) throw new Error(`system message frame ${row.frame} is missing`);
      row.frame = frame;
    }
  }

  private async unclaim(userId: number, claimedAt: number, ids?: number[]): Promise<void> {
    await this.db.query(
      `UPDATE system_messages SET delivered_at = NULL
       WHERE recipient_id = $1 AND delivered_at = $2 AND ($3::bigint[] IS NULL OR id = ANY($3::bigint[]))`,
      [userId, claimedAt, ids ?? null],
    );
  }

  private pendingLiveOf(connection: Connection): Set<number> {
    let set = this.pendingLive.get(connection);
    if (!set) this.pendingLive.set(connection, (set = new Set()));
    return set;
  }

  private redeliveredOf(connection: Connection): Set<number> {
    let set = this.redelivered.get(connection);
    if (!set) this.redelivered.set(connection, (set = new Set()));
    return set;
  }
}

const NONCE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A server-made nonce in the advised form: ms timestamp + 6 random characters. */
export function systemNonce(time = Date.now()): string {
  const bytes = randomBytes(6);
  let suffix = '';
  for (const byte of bytes) suffix += NONCE_CHARS[byte % NONCE_CHARS.length];
  return `${time}${suffix}`;
}
