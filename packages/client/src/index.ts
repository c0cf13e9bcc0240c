/**
 * @im-server/client: the client SDK of im-server (docs/PROTOCOL.md §2–6).
 *
 * The client in this file; media uploads in media.ts (bundled by esbuild into the same outputs). No
 * Node built-ins anywhere: it runs in browsers (native WebSocket) and in Node (pass the `ws` class as
 * `WebSocket`).
 */
import { headOf, httpOriginOf, imageSize, imageTypeOf, isMediaInput, MediaInput, uploadMedia, UploadedMedia, UploadOptions, FileUploadOptions, ImageUploadOptions, VideoUploadOptions, VoiceUploadOptions } from './media';

export { imageSize, MediaUploadError } from './media';
export type { FileUploadOptions, ImageUploadOptions, MediaInput, UploadedMedia, UploadOptions, VideoUploadOptions, VoiceUploadOptions } from './media';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** A conversation: one-to-one with a user (their app_user_id) or a group (its id, a string of digits). */
export type Conversation = { user: string } | { group: string };

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Message types a client may send (PROTOCOL §4). */
export type MessageType = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

export const MessageTypes = {
  text: 1,
  voice: 2,
  image: 3,
  location: 4,
  redPacket: 5,
  card: 6,
  video: 7,
  file: 8,
} as const;

export interface VoiceExtra {
  voice_url: string;
  /** whole seconds, 1–600 */
  duration: number;
  [key: string]: unknown;
}
export interface ImageExtra {
  url: string;
  width: number;
  height: number;
  /** 1 original, 2 compressed */
  is_original: 1 | 2;
  thumb_url?: string;
  [key: string]: unknown;
}
export interface LocationExtra {
  latitude: number;
  longitude: number;
  address?: string;
  [key: string]: unknown;
}
export type RedPacketExtra = Record<string, unknown>;
export interface CardExtra {
  /** the person shown on the card */
  app_user_id: string;
  [key: string]: unknown;
}
export interface VideoExtra {
  video_url: string;
  cover_url: string;
  /** whole seconds > 0 */
  videoTotalTime: number;
  width: number;
  height: number;
  [key: string]: unknown;
}
export interface FileExtra {
  file_name: string;
  file_size: number;
  etag: string;
  download_url?: string;
  [key: string]: unknown;
}

export interface OutgoingMessage {
  type: MessageType;
  content?: string;
  extra?: Record<string, unknown>;
  /** reply to this msg_id of the same conversation (sent as extra.reply_to; the server puts a Quote there) */
  replyTo?: number;
  /** groups: app_user_ids of members to mention (extra.mentions, at most 50) */
  mentions?: string[];
  /** groups, owner and admins only: mention everyone (extra.mention_all) */
  mentionAll?: boolean;
}

/** What the server puts in `extra.reply_to` of a reply (PROTOCOL §4 "Replies and mentions"). */
export interface Quote {
  msg_id: number;
  seq: number;
  app_user_id: string;
  nickname: string;
  type: number;
  /** as in the conversation list; "[recalled]" once the quoted message was recalled (read through history) */
  preview: string;
}

/** The answer to `recall` (also when the message was already recalled). */
export interface RecallResult {
  msg_id: number;
  seq: number;
  group_id?: string;
  to_app_user_id?: string;
  /** ms since the epoch, when it was recalled (the first time) */
  recalled_at: number;
}

/** The answer to `edit`, and what an `edit` event carries. */
export interface EditResult {
  msg_id: number;
  seq: number;
  content: string;
  extra: Record<string, unknown>;
  edited_at: number;
}

/** One version of an edited text; `editHistory` lists them oldest first (the original, then each edit). */
export interface EditVersion {
  content: string;
  extra: Record<string, unknown>;
  /** when this version was written (the original: when it was sent) */
  edited_at: number;
}

/** A message was recalled (system message 20): drop its content where it is shown. */
export interface RecallEvent {
  msg_id: number;
  seq: number;
  group_id?: string;
  /** one-to-one: the participant who did not send it */
  to_app_user_id?: string;
  /** who recalled it ({app_user_id: "", nickname: "admin"} for the admin API) */
  by: { app_user_id: string; nickname: string };
}

/** A message was edited (system message 21): replace its content and extra. */
export interface EditEvent extends EditResult {
  group_id?: string;
  /** one-to-one: the participant who did not send it */
  to_app_user_id?: string;
}

/** A chat message, whether it came as a push, from a gap fill, or from this client's own send. */
export interface ChatMessage {
  msg_id: number;
  seq: number;
  /** ms since the epoch, when the server stored it */
  time: number;
  /** the sender's numeric id */
  user_id: number;
  type: number;
  content: string;
  extra: Record<string, unknown>;
  /** the sender */
  app_user_id: string;
  nickname: string;
  head: string;
  /** one-to-one: the recipient */
  to_app_user_id?: string;
  /** group messages */
  group_id?: string;
  edited_at?: number;
  recalled?: boolean;
  /** history only, on your own group messages: members (not you) whose read position reached it */
  read_count?: number;
  /** history only: per emoji, absent when none */
  reactions?: Reaction[];
  /** the conversation, from this client's point of view ({user: the other person} or {group}) */
  conversation: Conversation;
  /** true when this user sent it (from this client or another device) */
  mine: boolean;
  [key: string]: unknown;
}

export interface SendResult {
  msg_id: number;
  seq: number;
  time: number;
  message: ChatMessage;
  /** true when the server had already stored this send (reply 831 to a resend): nothing new was stored */
  duplicate: boolean;
}

export interface AckEvent {
  msg_id: number;
  /** 1 delivered, 2 read */
  status: number;
  /** the reader */
  app_user_id: string;
  /** type of the acknowledged message */
  type: number;
  group_id?: string;
  /** the reader's numeric id */
  user_id: number;
  time: number;
}

export interface SystemMessage {
  msg_id: number;
  time: number;
  /** who caused it (0: the admin API) */
  user_id: number;
  type: number;
  sub_type: 'personal' | 'group' | string;
  content: string;
  extra: Record<string, any>;
  group_id?: string;
  to_app_user_id?: string;
  [key: string]: unknown;
}

export interface FriendItem {
  app_user_id: string;
  nickname: string;
  head: string;
  /** unread messages (recalled ones are not counted) */
  count: number;
  /** unread messages that mention you or all (always 0 one-to-one) */
  mention_count: number;
  last_message: string;
  last_msg_id: number;
  last_type: number;
  time: number;
  muted: boolean;
  pinned: boolean;
}

export interface GroupItem {
  group_id: string;
  group_name: string;
  cover: string;
  count: number;
  /** unread messages that mention you or all */
  mention_count: number;
  last_message: string;
  last_msg_id: number;
  last_type: number;
  time: number;
  muted: boolean;
  pinned: boolean;
}

/** One item of the full conversation list: a sync item (count may be 0) plus its kind. */
export type ConversationItem = (FriendItem & { kind: 'direct' }) | (GroupItem & { kind: 'group' });

export interface ConversationPage {
  /** pinned first (first page only), then newest first */
  conversations: ConversationItem[];
  /** more unpinned conversations older than this page */
  has_more: boolean;
}

