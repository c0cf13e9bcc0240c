import { encodePush, encodeReply, encodeReplyAndPush, ReplyBody } from '../src/realtime/frames';

describe('frames: a sent message encoded once for its reply and its push', () => {
  const data = JSON.stringify({ type: 1, content: 'say "hi" \\ 東京 \u2028 😀 {"a":1}', extra: { quote: '"' }, app_user_id: 'a"b', seq: 7 });
  const bodies: Array<[string, ReplyBody]> = [
    ['chat', { data, time: 1765000000000, user_id: 12, msg_id: 345 }],
    ['groupChat', { data, time: 1765000000001, user_id: 12, msg_id: 346, group_id: '99' }],
    ['chat', { data: '', time: 0, user_id: 1, msg_id: 1 }],
  ];

  it.each(bodies)('gives the same frames as encoding each separately (%s)', (action, body) => {
    for (const nonce of ['1765000000000abcdef', 'n"\\once']) {
      const { reply, push } = encodeReplyAndPush(action, nonce, body);
      expect(reply).toBe(encodeReply(action, nonce, body));
      expect(push).toBe(encodePush(action, { ...body, nonce }));
      expect(JSON.parse(reply)).toMatchObject({ code: 200, msg: 'OK', action: 'sendResult', nonce, data: body.data });
      expect(JSON.parse(push)).toMatchObject({ code: 200, msg: 'OK', action, nonce, data: body.data });
    }
  });
});
