import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Queryable } from '../database/db';

/** Which webhook a row of webhook_outbox goes to. */
export enum Sink {
  Events = 1,
  Push = 2,
}

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

/** Columns of the stored messages available to the outbox CTEs of a store statement. */
export interface MessageColumns {
  /** FROM clause naming the rows (one per stored message). */
  from: string;
  id: string;
  conversationId: string;
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
      `INSERT INTO webhook_outbox (sink, event, ordering_key, body, created_at, next_at) VALUES (${Sink.Events}, $1, $2, $3, $4, $4)`,
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
   * CTEs (each starting with a comma) that write the `message.created` event and the offline push job
   * of every message in `m`, for appending to a send statement's WITH list; '' when both are off.
   */
  messageCtes(m: MessageColumns): string {
    let ctes = '';
    if (this.eventsEnabled) {
      // a reference to the message, not a copy: the body is read from `messages` when delivered
      // (MessageEventBodies), which keeps the send statement's extra write to one narrow row
      ctes += `,
  wo_event AS (
    INSERT INTO webhook_outbox (sink, event, ordering_key, body, msg_id, created_at, next_at)
    SELECT ${Sink.Events}, 'message.created', 'c:' || ${m.conversationId}, '', ${m.id}, ${m.time}, ${m.time}
    FROM ${m.from}
    ORDER BY ${m.id}
  )`;
    }
    if (this.pushEnabled) {
      ctes += `,
  wo_push AS (
    INSERT INTO webhook_outbox (sink, event, ordering_key, body, msg_id, created_at, next_at)
    SELECT ${Sink.Push}, 'message.offline', 'c:' || ${m.conversationId}, '', ${m.id}, ${m.time}, ${m.time}
    FROM ${m.from}
    ORDER BY ${m.id}
  )`;
    }
    return ctes;
  }
}
