import { Module } from '@nestjs/common';
import { LocalPresence } from './local-presence';
import { Presence } from './presence';
import { PresenceGateway } from './presence.gateway';
import { PresenceService } from './presence.service';

/** Who is online. `Presence` is the port; LocalPresence serves one node (a Redis binding replaces it for several). */
@Module({
  providers: [LocalPresence, { provide: Presence, useExisting: LocalPresence }, PresenceService, PresenceGateway],
  exports: [Presence, PresenceService],
})
export class PresenceModule {}
