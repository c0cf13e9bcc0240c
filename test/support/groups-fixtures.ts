import { TestServer } from './server';
import { dataOf, Frame, WsClient } from './ws-client';

/** A system message's parsed data. */
export interface SystemData {
  group_id?: string;
  content: string;
  type: number;
  sub_type: string;
  extra: any;
}

/** The next systemMessage push of this type (the sync frame, type 19, is never matched). */
export function systemMessage(client: WsClient, type: number, match: (data: SystemData, frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
  return client.push('systemMessage', (frame) => {
    const data = dataOf<SystemData>(frame);
    return data.type === type && match(data, frame);
  }, timeoutMs);
}

/** systemMessage frames other than the sync frame received so far (consumed or not). */
export function systemMessagesReceived(client: WsClient): Frame[] {
  return client.received((frame) => frame.action === 'systemMessage' && dataOf<SystemData>(frame).type !== 19);
}

/** Waits `ms` and returns the system messages (not sync) that arrived meanwhile. */
export async function quietSystem(client: WsClient, ms = 300): Promise<Frame[]> {
  return (await client.quietFor(ms, 'systemMessage')).filter((frame) => dataOf<SystemData>(frame).type !== 19);
}

/** Connects each user (created as needed, nickname `<id>-nick`). */
export async function connectAll<K extends string>(t: TestServer, ids: K[]): Promise<Record<K, WsClient>> {
  const clients = {} as Record<K, WsClient>;
  for (const id of ids) clients[id] = await t.connect(id);
  return clients;
}

/** Creates a group over WebSocket and returns its group_id (asserting success). */
export async function createGroup(owner: WsClient, members: string[], fields: Record<string, unknown> = {}): Promise<string> {
  const reply = await owner.request('createGroup', { extra: { group_name: 'Team', app_user_ids: members, ...fields } });
  if (reply.code !== 200 || typeof reply.group_id !== 'string') throw new Error(`createGroup failed: ${JSON.stringify(reply)}`);
  return reply.group_id;
}

/** The group's current invite code, as its owner sees it in groupInfo (asserting it is there). */
export async function inviteCode(owner: WsClient, groupId: string): Promise<string> {
  const reply = await owner.request('groupInfo', { extra: { group_id: groupId } });
  const code = reply.code === 200 ? dataOf(reply).invite_code : undefined;
  if (typeof code !== 'string') throw new Error(`no invite_code in the owner's groupInfo: ${JSON.stringify(reply)}`);
  return code;
}

/** Resolves when the user has no open connection registered on the server any more. */
export async function waitOffline(t: TestServer, appUserId: string, timeoutMs = 3000): Promise<void> {
  const { ConnectionRegistry } = require('../../src/realtime/connection-registry');
  const registry = t.server.app.get(ConnectionRegistry);
  const [row] = await t.sql<{ id: number }>(`SELECT id FROM users WHERE app_user_id = $1`, [appUserId]);
  const deadline = Date.now() + timeoutMs;
  while (registry.isOnline(row.id)) {
    if (Date.now() > deadline) throw new Error(`${appUserId} still online`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Closes a client and waits until the server saw it go. */
export async function disconnect(t: TestServer, client: WsClient, appUserId: string): Promise<void> {
  client.close();
  await client.closed;
  await waitOffline(t, appUserId);
}

/** The server's numeric user_id of an app user. */
export async function userIdOf(t: TestServer, appUserId: string): Promise<number> {
  const [row] = await t.sql<{ id: number }>(`SELECT id FROM users WHERE app_user_id = $1`, [appUserId]);
  if (!row) throw new Error(`no user ${appUserId}`);
  return row.id;
}
