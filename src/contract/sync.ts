import { request } from './common';

/** `sync` (PROTOCOL §6): the type-19 data on demand. No fields besides action and nonce. */
export const sync = request('sync', 'The sync payload ({friendList, groupList}) on demand, as in the type-19 frame pushed on connect.', {}, []);
