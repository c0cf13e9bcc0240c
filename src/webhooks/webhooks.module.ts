import { Global, Module } from '@nestjs/common';
import { BeforeSendHook } from './before-send';
import { WebhookDispatcher } from './dispatcher';
import { WebhookOutbox } from './outbox';
import { OfflinePushResolver } from './push';

/** Event and offline push webhooks from the durable outbox, and the before-send hook (PROTOCOL §11). */
@Global()
@Module({
  providers: [WebhookOutbox, WebhookDispatcher, OfflinePushResolver, BeforeSendHook],
  exports: [WebhookOutbox, BeforeSendHook],
})
export class WebhooksModule {}
