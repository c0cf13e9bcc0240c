/**
 * A minimal stand-in for `@im-server/client` (packages/client, built in parallel): the same surface the
 * console uses, so switching to the SDK is an import change. In-band auth only (browsers), one socket,
 * replies matched by nonce, reconnect with backoff.
 */

export type Conversation = { user: string } | { group: string };
export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface ChatMessage {
  msg_id: number;
  seq: number;
  time: number;
  user_id: number;
  type: number;
  content: string;
  extra: Record<string, any>;
  app_user_id: string;
  nickname: string;
  head: string;
  to_app_user_id?: string;
  group_id?: string;
  recalled?: boolean;
  edited_at?: number;
}

export interface SyncItem {
  app_user_id?: string;
  nickname?: string;
  group_id?: string;
  group_name?: string;
  head?: string;
  cover?: string;
  count: number;
  mention_count: number;
  last_message: string;
  last_msg_id: number;
  last_type: number;
  time: number;
  muted?: boolean;
  pinned?: boolean;
}

export interface SyncData {
  to_app_user_id?: string;
  friendList: SyncItem[];
  groupList: SyncItem[];
}

export interface SystemMessage {
  msg_id: number;
  time: number;
  user_id: number;
  group_id?: string;
  content: string;
  type: number;
  sub_type: string;
  extra: any;
}

export interface AckReceipt {
  msg_id: number;
  status: number;
  app_user_id: string;
  type?: number;
  group_id?: string;
  /** The reader's user_id (the frame's user_id). */
  user_id: number;
}

export interface HistoryPage {
  messages: ChatMessage[];
  has_more: boolean;
}

export interface GroupMember {
  app_user_id: string;
  nickname: string;
  head: string;
  role: 'owner' | 'admin' | 'member';
  muted_until?: number;
}

export interface GroupInfo {
  group_id: string;
  group_name: string;
  cover: string;
  notice: string;
  invite_code?: string;
  member_list: GroupMember[];
  [field: string]: unknown;
}

export class ImError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Events {
  state: ConnectionState;
  message: ChatMessage;
  systemMessage: SystemMessage;
  ack: AckReceipt;
  sync: SyncData;
  error: Error;
}

export interface ClientOptions {
  url: string;
  getToken: () => string | Promise<string>;
  auth?: 'in-band';
  requestTimeoutMs?: number;
}

type Frame = Record<string, any>;
interface Pending {
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

let counter = 0;
function nonce(): string {
  counter = (counter + 1) % 1e6;
  return `${Date.now()}${Math.random().toString(36).slice(2, 8)}${counter}`;
}

function parseData(frame: Frame): any {
  if (typeof frame.data !== 'string') return frame.data ?? {};
  try {
    return JSON.parse(frame.data);
  } catch {
    return {};
  }
}

/** Close codes after which reconnecting cannot help. */
const FATAL_CLOSES = new Set([4401, 4409]);

export class ImClient {
  state: ConnectionState = 'closed';
  userId?: number;
  private socket?: WebSocket;
  private readonly listeners = new Map<keyof Events, Set<(value: any) => void>>();
  private readonly pending = new Map<string, Pending>();
  private stopped = true;
  private retry = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;

