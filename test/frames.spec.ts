import { encodePush, encodeReply, encodeReplyAndPush, ReplyBody } from '../src/realtime/frames';

describe('frames: a sent message encoded once for its reply and its push', () => {
  const data = JSON.stringify({ type: 1, content: 'say "hi" \\ 東京 \u2028 😀 {"a":1}', extra: { quote: '"' }, app_user_id: 'a"b', seq: 7 });
  const bodies: Array<[string, string, ReplyBody]> = [
    ['chat', 'chat', { data, time: 1765000000000, user_id: 12, msg_id: 345 }],
    ['groupChat', 'groupChat', { data, time: 1765000000001, user_id: 12, msg_id: 346, group_id: '99' }],
    ['chat', 'chat', { data: '', time: 0, user_id: 1, msg_id: 1 }],
  ];

  it.each(bodies)('gives the same frames as encoding each separately (%s)', (requestAction, pushAction, body) => {
    for (const nonce of ['1765000000000abcdef', 'n"\\once']) {
      const { reply, push } = encodeReplyAndPush(requestAction, pushAction, nonce, body);
      expect(reply).toBe(encodeReply(requestAction, nonce, body));
      expect(push).toBe(encodePush(pushAction, { ...body, nonce }));
      expect(JSON.parse(reply)).toMatchObject({ code: 200, msg: 'OK', action: 'sendResult', nonce, data: body.data });
      expect(JSON.parse(push)).toMatchObject({ code: 200, msg: 'OK', action: pushAction, nonce, data: body.data });
    }
  });
});
