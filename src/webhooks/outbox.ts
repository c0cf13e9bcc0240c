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

/** Columns of one message row available to the outbox CTE of a store statement. */
export interface MessageColumns {
  /** FROM clause naming the rows (one per stored message). */
  from: string;
  id: string;
  seq: string;
  conversationId: string;
  time: string;
  type: string;
  content: string;
  /** A text expression holding the JSON of `extra`. */
  extra: string;
  senderId: string;
  /** `to_app_user_id` or `group_id` and its text expression. */
  target: ['to_app_user_id' | 'group_id', string];
}

/**
 * The one place webhook rows are written. Call `enqueue` INSIDE the transaction of the change it
 * reports (pass that transaction's Queryable): the row commits or rolls back with the change, so a
 * crash between COMMIT and the HTTP call loses nothing. With WEBHOOK_URL unset it does nothing.
 * Chat messages do not go through `enqueue`: their rows are written by the send statements themselves,
 * set-based (`messageCtes`).
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
      const [targetName, targetValue] = m.target;
      // compact JSON text built by concatenation (to_json quotes strings): `extra` goes in as the text stored
      const str = (expr: string) => `to_json(${expr}::text)::text`;
      const body = `'{"event":"message.created","time":' || ${m.time} || ',"data":{"msg_id":' || ${m.id} || ',"seq":' || ${m.seq}
        || ',"time":' || ${m.time} || ',"type":' || ${m.type} || ',"content":' || ${str(m.content)} || ',"extra":' || ${m.extra}
        || ',"app_user_id":' || ${str('ws.app_user_id')} || ',"nickname":' || ${str('ws.nickname')} || ',"head":' || ${str('ws.head')}
        || ',"${targetName}":' || ${str(targetValue)} || '}}'`;
      ctes += `,
  wo_event AS (
    INSERT INTO webhook_outbox (sink, event, ordering_key, body, created_at, next_at)
    SELECT ${Sink.Events}, 'message.created', 'c:' || ${m.conversationId}, ${body}, ${m.time}, ${m.time}
    FROM ${m.from} JOIN users ws ON ws.id = ${m.senderId}
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
