import { EXPECTED, request } from './common';

/** `ping` (PROTOCOL §2): answered `pong`, for browsers that cannot send WebSocket pings. */
export const ping = request('ping', 'Application-level ping; reply action `pong`.', {}, []);

/**
 * `auth` (PROTOCOL §2): the first frame of a socket opened without a token. Handled by the adapter
 * itself (not a @SubscribeMessage), validated with this schema like every other request.
 */
export const auth = request(
  'auth',
  'In-band authentication (browsers): reply `auth` 200 with user_id, then the connect sequence; 401 and close 4401 for a bad token.',
  {
    token: {
      type: 'string',
      minLength: 1,
      maxLength: 8192,
      description: 'a client token issued by POST /admin/users/{app_user_id}/tokens',
      [EXPECTED]: 'must be a non-empty string (a client token)',
    },
  },
  ['token'],
);
