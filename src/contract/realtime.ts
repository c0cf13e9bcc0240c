import { request } from './common';

/** `ping` (PROTOCOL §2): answered `pong`, for browsers that cannot send WebSocket pings. */
export const ping = request('ping', 'Application-level ping; reply action `pong`.', {}, []);
