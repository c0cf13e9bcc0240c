import { WebSocket } from 'ws';

/**
 * Requests of one action on an open socket: `ask(fields)` sends `{action, nonce, ...fields}` and
 * resolves with the frame that carries its nonce (the reply).
 */
export function requester(socket: WebSocket, action: string): (fields: Record<string, unknown>) => Promise<any> {
  let counter = 0;
  return (fields) =>
    new Promise((resolve) => {
      const nonce = `${action}-${++counter}`;
      const listener = (raw: unknown) => {
        const frame = JSON.parse(String(raw));
        if (frame.nonce !== nonce) return;
        socket.off('message', listener);
        resolve(frame);
      };
      socket.on('message', listener);
      socket.send(JSON.stringify({ action, nonce, ...fields }));
    });
}