/** Per-user settings of one conversation (also pushed to your other devices as system message 24). */
export interface ConversationSettings {
  muted: boolean;
  pinned: boolean;
  group_id?: string;
  to_app_user_id?: string;
}

/** The unread lists of the sync frame (PROTOCOL §6): only conversations with unread messages. */
export interface SyncData {
  friendList: FriendItem[];
  groupList: GroupItem[];
}

export interface GroupMember {
  app_user_id: string;
  nickname: string;
  head: string;
  role: 'owner' | 'admin' | 'member';
  /** ms since the epoch until which the member may not post; 0 when not muted */
  muted_until: number;
}

export interface GroupInfo {
  group_id: string;
  group_name: string;
  cover: string;
  notice: string;
  /** the owner's app_user_id */
  owner: string;
  member_count: number;
  created_at: number;
  banned_to_post: number;
  invite_mode: number;
  /** only for the owner and admins */
  invite_code?: string;
  member_list: GroupMember[];
  [key: string]: unknown;
}

/** One member in a readBy list. */
export interface Reader {
  app_user_id: string;
  nickname: string;
  head: string;
}

/** Who has read a group message (over the members but its sender); lists cut at the limit asked for. */
export interface ReadBy {
  read_count: number;
  unread_count: number;
  read: Reader[];
  unread: Reader[];
}

export interface GroupChanges {
  group_name?: string;
  cover?: string;
  notice?: string;
  banned_to_post?: 0 | 1;
  invite_mode?: 0 | 1;
  /** 1: draw a new invite code */
  reset_invite_code?: 1;
  /** new owner (must be a member) */
  app_user_id?: string;
}

/** One emoji's state on a message, as history lists it (PROTOCOL §4 History). */
export interface Reaction {
  emoji: string;
  count: number;
  /** the first 10 reactors, earliest first */
  app_user_ids: string[];
  /** you reacted with this emoji */
  me: boolean;
}

/** A reaction added or removed (push `reaction`, and what `react` resolves with). */
export interface ReactionEvent {
  msg_id: number;
  seq: number;
  emoji: string;
  op: 'add' | 'remove';
  /** who reacted */
  app_user_id: string;
  /** reactors with this emoji after the change */
  count: number;
  /** group messages */
  group_id?: string;
  /** the reactor's numeric id */
  user_id: number;
  time: number;
}

/** Someone is typing (push `typing`). */
export interface TypingEvent {
  /** who is typing */
  app_user_id: string;
  /** one-to-one: you */
  to_app_user_id?: string;
  group_id?: string;
  /** the conversation from your point of view: {user: the typist} or {group} */
  conversation: Conversation;
  user_id: number;
  time: number;
}

/** You cleared a conversation's history on another device (system message 23). */
export interface HistoryClearedEvent {
  /** messages with seq up to this are hidden */
  seq: number;
  conversation: Conversation;
}

export interface HistoryOptions {
  before_seq?: number;
  after_seq?: number;
  /** 1–100, default 20 */
  limit?: number;
}

export interface HistoryPage {
  /** newest first, except with after_seq (oldest first) */
  messages: ChatMessage[];
  has_more: boolean;
}

/** `search` (PROTOCOL §12): where to search and which page. */
export interface SearchOptions {
  /** narrow to one conversation; absent = every conversation of this user */
  conversation?: Conversation;
  /** 1–50, default 20 */
  limit?: number;
  /** the next page: the `msg_id` of the last message of the previous page */
  before_msg_id?: number;
}

export interface SearchPage {
  /** matches, newest first (by msg_id) */
  messages: ChatMessage[];
  /** older matches exist: ask again with `before_msg_id` = the last `msg_id` of this page */
  has_more: boolean;
}

/** Anything with the browser WebSocket's shape: globalThis.WebSocket, or the `ws` package's class. */
export type WebSocketClass = new (url: string, ...rest: any[]) => any;

export interface ImClientOptions {
  /** ws://host:port/ (the server's WebSocket path) */
  url: string;
  /** a client token issued by the app's back end (admin API) */
  token?: string;
  /** called at the first connect and again after the token expired (4401): return a fresh token */
  getToken?: () => string | Promise<string>;
  /** the WebSocket class; default globalThis.WebSocket. In Node before 22 pass the `ws` package's WebSocket class. */
  WebSocket?: WebSocketClass;
  /** 'in-band' (default): first frame {action:'auth'}; 'query': ?token= on the upgrade URL */
  auth?: 'in-band' | 'query';
  /** how long a request waits for its reply before the connection is deemed dead (default 10000) */
  requestTimeoutMs?: number;
  /** reconnect backoff: delay doubles from minDelayMs (500) up to maxDelayMs (30000), with jitter */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  /** app-level ping interval to detect dead connections (default 25000; 0 = off) */
  pingIntervalMs?: number;
  /** how many times a request answered with code 0 is retried with the same nonce (default 3) */
  maxServerErrorRetries?: number;
  /** how many times a request answered 429 is retried after a short delay (default 5) */
  maxRateLimitRetries?: number;
  /** http(s)://host:port for media uploads (POST /media/uploads); default: the origin of `url` */
  httpUrl?: string;
  /** the fetch used for media uploads; default globalThis.fetch */
  fetch?: typeof fetch;
}

export interface StateDetail {
  /** the close code that caused this state, when there was one */
  code?: number;
  reason?: string;
  /** for 'closed': why the client gave up, when it did not close on request */
  error?: ImError;
}

export interface ImClientEvents {
  state: (state: ConnectionState, detail: StateDetail) => void;
  message: (message: ChatMessage) => void;
  systemMessage: (message: SystemMessage) => void;
  /** system message 20, also emitted as `systemMessage` */
  recall: (event: RecallEvent) => void;
  /** system message 21, also emitted as `systemMessage` */
  edit: (event: EditEvent) => void;
  ack: (ack: AckEvent) => void;
  sync: (sync: SyncData) => void;
  /** a reaction was added or removed on a message you can read (also on your other devices) */
  reaction: (reaction: ReactionEvent) => void;
  /** someone else is typing (at most one event per person and conversation per 3 s) */
  typing: (typing: TypingEvent) => void;
  /** you cleared a conversation on another device (system message 23, also emitted as `systemMessage`) */
  historyCleared: (cleared: HistoryClearedEvent) => void;
  /** pushes this SDK does not interpret: the raw envelope with data parsed */
  push: (frame: Record<string, any>) => void;
}

