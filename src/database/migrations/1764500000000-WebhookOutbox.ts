import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The durable queue of webhook calls (PROTOCOL §11, docs/webhooks.md). Rows are written in the same
 * transaction as the change they report, into the intake stream (`sink` 0, one `ordering_key`): a send
 * batch writes ONE row listing its messages (`msg_ids`), a group change or user.disabled one row with
 * its body and `final_key`. The dispatcher moves intake rows, in id order, to their sinks — 1 = events
 * (WEBHOOK_URL), 2 = offline push (PUSH_WEBHOOK_URL) — keyed per conversation; a row is deleted once
 * its receiver answered 2xx (or after the retry period). Within one (sink, ordering_key) only the row
 * with the smallest id goes out, so calls keep their order per conversation. `msg_id`: the message of
 * a message.created row (its body is read when delivered), or of an offline push job not resolved yet.
 * `locked_until` is the lease of the node working on it.
 */
export class WebhookOutbox1764500000000 implements MigrationInterface {
  name = 'WebhookOutbox1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_outbox (
        id bigserial PRIMARY KEY,
        event_id uuid NOT NULL DEFAULT gen_random_uuid(),
        sink smallint NOT NULL,
        event text NOT NULL,
        ordering_key text NOT NULL,
        body text NOT NULL,
        msg_id bigint,
        msg_ids bigint[],
        final_key text,
        created_at bigint NOT NULL,
        next_at bigint NOT NULL,
        attempts int NOT NULL DEFAULT 0,
        locked_until bigint NOT NULL DEFAULT 0,
        last_error text
      )`);
    await q.query(`CREATE INDEX webhook_outbox_order ON webhook_outbox (sink, ordering_key, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_outbox`);
  }
}
