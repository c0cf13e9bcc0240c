import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The durable queue of webhook calls (PROTOCOL §11, docs/webhooks.md). A row is written in the same
 * transaction as the change it reports and deleted once its receiver answered 2xx (or after the retry
 * period). `sink` 1 = events (WEBHOOK_URL), 2 = offline push (PUSH_WEBHOOK_URL). Within one
 * (sink, ordering_key) only the row with the smallest id is delivered, so calls go out in order per
 * conversation. `msg_id` set = an offline push not resolved yet (recipients and badges are decided
 * when it is processed; it is then replaced by the calls themselves). `locked_until` is the lease of
 * the node delivering it.
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
