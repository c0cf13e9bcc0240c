import { Queryable } from '../database/db';
import { SystemMessageSpec, SystemMessageType } from '../system-messages/system-messages.service';
import { conversationKey, WebhookEvent, WebhookOutbox } from './outbox';

/** The group system messages that are also webhook events (PROTOCOL §11); 17 is reported as group.created by `create`. */
const EVENT_OF: Partial<Record<SystemMessageType, WebhookEvent>> = {
  [SystemMessageType.GroupEdited]: 'group.edited',
  [SystemMessageType.GroupDissolved]: 'group.dissolved',
  [SystemMessageType.MembersRemoved]: 'group.members_removed',
  [SystemMessageType.MemberLeft]: 'group.member_left',
  [SystemMessageType.MembersJoined]: 'group.members_joined',
};

/** Who did it: the acting user, or `null` for the admin API. */
export type EventActor = { app_user_id: string; nickname: string } | null;

/**
 * Queues the events of a group operation inside its transaction: `data` is the system message's
 * `extra` (what members are told) plus `by`. Ordered with the group's messages (same key).
 */
export async function enqueueGroupEvents(outbox: WebhookOutbox, tx: Queryable, groupId: string, specs: SystemMessageSpec[], by: EventActor, time: number): Promise<void> {
  for (const spec of specs) {
    const event = EVENT_OF[spec.type];
    if (event) await outbox.enqueue(tx, event, conversationKey(groupId), { ...spec.extra, by }, time);
  }
}