  constructor(private readonly options: ClientOptions) {}

  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): () => void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(listener);
    return () => this.listeners.get(event)!.delete(listener);
  }

  private emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const listener of this.listeners.get(event) ?? []) listener(value);
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  /** Opens the socket and authenticates; resolves after the `auth` reply (the sync frame follows). */
  connect(): Promise<void> {
    this.stopped = false;
    return this.open();
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.socket?.close(1000);
    this.setState('closed');
  }

  private open(): Promise<void> {
    this.setState('connecting');
    return new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(this.options.url);
      this.socket = socket;
      let authenticated = false;
      socket.onopen = async () => {
        try {
          const token = await this.options.getToken();
          const reply = await this.request('auth', { token });
          this.userId = reply.user_id;
          authenticated = true;
          this.retry = 0;
          this.setState('open');
          resolve();
        } catch (error) {
          reject(error);
        }
      };
      socket.onmessage = (event) => this.onFrame(event.data);
      socket.onclose = (event) => {
        if (this.socket !== socket) return;
        for (const [key, entry] of this.pending) {
          clearTimeout(entry.timer);
          entry.reject(new ImError(0, 'connection closed'));
          this.pending.delete(key);
        }
        this.setState('closed');
        if (!authenticated) reject(new ImError(event.code === 4401 ? 401 : 0, `connection closed (${event.code})`));
        if (this.stopped || FATAL_CLOSES.has(event.code) || !authenticated) return;
        const delay = Math.min(30_000, 500 * 2 ** this.retry++);
        this.retryTimer = setTimeout(() => {
          if (!this.stopped) this.open().catch((error) => this.emit('error', error));
        }, delay);
      };
    });
  }

  private onFrame(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let frame: Frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    const action = frame.action;
    const waiting = typeof frame.nonce === 'string' ? this.pending.get(frame.nonce) : undefined;
    const isPush = action === 'chat' || action === 'groupChat' || action === 'ack' || action === 'systemMessage' || action === 'typing';
    if (waiting && !isPush) {
      this.pending.delete(frame.nonce);
      clearTimeout(waiting.timer);
      if (frame.code === 200) waiting.resolve(frame);
      else waiting.reject(new ImError(frame.code, frame.msg ?? `code ${frame.code}`));
      return;
    }
    const data = parseData(frame);
    if (action === 'chat' || action === 'groupChat') {
      this.emit('message', { ...data, msg_id: frame.msg_id, time: frame.time, user_id: frame.user_id });
    } else if (action === 'ack') {
      this.emit('ack', { ...data, user_id: frame.user_id });
    } else if (action === 'systemMessage') {
      if (data.type === 19) this.emit('sync', { to_app_user_id: data.to_app_user_id, friendList: [], groupList: [], ...(data.extra ?? {}) });
      else this.emit('systemMessage', { ...data, msg_id: frame.msg_id, time: frame.time, user_id: frame.user_id, group_id: frame.group_id ?? data.group_id });
    } else if (action === 'error' && frame.code !== 200) {
      this.emit('error', new ImError(frame.code, frame.msg ?? 'error'));
    }
  }

  private request(action: string, fields: Record<string, unknown>): Promise<Frame> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return Promise.reject(new ImError(0, 'not connected'));
    const id = nonce();
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ImError(0, `${action}: no reply`));
      }, this.options.requestTimeoutMs ?? 15_000);
      this.pending.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify({ action, nonce: id, ...fields }));
    });
  }

  private static target(conv: Conversation): Record<string, string> {
    return 'group' in conv ? { group_id: conv.group } : { app_user_ids: conv.user };
  }

  sendText(conv: Conversation, text: string): Promise<ChatMessage> {
    return this.send(conv, { type: 1, content: text, extra: {} });
  }

  async send(conv: Conversation, message: { type: number; content?: string; extra?: Record<string, unknown> }): Promise<ChatMessage> {
    const action = 'group' in conv ? 'groupChat' : 'chat';
    const reply = await this.request(action, { ...ImClient.target(conv), type: message.type, content: message.content ?? '', extra: message.extra ?? {} });
    return { ...parseData(reply), msg_id: reply.msg_id, time: reply.time, user_id: reply.user_id };
  }

  async ack(conv: Conversation, msgId: number, status: 1 | 2): Promise<void> {
    await this.request('ack', { ...ImClient.target(conv), msg_id: msgId, status });
  }

  async history(conv: Conversation, options: { before_seq?: number; after_seq?: number; limit?: number } = {}): Promise<HistoryPage> {
    return parseData(await this.request('history', { ...ImClient.target(conv), ...options }));
  }

  async createGroup(fields: { group_name: string; app_user_ids: string[]; cover?: string; notice?: string }): Promise<GroupInfo> {
    const reply = await this.request('createGroup', { extra: fields });
    return { ...parseData(reply), group_id: reply.group_id };
  }

  async inviteToGroup(groupId: string, appUserIds: string[]): Promise<GroupInfo> {
    return parseData(await this.request('inviteToGroup', { extra: { group_id: groupId, app_user_ids: appUserIds } }));
  }

  async joinGroup(groupId: string, inviteCode: string): Promise<GroupInfo> {
    return parseData(await this.request('joinGroup', { extra: { group_id: groupId, invite_code: inviteCode } }));
  }

  async groupInfo(groupId: string): Promise<GroupInfo> {
    const reply = await this.request('groupInfo', { extra: { group_id: groupId } });
    return { ...parseData(reply), group_id: reply.group_id ?? groupId };
  }

  async leaveGroup(groupId: string): Promise<void> {
    await this.request('leaveGroup', { extra: { group_id: groupId } });
  }

  async presence(appUserIds: string[]): Promise<Record<string, boolean>> {
    if (appUserIds.length === 0) return {};
    return parseData(await this.request('presence', { app_user_ids: appUserIds })).online ?? {};
  }

  async sync(): Promise<SyncData> {
    const data = parseData(await this.request('sync', {}));
    return { to_app_user_id: data.to_app_user_id, friendList: [], groupList: [], ...(data.extra ?? {}) };
  }
}
