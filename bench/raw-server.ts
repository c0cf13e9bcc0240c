/**
 * The baseline: a bare `ws` server that parses every JSON frame and answers it the way the IM server
 * would, without storing anything — the ceiling for any WebSocket server on this machine.
 * - on connect (`?user=NAME`): one small first frame (the IM server's sync frame);
 * - `chat`: a sendResult to the sender and the message pushed to `app_user_ids`'s sockets;
 * - `groupChat`: a sendResult and the message pushed to every other connected socket (one group).
 *
 *   npx ts-node --transpile-only bench/raw-server.ts        prints "listening on port N"; PORT=… to choose
 */
import { createServer } from 'http';
import { WebSocket, WebSocketServer } from 'ws';

const byUser = new Map<string, Set<WebSocket>>();
const everyone = new Set<WebSocket>();
let nextMsgId = 1;

const http = createServer((_, response) => response.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on('connection', (socket, request) => {
  const user = new URL(request.url ?? '/', 'http://x').searchParams.get('user') ?? '';
  let mine = byUser.get(user);
  if (!mine) byUser.set(user, (mine = new Set()));
  mine.add(socket);
  everyone.add(socket);
  socket.on('close', () => {
    mine!.delete(socket);
    everyone.delete(socket);
  });
  socket.send(JSON.stringify({ action: 'system', type: 19, data: { friendList: [], groupList: [] }, time: Date.now() }));
  socket.on('message', (raw) => {
    const frame = JSON.parse(raw.toString());
    const time = Date.now();
    const msgId = nextMsgId++;
    const data = JSON.stringify({ type: frame.type, content: frame.content, extra: {}, app_user_id: user, seq: msgId });
    socket.send(JSON.stringify({ action: 'sendResult', code: 200, msg: 'ok', nonce: frame.nonce, data, time, user_id: 1, msg_id: msgId }));
    const push = JSON.stringify({ action: frame.action, nonce: frame.nonce, data, time, user_id: 1, msg_id: msgId, group_id: frame.group_id });
    const targets = frame.action === 'groupChat' ? everyone : (byUser.get(frame.app_user_ids) ?? []);
    for (const target of targets) if (target !== socket) target.send(push);
  });
});
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening on port ${(http.address() as { port: number }).port}`);
});