/** Every failure: `code` is the PROTOCOL code (0 = server-side failure, timeout or client closed). */
export class ImError extends Error {
  readonly code: number;
  readonly msg: string;
  readonly action: string;
  constructor(code: number, msg: string, action: string) {
    super(`${action}: ${code} ${msg}`);
    this.name = 'ImError';
    this.code = code;
    this.msg = msg;
    this.action = action;
    Object.setPrototypeOf(this, ImError.prototype);
  }
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

/** A server→client frame (PROTOCOL §3) as received: `data` is still a JSON string. */
export interface Envelope {
  code: number;
  msg: string;
  action: string;
  data?: string;
  nonce?: string;
  time?: number;
  user_id?: number;
  msg_id?: number;
  group_id?: string;
  [key: string]: unknown;
}

interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

type Timer = ReturnType<typeof setTimeout>;

/** What a request does when its connection is lost before the reply came. */
export type LostPolicy = 'resend' | 'reject';

interface Pending {
  nonce: string;
  frame: Record<string, unknown>;
  replyAction: string;
  lost: LostPolicy;
  /** sends never time out into a rejection: they wait for the next connection */
  isSend: boolean;
  /** written on the current connection */
  sentOn: SocketLike | null;
  serverErrors: number;
  rateLimited: number;
  resolve: (frame: Envelope) => void;
  reject: (error: ImError) => void;
  /** reply wait on the current connection */
  replyTimer?: Timer;
  /** overall deadline for non-send requests */
  deadline?: Timer;
  /** delayed retry (code 0 / 429) */
  retryTimer?: Timer;
}

interface ConvState {
  key: string;
  conversation: Conversation;
  /** the highest seq emitted; null = not initialised yet */
  lastSeq: number | null;
  /** arrived, not yet emitted (waiting for a lower seq) */
  buffer: Map<number, ChatMessage>;
  filling: boolean;
  /** another fill was asked for while one ran */
  refill: boolean;
}

const REPLY_ACTIONS: Record<string, string> = { chat: 'sendResult', groupChat: 'sendResult', ack: 'ackResult', ping: 'pong', typing: 'typingResult' };
const PUSH_ACTIONS = new Set(['chat', 'groupChat', 'ack', 'systemMessage', 'typing', 'reaction', 'error']);
const OPEN = 1;
const HISTORY_PAGE = 100;

const NONCE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** millisecond timestamp + random characters, the form PROTOCOL §1 advises */
export function makeNonce(): string {
  const bytes = new Uint8Array(10);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let out = String(Date.now());
  for (const b of bytes) out += NONCE_CHARS[b % NONCE_CHARS.length];
  return out;
}

/** A stable string key for a conversation ('u:bob', 'g:3'), e.g. for a Map of conversations. */
export function conversationKey(conversation: Conversation): string {
  if ('group' in conversation) return `g:${conversation.group}`;
  return `u:${conversation.user}`;
}

function parseData(frame: Envelope): any {
  if (typeof frame.data !== 'string') return undefined;
  try {
    return JSON.parse(frame.data);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

export class ImClient {
  /** the connected user's numeric id (after connect) */
  userId: number | null = null;
  /** the connected user's app_user_id (after connect, from the sync frame's to_app_user_id) */
  appUserId: string | null = null;
  /** the last sync data received */
  lastSync: SyncData | null = null;

  private readonly options: ImClientOptions;
  private readonly WS: WebSocketClass;
  private readonly requestTimeoutMs: number;
  private readonly minDelay: number;
  private readonly maxDelay: number;
  private readonly pingIntervalMs: number;
  private readonly maxServerErrorRetries: number;
  private readonly maxRateLimitRetries: number;

  private listeners = new Map<string, Set<(...args: any[]) => void>>();
  private stateValue: ConnectionState = 'closed';
  private socket: SocketLike | null = null;
  /** authenticated and the sync frame arrived on `socket` */
  private ready = false;
  private wanted = false;
  private everConnected = false;
  private attempt = 0;
  private reconnectTimer?: Timer;
  private pingTimer?: Timer;
  /** a connect attempt that is not authenticated and synced in time is abandoned */
  private connectTimer?: Timer;
  private token: string | null = null;
  /** ask getToken before the next connect attempt */
  private needToken = true;
  /** the current attempt uses a token getToken has just handed out */
  private tokenJustFetched = false;
  private authNonce: string | null = null;
  private pending = new Map<string, Pending>();
  private convs = new Map<string, ConvState>();
  /** highest msg_id of a chat message seen (watermark for conversations first seen after a reconnect) */
  private maxMsgId = 0;
  private connectWaiters: Array<{ resolve: () => void; reject: (e: ImError) => void }> = [];

  constructor(options: ImClientOptions) {
    if (!options || typeof options.url !== 'string') throw new TypeError('ImClient: options.url is required');
    if (options.token === undefined && options.getToken === undefined) throw new TypeError('ImClient: token or getToken is required');
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
    if (!WS) throw new TypeError('ImClient: no WebSocket class: pass options.WebSocket (in Node before 22: the WebSocket class of the "ws" package)');
    this.options = options;
    this.WS = WS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.minDelay = options.reconnect?.minDelayMs ?? 500;
    this.maxDelay = Math.max(this.minDelay, options.reconnect?.maxDelayMs ?? 30_000);
    this.pingIntervalMs = options.pingIntervalMs ?? 25_000;
    this.maxServerErrorRetries = options.maxServerErrorRetries ?? 3;
    this.maxRateLimitRetries = options.maxRateLimitRetries ?? 5;
    this.token = options.token ?? null;
  }

  // ----- events -----

  on<E extends keyof ImClientEvents>(event: E, listener: ImClientEvents[E]): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (...args: any[]) => void);
    return this;
  }

  off<E extends keyof ImClientEvents>(event: E, listener: ImClientEvents[E]): this {
    this.listeners.get(event)?.delete(listener as (...args: any[]) => void);
    return this;
  }

  once<E extends keyof ImClientEvents>(event: E, listener: ImClientEvents[E]): this {
    const wrapper = (...args: any[]) => {
      this.off(event, wrapper as ImClientEvents[E]);
      (listener as (...args: any[]) => void)(...args);
    };
    return this.on(event, wrapper as ImClientEvents[E]);
  }

  private emit(event: keyof ImClientEvents, ...args: unknown[]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        // a listener's bug must not break the connection; surface it asynchronously
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  private setState(state: ConnectionState, detail: StateDetail = {}): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emit('state', state, detail);
  }

  // ----- connection -----

  /** Connects; resolves once authenticated and the sync frame arrived. Reconnects by itself afterwards. */
  connect(): Promise<void> {
    if (this.ready) return Promise.resolve();
    const promise = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (!this.wanted) {
      this.wanted = true;
      this.setState('connecting');
      void this.openSocket();
    }
    return promise;
  }

  /** Closes for good: no reconnect; every request still waiting rejects with code 0. */
  close(): void {
    this.wanted = false;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.connectTimer);
    this.stopPing();
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    if (socket) {
      this.detach(socket);
      try {
        socket.close(1000, 'client closed');
      } catch {
        // already closing
      }
    }
    this.failAll(new ImError(0, 'client closed', 'close'));
    this.setState('closed', { code: 1000, reason: 'client closed' });
  }

