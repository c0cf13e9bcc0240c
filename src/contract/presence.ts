import { appUserIdList, request } from './common';

/** Most users one `presence` request may ask about. */
export const PRESENCE_MAX_USERS = 200;

/** `presence` (PROTOCOL §5): who of these users has an open connection on any node. */
export const presence = request(
  'presence',
  'Online state of up to 200 users: reply data = {"online": {app_user_id: bool}} (unknown users are false).',
  { app_user_ids: appUserIdList('the users asked about', { minItems: 1, maxItems: PRESENCE_MAX_USERS }) },
  ['app_user_ids'],
);

/** A `presence` request that passed its schema. */
export interface PresenceRequest {
  action: 'presence';
  nonce: string;
  app_user_ids: string[];
}
