import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Queryable } from '../database/db';

/** Which webhook a row of webhook_outbox goes to. */
export enum Sink {
  /** The intake stream: rows as committed, moved to their sinks in order by the dispatcher. */
  Intake = 0,
  Events = 1,
  Push = 2,
}

/** The one ordering key of the intake stream. */
export const INTAKE_KEY = 'intake';

/** Events of PROTOCOL §11 (WEBHOOK_URL). */
export type WebhookEvent =
  | 'message.created'
  | 'message.recalled'
  | 'message.edited'
  | 'group.created'
  | 'group.edited'
  | 'group.members_joined'
  | 'group.members_removed'
  | 'group.member_left'
  | 'group.dissolved'
  | 'user.disabled';

/** The ordering key of everything about one conversation (a group's id is its conversation's id). */
export function conversationKey(conversationId: number | string): string {
  return `c:${conversationId}`;
}

export function userKey(userId: number): string {
  return `u:${userId}`;
}

/** Columns of the stored messages available to the outbox CTE of a store statement. */
export interface MessageColumns {
  /** FROM clause naming the rows (one per stored message). */
  from: string;
  id: string;
  time: string;
}

/**
 * The one place webhook rows are written. Call `enqueue` INSIDE the transaction of the change it
 * reports (pass that transaction's Queryable): the row commits or rolls back with the change, so a
 * crash between COMMIT and the HTTP call loses nothing. With WEBHOOK_URL unset it does nothing.
 * Chat messages do not go through `enqueue`: their rows (references to the message) are written by
 * the send statements themselves, set-based (`messageCtes`).
 */
@Injectable()
export class WebhookOutbox {
  readonly eventsEnabled: boolean;
  readonly pushEnabled: boolean;
  private readonly wakers: Array<() => void> = [];

  constructor(config: AppConfig) {
    this.eventsEnabled = config.WEBHOOK_URL !== undefined;
    this.pushEnabled = config.PUSH_WEBHOOK_URL !== undefined;
  }

  /**
   * Queues `event` with `data` (the body is `{event, time, data}`), delivered after every earlier
   * event of the same `orderingKey` (conversationKey / userKey). Returns at once when events are off.
   */
  async enqueue(q: Queryable, event: WebhookEvent, orderingKey: string, data: Record<string, unknown>, time = Date.now()): Promise<void> {
    if (!this.eventsEnabled) return;
    const body = JSON.stringify({ event, time, data });
    await q.query(
      `INSERT INTO webhook_outbox (sink, event, ordering_key, final_key, body, created_at, next_at) VALUES (${Sink.Intake}, $1, '${INTAKE_KEY}', $2, $3, $4, $4)`,
      [event, orderingKey, body, time],
    );
  }

  /** Tells this node's dispatcher that rows were committed (call after COMMIT; cheap, coalesced). */
  kick(): void {
    for (const wake of this.wakers) wake();
  }

  onKick(wake: () => void): void {
    this.wakers.push(wake);
  }

  /**
   * A CTE (starting with a comma) for a send statement's WITH list that writes ONE intake row listing
   * every message stored by the statement ('' when events and push are both off): the per-message
   * rows (message.created, offline push jobs) are made by the dispatcher, off the send path.
   */
  messageCtes(m: MessageColumns): string {
    if (!this.eventsEnabled && !this.pushEnabled) return '';
    return `,
  wo_intake AS (
    INSERT INTO webhook_outbox (sink, event, ordering_key, body, msg_ids, created_at, next_at)
    SELECT ${Sink.Intake}, 'messages', '${INTAKE_KEY}', '', array_agg(${m.id} ORDER BY ${m.id}), max(${m.time}), max(${m.time})
    FROM ${m.from} HAVING count(*) > 0
  )`;
  }
}