  private async openSocket(): Promise<void> {
    if (!this.wanted) return;
    let token: string;
    try {
      this.tokenJustFetched = false;
      if (this.options.getToken && (this.token === null || this.needToken)) {
        this.token = await this.options.getToken();
        this.needToken = false;
        this.tokenJustFetched = true;
      }
      token = this.token as string;
    } catch (error) {
      this.giveUpOrRetry(new ImError(401, `getToken failed: ${(error as Error)?.message ?? error}`, 'auth'), true);
      return;
    }
    if (!this.wanted) return;
    const query = this.options.auth === 'query';
    let url = this.options.url;
    if (query) url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
    let socket: SocketLike;
    try {
      socket = new this.WS(url) as SocketLike;
    } catch (error) {
      this.giveUpOrRetry(new ImError(0, `cannot open WebSocket: ${(error as Error)?.message ?? error}`, 'connect'), false);
      return;
    }
    this.socket = socket;
    this.ready = false;
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (this.socket === socket && !this.ready) this.dropSocket('connect timeout');
    }, this.requestTimeoutMs);
    socket.onopen = () => {
      if (this.socket !== socket) return;
      if (!query) {
        this.authNonce = makeNonce();
        socket.send(JSON.stringify({ action: 'auth', nonce: this.authNonce, token }));
      }
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      const text = typeof event.data === 'string' ? event.data : String(event.data);
      let frame: Envelope;
      try {
        frame = JSON.parse(text) as Envelope;
      } catch {
        return;
      }
      this.onFrame(socket, frame);
    };
    socket.onerror = () => {
      // the close event follows and decides
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.onSocketClosed(socket, event.code, event.reason ?? '');
    };
  }

  private detach(socket: SocketLike): void {
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
  }

  private onSocketClosed(socket: SocketLike, code: number, reason: string): void {
    const wasReady = this.ready;
    clearTimeout(this.connectTimer);
    this.detach(socket);
    this.socket = null;
    this.ready = false;
    this.stopPing();
    this.connectionLost(socket);
    if (!this.wanted) return;
    if (code === 4409) {
      this.shutdown(new ImError(4409, 'replaced by a newer connection of this user', 'connect'), { code, reason });
      return;
    }
    if (code === 4401) {
      // the token is refused or expired: only a fresh one from getToken can help
      if (!this.options.getToken) {
        this.shutdown(new ImError(401, reason || 'token refused or expired', 'auth'), { code, reason });
        return;
      }
      if (!wasReady && this.tokenJustFetched) {
        // a token just handed out by getToken was refused: not worth a loop
        this.shutdown(new ImError(401, reason || 'token refused', 'auth'), { code, reason });
        return;
      }
      this.needToken = true;
    } else if (!wasReady && this.options.auth === 'query' && this.options.getToken) {
      // a refused upgrade shows as 1006 to browsers: the token may be the reason
      this.needToken = true;
    }
    if (!this.everConnected && !wasReady && code !== 4401) {
      // the very first connect failed: tell the caller instead of retrying silently
      this.shutdown(new ImError(0, `connection failed (close ${code}${reason ? ` ${reason}` : ''})`, 'connect'), { code, reason });
      return;
    }
    this.scheduleReconnect({ code, reason });
  }

  private giveUpOrRetry(error: ImError, fatal: boolean): void {
    if (fatal || !this.everConnected) this.shutdown(error, {});
    else this.scheduleReconnect({});
  }

  private shutdown(error: ImError, detail: StateDetail): void {
    this.wanted = false;
    clearTimeout(this.reconnectTimer);
    this.failAll(error);
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(error);
    this.setState('closed', { ...detail, error });
  }

  private scheduleReconnect(detail: StateDetail): void {
    this.setState('reconnecting', detail);
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    // "equal jitter": half fixed, half random, so clients dropped together do not return together
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.openSocket(), delay);
  }

  /** Kills the current socket (dead connection suspected) so that the reconnect machinery takes over. */
  private dropSocket(reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    try {
      socket.close(4000, reason);
      // `ws` (Node) would wait up to 30 s for the closing handshake of a dead peer
      (socket as { terminate?: () => void }).terminate?.();
    } catch {
      // ignore
    }
    // do not wait for the close handshake of a dead connection
    this.onSocketClosed(socket, 4000, reason);
  }

  private startPing(socket: SocketLike): void {
    this.stopPing();
    if (this.pingIntervalMs <= 0) return;
    this.pingTimer = setInterval(() => {
      if (this.socket !== socket || !this.ready) return;
      this.ping().catch(() => undefined);
    }, this.pingIntervalMs);
  }

  private stopPing(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  // ----- frames -----

  private onFrame(socket: SocketLike, frame: Envelope): void {
    if (frame.action === 'auth' && frame.nonce !== undefined && frame.nonce === this.authNonce) {
      if (frame.code === 200 && typeof frame.user_id === 'number') this.userId = frame.user_id;
      // a 401 is followed by close 4401, which decides
      return;
    }
    if (frame.action === 'systemMessage' && frame.msg_id === 0) {
      const data = parseData(frame);
      if (data?.type === 19) {
        this.onSyncFrame(socket, frame, data);
        return;
      }
    }
    if (frame.nonce !== undefined && !PUSH_ACTIONS.has(frame.action)) {
      const pending = this.pending.get(frame.nonce);
      if (pending && pending.replyAction === frame.action) {
        this.onReply(pending, frame);
        return;
      }
    }
    if (frame.action === 'error' && frame.nonce !== undefined && this.pending.has(frame.nonce)) {
      this.onReply(this.pending.get(frame.nonce) as Pending, frame);
      return;
    }
    switch (frame.action) {
      case 'chat':
      case 'groupChat':
        if (frame.code === 200) this.ingest(this.messageFromPush(frame));
        return;
      case 'ack': {
        const data = parseData(frame) ?? {};
        this.emit('ack', { ...data, user_id: frame.user_id ?? 0, time: frame.time ?? Date.now() } as AckEvent);
        return;
      }
      case 'systemMessage': {
        const data = parseData(frame) ?? {};
        const message: SystemMessage = {
          ...data,
          extra: data.extra ?? {},
          msg_id: frame.msg_id ?? 0,
          time: frame.time ?? 0,
          user_id: frame.user_id ?? 0,
        };
        if (message.group_id === undefined && frame.group_id !== undefined) message.group_id = frame.group_id;
        this.emit('systemMessage', message);
        if (message.type === 20 || message.type === 21) this.emitLifecycle(message);
        if (message.type === 23) {
          const extra = message.extra;
          const conversation: Conversation = extra.group_id !== undefined ? { group: String(extra.group_id) } : { user: String(extra.to_app_user_id) };
          this.emit('historyCleared', { seq: Number(extra.seq) || 0, conversation });
        }
        return;
      }
      case 'reaction':
        if (frame.code === 200) this.emit('reaction', reactionOf(frame));
        return;
      case 'typing': {
        if (frame.code !== 200) return;
        const data = parseData(frame) ?? {};
        const group = data.group_id ?? frame.group_id;
        const conversation: Conversation = group !== undefined ? { group: String(group) } : { user: String(data.app_user_id) };
        this.emit('typing', { ...data, conversation, user_id: frame.user_id ?? 0, time: frame.time ?? Date.now() } as TypingEvent);
        return;
      }
      case 'error':
        if (frame.code === 401) {
          // "token expired" / "user disabled": the server closes with 4401 next
          if (/expired/i.test(frame.msg)) this.needToken = true;
        }
        return;
      default:
        this.emit('push', { ...frame, data: parseData(frame) ?? frame.data });
    }
  }

  /** `recall` / `edit` events from system messages 20 / 21 (msg_id is global: it finds the message). */
  private emitLifecycle(message: SystemMessage): void {
    if (message.type === 20) this.emit('recall', { ...message.extra } as RecallEvent);
    else this.emit('edit', { ...message.extra } as EditEvent);
  }

  private onSyncFrame(socket: SocketLike, frame: Envelope, data: any): void {
    const sync = toSyncData(data?.extra);
    if (typeof frame.user_id === 'number') this.userId = frame.user_id;
    if (typeof data?.to_app_user_id === 'string') this.appUserId = data.to_app_user_id;
    this.lastSync = sync;
    if (this.ready) {
      this.emit('sync', sync);
      return;
    }
    const reconnected = this.everConnected;
    clearTimeout(this.connectTimer);
    this.ready = true;
    this.everConnected = true;
    this.attempt = 0;
    this.startPing(socket);
    this.setState('open');
    this.emit('sync', sync);
    // requests that waited for a connection, in the order they were made
    for (const pending of [...this.pending.values()]) if (pending.sentOn === null && pending.retryTimer === undefined) this.write(pending);
    if (reconnected) this.catchUp(sync);
    else {
      // what the first sync lists existed before this client connected: history, not news
      for (const item of [...sync.friendList, ...sync.groupList]) if (item.last_msg_id > this.maxMsgId) this.maxMsgId = item.last_msg_id;
    }
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
  }

  // ----- requests -----

  /**
   * Sends any request of PROTOCOL §3–6 and resolves with its reply envelope (data still a string).
   * `lost`: what to do when the connection drops before the reply: 'resend' (idempotent requests,
   * the default) or 'reject' (code 0: the outcome is unknown).
   */
  request(action: string, fields: Record<string, unknown> = {}, lost: LostPolicy = 'resend'): Promise<Envelope> {
    return this.enqueue(action, fields, lost, false);
  }

  private enqueue(action: string, fields: Record<string, unknown>, lost: LostPolicy, isSend: boolean): Promise<Envelope> {
    if (!this.wanted && !this.ready) return Promise.reject(new ImError(0, 'not connected: call connect() first', action));
    const nonce = typeof fields.nonce === 'string' ? fields.nonce : makeNonce();
    return new Promise<Envelope>((resolve, reject) => {
      const pending: Pending = {
        nonce,
        frame: { action, ...fields, nonce },
        replyAction: REPLY_ACTIONS[action] ?? action,
        lost,
        isSend,
        sentOn: null,
        serverErrors: 0,
        rateLimited: 0,
        resolve,
        reject,
      };
      this.pending.set(nonce, pending);
      if (!isSend) {
        pending.deadline = setTimeout(() => {
          this.settle(pending);
          reject(new ImError(0, `no reply within ${this.requestTimeoutMs} ms`, action));
        }, this.requestTimeoutMs);
      }
      if (this.ready) this.write(pending);
    });
  }

  private write(pending: Pending): void {
    const socket = this.socket;
    if (!socket || !this.ready || socket.readyState !== OPEN) return;
    try {
      socket.send(JSON.stringify(pending.frame));
    } catch {
      return; // the close event follows
    }
    pending.sentOn = socket;
    clearTimeout(pending.replyTimer);
    pending.replyTimer = setTimeout(() => {
      // no reply on an open connection: deem it dead; the reconnect resends or rejects
      if (this.socket === socket && pending.sentOn === socket) this.dropSocket('no reply');
    }, this.requestTimeoutMs);
  }

  private settle(pending: Pending): void {
    clearTimeout(pending.replyTimer);
    clearTimeout(pending.deadline);
    clearTimeout(pending.retryTimer);
    this.pending.delete(pending.nonce);
  }

  private onReply(pending: Pending, frame: Envelope): void {
    clearTimeout(pending.replyTimer);
    pending.sentOn = null;
    const action = String(pending.frame.action);
    if (frame.code === 200 || (frame.code === 831 && pending.isSend)) {
      this.settle(pending);
      pending.resolve(frame);
      return;
    }
    if (frame.code === 0 && pending.serverErrors < this.maxServerErrorRetries) {
      pending.serverErrors++;
      this.retryLater(pending, 200 * pending.serverErrors);
      return;
    }
    if (frame.code === 429 && pending.rateLimited < this.maxRateLimitRetries) {
      pending.rateLimited++;
      this.retryLater(pending, 250 * 2 ** (pending.rateLimited - 1) * (0.5 + Math.random()));
      return;
    }
    if (frame.code === 401 && pending.isSend && this.options.getToken) {
      // raced the token's expiry: nothing was done; resent once reconnected with a fresh token
      this.needToken = true;
      return;
    }
    this.settle(pending);
    pending.reject(new ImError(frame.code, frame.msg ?? 'error', action));
  }

  private retryLater(pending: Pending, delayMs: number): void {
    clearTimeout(pending.retryTimer);
    pending.retryTimer = setTimeout(() => {
      pending.retryTimer = undefined;
      if (this.pending.get(pending.nonce) === pending) this.write(pending);
    }, delayMs);
  }

  /** The connection `socket` is gone: decide, per request written on it, to resend later or reject. */
  private connectionLost(socket: SocketLike): void {
    for (const pending of [...this.pending.values()]) {
      if (pending.sentOn !== socket) continue;
      clearTimeout(pending.replyTimer);
      pending.sentOn = null;
      if (pending.lost === 'reject') {
        this.settle(pending);
        pending.reject(new ImError(0, 'connection lost before the reply; the outcome is unknown', String(pending.frame.action)));
      }
    }
  }

  private failAll(error: ImError): void {
    for (const pending of [...this.pending.values()]) {
      this.settle(pending);
      pending.reject(new ImError(error.code, error.msg, String(pending.frame.action)));
    }
  }

  // ----- messages -----

  private target(conversation: Conversation): Record<string, unknown> {
    if (conversation && 'group' in conversation && typeof conversation.group === 'string') return { group_id: conversation.group };
    if (conversation && 'user' in conversation && typeof conversation.user === 'string') return { app_user_ids: conversation.user };
    throw new ImError(400, 'conversation must be {user: app_user_id} or {group: group_id}', 'send');
  }

  /** Sends a message of any client type (1–8). Never duplicated, never silently lost (see README). */
  async send(conversation: Conversation, message: OutgoingMessage): Promise<SendResult> {
    const isGroup = 'group' in conversation;
    const action = isGroup ? 'groupChat' : 'chat';
    const fields: Record<string, unknown> = { ...this.target(conversation), type: message.type };
    if (message.content !== undefined) fields.content = message.content;
    if (message.extra !== undefined) fields.extra = message.extra;
    if (message.replyTo !== undefined || message.mentions !== undefined || message.mentionAll !== undefined) {
      const extra: Record<string, unknown> = { ...(message.extra ?? {}) };
      if (message.replyTo !== undefined) extra.reply_to = message.replyTo;
      if (message.mentions !== undefined) extra.mentions = message.mentions;
      if (message.mentionAll !== undefined) extra.mention_all = message.mentionAll;
      fields.extra = extra;
    }
    const reply = await this.enqueue(action, fields, 'resend', true);
    const chat = this.messageFromPush(reply);
    this.ingest(chat);
    return { msg_id: chat.msg_id, seq: chat.seq, time: chat.time, message: chat, duplicate: reply.code === 831 };
  }

  sendText(conversation: Conversation, text: string, extra?: Record<string, unknown>): Promise<SendResult> {
    return this.send(conversation, { type: 1, content: text, extra });
  }
  /** A voice message: with a VoiceExtra, or a file to upload first (media.ts) and the duration. */
  sendVoice(conversation: Conversation, extra: VoiceExtra, content?: string): Promise<SendResult>;
  sendVoice(conversation: Conversation, file: MediaInput, options: VoiceUploadOptions): Promise<SendResult>;
  async sendVoice(conversation: Conversation, what: VoiceExtra | MediaInput, more?: string | VoiceUploadOptions): Promise<SendResult> {
    if (!isMediaInput(what)) return this.send(conversation, { type: 2, content: more as string | undefined, extra: what });
    const options = more as VoiceUploadOptions;
    const media = await this.uploadMedia(what, options);
    return this.send(conversation, { type: 2, content: options.content, extra: { ...options.extra, voice_url: media.url, duration: options.duration } });
  }
  /** An image message: with an ImageExtra, or a file to upload first (width/height read from PNG/GIF/JPEG/WebP headers when not given). */
  sendImage(conversation: Conversation, extra: ImageExtra, content?: string): Promise<SendResult>;
  sendImage(conversation: Conversation, file: MediaInput, options?: ImageUploadOptions): Promise<SendResult>;
  async sendImage(conversation: Conversation, what: ImageExtra | MediaInput, more?: string | ImageUploadOptions): Promise<SendResult> {
    if (!isMediaInput(what)) return this.send(conversation, { type: 3, content: more as string | undefined, extra: what });
    const options = (more ?? {}) as ImageUploadOptions;
    const head = await headOf(what);
    let { width, height } = options;
    if (width === undefined || height === undefined) {
      const size = head && imageSize(head);
      if (!size) throw new ImError(400, 'sendImage: give width and height (they could not be read from the file)', 'send');
      ({ width, height } = size);
    }
    const sniffed = head && !(typeof Blob !== 'undefined' && what instanceof Blob && what.type) ? imageTypeOf(head) : undefined;
    const media = await this.uploadMedia(what, { ...options, contentType: options.contentType ?? sniffed });
    return this.send(conversation, { type: 3, content: options.content, extra: { ...options.extra, url: media.url, width, height, is_original: options.isOriginal ?? 1 } });
  }
  sendLocation(conversation: Conversation, extra: LocationExtra, content?: string): Promise<SendResult> {
    return this.send(conversation, { type: 4, content, extra });
  }
  sendRedPacket(conversation: Conversation, extra: RedPacketExtra, content?: string): Promise<SendResult> {
    return this.send(conversation, { type: 5, content, extra });
  }
  sendCard(conversation: Conversation, extra: CardExtra, content?: string): Promise<SendResult> {
    return this.send(conversation, { type: 6, content, extra });
  }
  /** A video message: with a VideoExtra, or a file to upload first with its size, length and cover (a file, uploaded too, or a URL). */
  sendVideo(conversation: Conversation, extra: VideoExtra, content?: string): Promise<SendResult>;
  sendVideo(conversation: Conversation, file: MediaInput, options: VideoUploadOptions): Promise<SendResult>;
  async sendVideo(conversation: Conversation, what: VideoExtra | MediaInput, more?: string | VideoUploadOptions): Promise<SendResult> {
    if (!isMediaInput(what)) return this.send(conversation, { type: 7, content: more as string | undefined, extra: what });
    const options = more as VideoUploadOptions;
    const coverUrl = typeof options.cover === 'string' ? options.cover : (await this.uploadMedia(options.cover, { contentType: options.coverContentType })).url;
    const media = await this.uploadMedia(what, options);
    const extra = { ...options.extra, video_url: media.url, cover_url: coverUrl, videoTotalTime: options.videoTotalTime, width: options.width, height: options.height };
    return this.send(conversation, { type: 7, content: options.content, extra });
  }
  /**
   * A file message: with a FileExtra, or a file to upload first. The upload's key is the message's
   * `etag`, so the server's default download_url (`{MEDIA_BASE_URL}/{key}?attname=…`) serves it.
   */
  sendFile(conversation: Conversation, extra: FileExtra, content?: string): Promise<SendResult>;
  sendFile(conversation: Conversation, file: MediaInput, options?: FileUploadOptions): Promise<SendResult>;
  async sendFile(conversation: Conversation, what: FileExtra | MediaInput, more?: string | FileUploadOptions): Promise<SendResult> {
    if (!isMediaInput(what)) return this.send(conversation, { type: 8, content: more as string | undefined, extra: what });
    const options = (more ?? {}) as FileUploadOptions;
    const media = await this.uploadMedia(what, options);
    const extra = { ...options.extra, file_name: media.fileName ?? 'file', file_size: media.size, etag: media.key };
    return this.send(conversation, { type: 8, content: options.content, extra });
  }

  /**
   * Uploads a file (PROTOCOL §10) with this client's token: a browser File/Blob, bytes (a Node buffer,
   * Uint8Array, ArrayBuffer) or a stream (with options.size). Resolves with `url` (to put into a
   * message) and the key; rejects with MediaUploadError (status 401, 403, 413, 415…).
   */
  uploadMedia(file: MediaInput, options?: UploadOptions): Promise<UploadedMedia> {
    const getToken = this.options.getToken;
    return uploadMedia(
      {
        httpUrl: (this.options.httpUrl ?? httpOriginOf(this.options.url)).replace(/\/+$/, ''),
        token: async () => {
          if (this.token === null && getToken) this.token = await getToken();
          return this.token as string;
        },
        refreshToken: getToken ? async () => (this.token = await getToken()) : undefined,
        fetch: this.options.fetch,
      },
      file,
      options,
    );
  }

  /**
   * Recalls a message for everyone: your own within the server's recall window, any message of a group
   * you own or administer. Idempotent (a repeat answers the same); every participant gets a `recall` event.
   */
  async recall(conversation: Conversation, msgId: number): Promise<RecallResult> {
    return parseData(await this.request('recall', { ...this.target(conversation), msg_id: msgId })) as RecallResult;
  }

  /**
   * Edits your own text message within the server's edit window. `extra` replaces the old one (mentions
   * and reply_to checked again); left out, the old extra stays. Not resent after a lost connection
   * (a repeat would add a version): the promise rejects with code 0 and the outcome is unknown.
   */
  async edit(conversation: Conversation, msgId: number, content: string, extra?: Record<string, unknown>): Promise<EditResult> {
    const fields: Record<string, unknown> = { ...this.target(conversation), msg_id: msgId, content };
    if (extra !== undefined) fields.extra = extra;
    return parseData(await this.request('edit', fields, 'reject')) as EditResult;
  }

  /** Every version of a text, oldest first: the original, each edit, the current one last. */
  async editHistory(conversation: Conversation, msgId: number): Promise<EditVersion[]> {
    const data = parseData(await this.request('editHistory', { ...this.target(conversation), msg_id: msgId }));
    return Array.isArray(data?.versions) ? data.versions : [];
  }

  /** Read receipt: 1 delivered, 2 read (moves this user's read position, clears unread). */
  async ack(conversation: Conversation, msgId: number, status: 1 | 2): Promise<void> {
    await this.request('ack', { ...this.target(conversation), msg_id: msgId, status });
  }

  /**
   * Searches the text messages and file names this user may read (PROTOCOL §12): every word of `query`
   * must occur; CJK text matches as a substring. Newest first; does not emit `message` events.
   */
  async search(query: string, options: SearchOptions = {}): Promise<SearchPage> {
    const fields: Record<string, unknown> = { query };
    if (options.conversation) Object.assign(fields, this.target(options.conversation));
    if (options.limit !== undefined) fields.limit = options.limit;
    if (options.before_msg_id !== undefined) fields.before_msg_id = options.before_msg_id;
    const data = parseData(await this.request('search', fields)) ?? {};
    const messages = Array.isArray(data.messages) ? data.messages.map((item: any) => this.messageFromHistory(item)) : [];
    return { messages, has_more: Boolean(data.has_more) };
  }

  /** One page of a conversation's history (does not emit `message` events). */
  async history(conversation: Conversation, options: HistoryOptions = {}): Promise<HistoryPage> {
    const reply = await this.request('history', { ...this.target(conversation), ...options });
    const data = parseData(reply) ?? {};
    const messages = Array.isArray(data.messages) ? data.messages.map((item: any) => this.messageFromHistory(item)) : [];
    return { messages, has_more: Boolean(data.has_more) };
  }

  private selfIs(appUserId: unknown, userId: unknown): boolean {
    if (this.appUserId !== null) return appUserId === this.appUserId;
    return this.userId !== null && userId === this.userId;
  }

  private finish(raw: Record<string, any>): ChatMessage {
    const mine = this.selfIs(raw.app_user_id, raw.user_id);
    const conversation: Conversation =
      raw.group_id !== undefined && raw.group_id !== null
        ? { group: String(raw.group_id) }
        : { user: mine ? String(raw.to_app_user_id) : String(raw.app_user_id) };
    return { ...raw, extra: raw.extra ?? {}, content: raw.content ?? '', conversation, mine } as ChatMessage;
  }

  private messageFromPush(frame: Envelope): ChatMessage {
    const data = parseData(frame) ?? {};
    const raw: Record<string, any> = { ...data, msg_id: frame.msg_id, time: frame.time, user_id: frame.user_id };
    if (raw.group_id === undefined && frame.group_id !== undefined) raw.group_id = frame.group_id;
    return this.finish(raw);
  }

  private messageFromHistory(item: Record<string, any>): ChatMessage {
    return this.finish({ ...item });
  }

  /**
   * Per-conversation ordering: every chat message (push, own send, gap fill) passes here and is
   * emitted once, in seq order. A hole in the seqs triggers a `history` fill from the last emitted seq.
   */
  private ingest(message: ChatMessage, fromFill = false): void {
    if (typeof message.seq !== 'number' || typeof message.msg_id !== 'number') return;
    if (message.msg_id > this.maxMsgId) this.maxMsgId = message.msg_id;
    const conv = this.convOf(message.conversation);
    if (conv.lastSeq === null) {
      if (conv.filling) {
        conv.buffer.set(message.seq, message);
        return;
      }
      // first message seen in this conversation: tracking starts here
      conv.lastSeq = message.seq - 1;
    }
    if (message.seq <= conv.lastSeq || conv.buffer.has(message.seq)) return;
    conv.buffer.set(message.seq, message);
    this.drain(conv);
    if (conv.buffer.size > 0 && !fromFill) this.fill(conv);
  }

  private convOf(conversation: Conversation): ConvState {
    const key = conversationKey(conversation);
    let conv = this.convs.get(key);
    if (!conv) {
      conv = { key, conversation, lastSeq: null, buffer: new Map(), filling: false, refill: false };
      this.convs.set(key, conv);
    }
    return conv;
  }

  private drain(conv: ConvState): void {
    if (conv.lastSeq === null) return;
    for (;;) {
      const next = conv.buffer.get(conv.lastSeq + 1);
      if (!next) return;
      conv.buffer.delete(next.seq);
      conv.lastSeq = next.seq;
      this.emit('message', next);
    }
  }

  /** Fetches what follows the last emitted seq until the conversation has no hole (or the server has no more). */
  private fill(conv: ConvState): void {
    if (conv.filling) {
      conv.refill = true;
      return;
    }
    conv.filling = true;
    conv.refill = false;
    void (async () => {
      try {
        for (let pass = 0; pass < 5; pass++) {
          // messages already waiting when this pass asks: the server has stored everything below them
          const waiting = new Set(conv.buffer.keys());
          for (let pages = 0; pages < 1000; pages++) {
            const page = await this.history(conv.conversation, { after_seq: conv.lastSeq ?? 0, limit: HISTORY_PAGE });
            for (const message of page.messages) this.ingest(message, true);
            if (!page.has_more) break;
          }
          if (conv.buffer.size === 0) break;
          if ([...conv.buffer.keys()].every((seq) => waiting.has(seq)) && conv.lastSeq !== null) {
            // seqs this user may not read (e.g. before joining, cleared): skip the hole, do not wait forever
            conv.lastSeq = Math.min(...conv.buffer.keys()) - 1;
            this.drain(conv);
          }
        }
      } catch {
        // connection lost or server error: the next reconnect fills again
      } finally {
        conv.filling = false;
        if (conv.refill && conv.buffer.size > 0 && this.ready) this.fill(conv);
      }
    })();
  }

  /**
   * After a reconnect: fill every tracked conversation from its last seen seq, and pick up
   * conversations this client has not seen yet when the sync frame lists them with messages newer
   * than anything seen before the disconnect.
   */
  private catchUp(sync: SyncData): void {
    for (const conv of this.convs.values()) if (conv.lastSeq !== null) this.fill(conv);
    const watermark = this.maxMsgId;
    const fresh: Conversation[] = [];
    for (const item of sync.friendList) if (item.last_msg_id > watermark) fresh.push({ user: item.app_user_id });
    for (const item of sync.groupList) if (item.last_msg_id > watermark) fresh.push({ group: item.group_id });
    for (const conversation of fresh) {
      const conv = this.convOf(conversation);
      if (conv.lastSeq !== null || conv.filling) continue;
      conv.filling = true;
      void (async () => {
        const found: ChatMessage[] = [];
        try {
          let before: number | undefined;
          for (let pages = 0; pages < 1000; pages++) {
            const page = await this.history(conversation, before === undefined ? { limit: HISTORY_PAGE } : { before_seq: before, limit: HISTORY_PAGE });
            let reached = false;
            for (const message of page.messages) {
              if (message.msg_id > watermark) found.push(message);
              else reached = true;
            }
            if (reached || !page.has_more || page.messages.length === 0) break;
            before = page.messages[page.messages.length - 1].seq;
          }
        } catch {
          // keep what was found
        }
        found.sort((a, b) => a.seq - b.seq);
        const firstSeq = Math.min(found[0]?.seq ?? Infinity, ...conv.buffer.keys());
        conv.filling = false;
        if (firstSeq !== Infinity) {
          conv.lastSeq = firstSeq - 1;
          for (const message of found) if (message.seq > conv.lastSeq && !conv.buffer.has(message.seq)) conv.buffer.set(message.seq, message);
          this.drain(conv);
          if (conv.buffer.size > 0) this.fill(conv);
        }
      })();
    }
  }

  /** The highest seq emitted for a conversation, or null when none was seen yet. */
  lastSeq(conversation: Conversation): number | null {
    return this.convs.get(conversationKey(conversation))?.lastSeq ?? null;
  }

  // ----- groups -----

  private async groupAction(action: string, extra: Record<string, unknown>, lost: LostPolicy): Promise<any> {
    const reply = await this.request(action, { extra }, lost);
    return parseData(reply);
  }

  createGroup(params: { group_name: string; cover?: string; notice?: string; app_user_ids: string[] }): Promise<GroupInfo> {
    return this.groupAction('createGroup', { ...params }, 'reject');
  }
  editGroup(groupId: string, changes: GroupChanges): Promise<GroupInfo> {
    return this.groupAction('editGroup', { ...changes, group_id: groupId }, changes.reset_invite_code ? 'reject' : 'resend');
  }
  inviteToGroup(groupId: string, appUserIds: string[]): Promise<GroupInfo> {
    return this.groupAction('inviteToGroup', { group_id: groupId, app_user_ids: appUserIds }, 'reject');
  }
  joinGroup(groupId: string, inviteCode: string): Promise<GroupInfo> {
    return this.groupAction('joinGroup', { group_id: groupId, invite_code: inviteCode }, 'reject');
  }
  removeFromGroup(groupId: string, appUserIds: string[]): Promise<GroupInfo> {
    return this.groupAction('removeFromGroup', { group_id: groupId, app_user_ids: appUserIds }, 'reject');
  }
  async leaveGroup(groupId: string): Promise<void> {
    await this.groupAction('leaveGroup', { group_id: groupId }, 'reject');
  }
  async dissolveGroup(groupId: string): Promise<void> {
    await this.groupAction('dissolveGroup', { group_id: groupId }, 'reject');
  }
  groupInfo(groupId: string): Promise<GroupInfo> {
    return this.groupAction('groupInfo', { group_id: groupId }, 'resend');
  }
  /** Owner only: make a member an admin (at most 20) or a plain member again; members get system message 18. */
  setGroupRole(groupId: string, appUserId: string, role: 'admin' | 'member'): Promise<GroupInfo> {
    return this.groupAction('setGroupRole', { group_id: groupId, app_user_id: appUserId, role }, 'resend');
  }
  /** The message's sender, the owner and admins: who of the members has read a group message (`limit` 1–500, default 100). */
  readBy(groupId: string, msgId: number, limit?: number): Promise<ReadBy> {
    return this.groupAction('readBy', { group_id: groupId, msg_id: msgId, ...(limit === undefined ? {} : { limit }) }, 'resend');
  }
  /** Owner and admins: mute a member for `minutes` (0 lifts the mute, at most 43200); members get system message 22. */
  muteMember(groupId: string, appUserId: string, minutes: number): Promise<GroupInfo> {
    return this.groupAction('muteMember', { group_id: groupId, app_user_id: appUserId, minutes }, 'resend');
  }

  // ----- the rest -----

  /** Which of these users have at least one open connection. */
  async presence(appUserIds: string[]): Promise<Record<string, boolean>> {
    const reply = await this.request('presence', { app_user_ids: appUserIds });
    return (parseData(reply)?.online ?? {}) as Record<string, boolean>;
  }

  /**
   * The full conversation list (every conversation with a message, count 0 included): pinned ones first
   * on the first page, then newest first; pass the last item's `time` as `before_time` for older ones.
   */
  async conversations(options: { limit?: number; before_time?: number } = {}): Promise<ConversationPage> {
    const reply = await this.request('conversations', { ...options });
    const data = parseData(reply) ?? {};
    return { conversations: Array.isArray(data.conversations) ? data.conversations : [], has_more: Boolean(data.has_more) };
  }

  /** Mutes and/or pins a conversation for this user (either may be left out); your other connections get system message 24. */
  async setConversation(conversation: Conversation, settings: { muted?: boolean; pinned?: boolean }): Promise<ConversationSettings> {
    const reply = await this.request('setConversation', { ...this.target(conversation), ...settings });
    return parseData(reply) as ConversationSettings;
  }

  /**
   * Adds (default) or removes your reaction on a message; idempotent per (you, message, emoji). Resolves
   * with the emoji's count after the change. 400 beyond 20 distinct emoji, 404 for a recalled message.
   */
  async react(conversation: Conversation, msgId: number, emoji: string, op: 'add' | 'remove' = 'add'): Promise<ReactionEvent> {
    const reply = await this.request('react', { ...this.target(conversation), msg_id: msgId, emoji, op });
    return reactionOf(reply);
  }

  /** Tells the other participants you are typing (call it as often as you like: the server throttles the pushes). */
  async typing(conversation: Conversation): Promise<void> {
    await this.request('typing', { ...this.target(conversation) }, 'reject');
  }

  /**
   * Hides every message so far from your history, on all your devices, and marks them read; others keep
   * theirs. Resolves with the seq up to which messages are hidden. Your other devices get `historyCleared`.
   */
  async clearHistory(conversation: Conversation): Promise<number> {
    const reply = await this.request('clearHistory', { ...this.target(conversation) });
    return Number(parseData(reply)?.seq ?? 0);
  }

  /** Asks for the unread lists again (also emitted as a `sync` event). */
  async sync(): Promise<SyncData> {
    const reply = await this.request('sync');
    const sync = toSyncData(parseData(reply)?.extra);
    this.lastSync = sync;
    this.emit('sync', sync);
    return sync;
  }

  async block(appUserId: string): Promise<void> {
    await this.request('block', { app_user_ids: appUserId });
  }
  async unblock(appUserId: string): Promise<void> {
    await this.request('unblock', { app_user_ids: appUserId });
  }
  /** Round trip to the server; resolves with the server's time (ms). */
  async ping(): Promise<number> {
    const reply = await this.request('ping');
    return reply.time ?? Date.now();
  }
}

function reactionOf(frame: Envelope): ReactionEvent {
  const data = parseData(frame) ?? {};
  const event: ReactionEvent = { ...data, user_id: frame.user_id ?? 0, time: frame.time ?? Date.now() };
  if (frame.group_id !== undefined) event.group_id = frame.group_id;
  return event;
}

function toSyncData(extra: any): SyncData {
  return {
    friendList: Array.isArray(extra?.friendList) ? extra.friendList : [],
    groupList: Array.isArray(extra?.groupList) ? extra.groupList : [],
  };
}
export { ImCode, moderationReason } from './codes';
export type { ImCodeValue } from './codes';
